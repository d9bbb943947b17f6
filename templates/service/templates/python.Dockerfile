{% set hc = cookiecutter._hc -%}
# Build stage: the full Python toolchain; nothing from it reaches the runtime image
# except the installed dependencies and the compiled application.
FROM {{ hc.build_image }} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY requirements.txt ./
# pip's cache lives in a BuildKit cache mount, never in a layer. A corporate CA bundle, if the
# build passes one (--secret id=ca_bundle,src=...), is used for this step only and never stored.
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && python3 -m pip install --target /opt/app/deps --only-binary=:all: -r requirements.txt
COPY app/ /opt/app/app/
# Bytecode is compiled here because the runtime root filesystem is read-only.
RUN python3 -m compileall -q /opt/app

# Runtime stage: {{ hc.flavour }} base, no build tools{% if hc.flavour == "distroless" %}, no shell, no package manager{% endif %}.
FROM {{ hc.runtime_image }} AS runtime
LABEL org.opencontainers.image.title="{{ cookiecutter.name }}" \
      org.opencontainers.image.description="{{ cookiecutter.description | replace('\\', '\\\\') | replace('"', '\\"') | replace('$', '\\$') }}" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="{{ hc.runtime_image_ref }}"
ENV PYTHONPATH=/opt/app/deps:/opt/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
{%- if hc.flavour == "slim" %}
# A dedicated, numeric, unprivileged account; it owns nothing in the image.
RUN groupadd --system --gid {{ hc.uid }} app \
    && useradd --system --uid {{ hc.uid }} --gid {{ hc.uid }} --no-create-home --shell /usr/sbin/nologin app
{%- endif %}
# Application files, and /opt/app itself, are owned by root: the runtime user can read them but
# not change them. COPY creates /opt/app (WORKDIR would create it as the base image's user).
COPY --from=build --chown=0:0 /opt/app /opt/app
WORKDIR /opt/app
USER {{ hc.uid }}:{{ hc.uid }}
{%- for port in hc.ports %}
EXPOSE {{ port }}
{%- endfor %}
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD {{ hc.healthcheck_json }}
ENTRYPOINT {{ hc.entrypoint_json }}
