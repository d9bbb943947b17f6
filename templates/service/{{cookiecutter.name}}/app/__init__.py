{% if cookiecutter._hc.with_app and cookiecutter._hc.language == "python" -%}
"""{{ cookiecutter.name }} service."""
{% endif -%}
