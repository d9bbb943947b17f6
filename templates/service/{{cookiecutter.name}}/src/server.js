{% set hc = cookiecutter._hc -%}
{% if hc.with_app and hc.language == "node" -%}
'use strict';
// HTTP entry point with a /healthz endpoint used by the image's health check.
const fs = require('node:fs');
const express = require('express');

// Secrets arrive as files (NAME_FILE points at /run/secrets/NAME), never as plain variables.
const SECRET_FILE_VARIABLES = {{ hc.secret_env_names | tojson }};
const secrets = Object.fromEntries(
  SECRET_FILE_VARIABLES.map((name) => [name, fs.readFileSync(process.env[name], 'utf8').trim()]),
);

const app = express();
app.disable('x-powered-by');

app.get('/', (req, res) => {
  res.json({ service: {{ cookiecutter.name | tojson }} });
});

app.get('/healthz', (req, res) => {
  res.json({ status: 'ok', secrets_loaded: String(Object.keys(secrets).length) });
});

const port = Number(process.env.PORT || {{ hc.port }});
const server = app.listen(port, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
{% endif -%}
