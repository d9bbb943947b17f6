{% set hc = cookiecutter._hc -%}
{% if hc.with_app and hc.language == "python" -%}
"""HTTP entry point with a /healthz endpoint used by the image's health check."""

import os
from pathlib import Path


def _read_secret(env_name: str) -> str:
    # Secrets arrive as files (NAME_FILE points at /run/secrets/NAME), never as plain variables.
    return Path(os.environ[env_name]).read_text(encoding="utf-8").strip()


SECRET_FILE_VARIABLES = {{ hc.secret_env_names | tojson }}
secrets = {name: _read_secret(name) for name in SECRET_FILE_VARIABLES}

{% if hc.framework == "fastapi" -%}
from fastapi import FastAPI  # noqa: E402

app = FastAPI()


@app.get("/")
def index() -> dict[str, str]:
    return {"service": {{ cookiecutter.name | tojson }}}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "secrets_loaded": str(len(secrets))}
{%- else -%}
from flask import Flask  # noqa: E402

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, str]:
    return {"service": {{ cookiecutter.name | tojson }}}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok", "secrets_loaded": str(len(secrets))}
{%- endif %}
{% endif -%}
