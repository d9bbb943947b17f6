#!/bin/sh
# Behaves like the official node images' entrypoint: when the first argument is an option
# (starts with "-"), is not a command on PATH, or is a non-executable file, run it with node.
set -e
case "${1:-}" in
    -*) set -- node "$@" ;;
    *)
        if [ -z "$(command -v "${1:-}")" ] || { [ -f "${1:-}" ] && ! [ -x "${1:-}" ]; }; then
            set -- node "$@"
        fi
        ;;
esac
exec "$@"
