
# --- hardcase stand-in for python:3.11-slim (scripts/standins/python-3.11-slim-bookworm) ---
# Debian installs into its "posix_local" scheme ({base}/local/lib/python3.11/dist-packages) even for
# `pip install --prefix DIR`. The official image (upstream CPython under /usr/local) puts such
# installs in DIR/lib/python3.11/site-packages and DIR/bin, and Dockerfiles rely on that
# (`pip install --prefix=/install ...` then `COPY --from=build /install /usr/local`). Use the
# upstream scheme whenever an explicit base other than the interpreter's own prefix is asked for.
_hardcase_debian_get_paths = get_paths


def get_paths(scheme=get_default_scheme(), vars=None, expand=True):
    if scheme == 'posix_local' and vars and vars.get('base') not in (None, sys.prefix, sys.base_prefix):
        scheme = 'posix_prefix'
    return _hardcase_debian_get_paths(scheme, vars, expand)
