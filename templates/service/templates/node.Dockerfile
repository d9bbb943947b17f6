{% set hc = cookiecutter._hc -%}
# Build stage: the full Node.js image with npm; only production dependencies are kept.
FROM {{ hc.build_image }} AS build
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false
WORKDIR /src
COPY package.json package-lock.json ./
# npm's cache lives in a BuildKit cache mount, never in a layer; install scripts do not run.
# A corporate CA bundle, if the build passes one (--secret id=ca_bundle,src=...), is used for
# this step only and never stored.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi \
    && npm ci --omit=dev --ignore-scripts --no-audit
COPY src/ ./src/

# Runtime stage: {{ hc.flavour }} base, no npm{% if hc.flavour == "distroless" %}, no shell, no package manager{% endif %}.
FROM {{ hc.runtime_image }} AS runtime
LABEL org.opencontainers.image.title="{{ cookiecutter.name }}" \
      org.opencontainers.image.description="{{ cookiecutter.description | replace('\\', '\\\\') | replace('"', '\\"') | replace('$', '\\$') }}" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="{{ hc.runtime_image_ref }}"
ENV NODE_ENV=production
{%- if hc.flavour == "slim" %}
# A dedicated, numeric, unprivileged account; it owns nothing in the image.
RUN groupadd --system --gid {{ hc.uid }} app \
    && useradd --system --uid {{ hc.uid }} --gid {{ hc.uid }} --no-create-home --shell /usr/sbin/nologin app
{%- endif %}
# Application files, and /opt/app itself, are owned by root: the runtime user can read them but
# not change them. COPY creates /opt/app (WORKDIR would create it as the base image's user).
COPY --from=build --chown=0:0 /src /opt/app
WORKDIR /opt/app
USER {{ hc.uid }}:{{ hc.uid }}
{%- for port in hc.ports %}
EXPOSE {{ port }}
{%- endfor %}
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD {{ hc.healthcheck_json }}
ENTRYPOINT {{ hc.entrypoint_json }}
