{% set hc = cookiecutter._hc -%}
# Build stage: the Go toolchain; the result is a static binary with no libc dependency.
FROM {{ hc.build_image }} AS build
ENV CGO_ENABLED=0 \
    GOFLAGS=-trimpath \
    GOTOOLCHAIN=local
WORKDIR /src
COPY go.* ./
# Module and build caches live in BuildKit cache mounts, never in a layer. A corporate CA bundle,
# if the build passes one (--secret id=ca_bundle,src=...), is used for this step only.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=secret,id=ca_bundle,required=false \
    if [ -s /run/secrets/ca_bundle ]; then export SSL_CERT_FILE=/run/secrets/ca_bundle; fi \
    && go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/app/server . \
    && go build -ldflags="-s -w" -o /out/app/healthcheck ./healthcheck

# Runtime stage: {{ hc.flavour }} base{% if hc.flavour != "slim" %}: no shell, no libc, no package manager{% endif %}.
FROM {{ hc.runtime_image }} AS runtime
LABEL org.opencontainers.image.title="{{ cookiecutter.name }}" \
      org.opencontainers.image.description="{{ cookiecutter.description | replace('\\', '\\\\') | replace('"', '\\"') | replace('$', '\\$') }}" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="{{ hc.runtime_image_ref }}"
{%- if hc.flavour == "slim" %}
# A dedicated, numeric, unprivileged account; it owns nothing in the image.
RUN groupadd --system --gid {{ hc.uid }} app \
    && useradd --system --uid {{ hc.uid }} --gid {{ hc.uid }} --no-create-home --shell /usr/sbin/nologin app
{%- endif %}
# The binaries, and /app itself, are owned by root: the runtime user can run them but not change
# them. COPY creates /app (WORKDIR would create it as the base image's user).
COPY --from=build --chown=0:0 /out/app /app
WORKDIR /app
USER {{ hc.uid }}:{{ hc.uid }}
{%- for port in hc.ports %}
EXPOSE {{ port }}
{%- endfor %}
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD {{ hc.healthcheck_json }}
ENTRYPOINT {{ hc.entrypoint_json }}
