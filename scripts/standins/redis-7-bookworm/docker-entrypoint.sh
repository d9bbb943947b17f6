#!/bin/sh
# Behaves like the official redis image's entrypoint: an option or a *.conf first argument runs
# redis-server with it; redis-server started as root hands the files in the working directory
# (/data) to redis and runs as redis (999), through setpriv from util-linux where upstream uses
# gosu; started as any other user it runs directly. umask 0077 unless one was set.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ "$(umask)" = 0022 ]; then
    umask 0077
fi
exec "$@"
