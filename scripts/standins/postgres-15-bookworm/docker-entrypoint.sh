#!/usr/bin/env bash
# Behaves like the official postgres image's entrypoint for what compose files rely on:
#  - the first argument an option -> run postgres with it;
#  - started as root: create PGDATA and /var/run/postgresql, hand them to postgres (999) and run
#    this script again as 999 (setpriv from util-linux, where upstream uses gosu);
#  - started as any other user: run directly (PGDATA must be writable by that user);
#  - empty PGDATA: initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD, allow
#    password logins from anywhere (POSTGRES_HOST_AUTH_METHOD, default scram-sha-256), create
#    POSTGRES_DB (default POSTGRES_USER), run /docker-entrypoint-initdb.d/*.sh and *.sql against a
#    socket-only temporary server, stop it;
#  - every POSTGRES_* variable above can come from a file instead: POSTGRES_PASSWORD_FILE etc.
set -Eeo pipefail

file_env() {  # VAR [DEFAULT]: VAR from $VAR or from the file named by $VAR_FILE, not both
    local var=$1 fileVar=${1}_FILE def=${2:-} val
    if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
        printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
        exit 1
    fi
    val=$def
    if [ "${!var:-}" ]; then
        val=${!var}
    elif [ "${!fileVar:-}" ]; then
        val=$(<"${!fileVar}")
    fi
    export "$var"="$val"
    unset "$fileVar"
}

docker_setup_env() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    : "${POSTGRES_HOST_AUTH_METHOD:=}"
    DATABASE_ALREADY_EXISTS=
    if [ -s "$PGDATA/PG_VERSION" ]; then
        DATABASE_ALREADY_EXISTS=true
    fi
}

docker_create_db_directories() {
    local user
    user=$(id -u)
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql || :
    chmod 03775 /var/run/postgresql || :
    if [ "$user" = 0 ]; then
        find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
        find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    fi
}

docker_verify_minimum_env() {
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
EOM
        exit 1
    fi
}

docker_init_database_dir() {
    local extra=()
    read -r -a extra <<<"$POSTGRES_INITDB_ARGS"  # a list of words, as upstream
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") "${extra[@]}"
}

pg_setup_hba_conf() {
    local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
}

docker_temp_server_start() {
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
}

docker_temp_server_stop() {
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
}

psql_run() {
    PGPASSWORD= psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

docker_setup_db() {
    local exists
    # psql interpolates :'db' (a literal) and :"db" (an identifier) only in its input, not in -c.
    exists=$(psql_run --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "${exists//[[:space:]]/}" ]; then
        psql_run --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
        printf '\n'
    fi
}

docker_process_init_files() {
    local f
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh)
                if [ -x "$f" ]; then
                    printf '%s: running %s\n' "$0" "$f"
                    "$f"
                else
                    printf '%s: sourcing %s\n' "$0" "$f"
                    . "$f"
                fi
                ;;
            *.sql)
                printf '%s: running %s\n' "$0" "$f"
                psql_run --dbname "$POSTGRES_DB" -f "$f"
                ;;
            */\*) ;;
            *) printf '%s: ignoring %s\n' "$0" "$f" ;;
        esac
    done
}

_main() {
    if [ "${1:0:1}" = - ]; then
        set -- postgres "$@"
    fi
    if [ "$1" = postgres ]; then
        docker_setup_env
        docker_create_db_directories
        if [ "$(id -u)" = 0 ]; then
            exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
        fi
        if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
            docker_verify_minimum_env
            docker_init_database_dir
            pg_setup_hba_conf
            export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
            docker_temp_server_start
            docker_setup_db
            docker_process_init_files
            docker_temp_server_stop
            unset PGPASSWORD
            printf '\nPostgreSQL init process complete; ready for start up.\n\n'
        else
            printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
        fi
    fi
    exec "$@"
}

_main "$@"
