{% set hc = cookiecutter._hc -%}
{% if hc.with_app and hc.language == "go" -%}
module {{ cookiecutter.name }}

go {{ hc.runtime_version }}
{% endif -%}
