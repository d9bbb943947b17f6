{% if cookiecutter._hc.apparmor %}{{ cookiecutter._hc.apparmor_profile }}{% endif %}
