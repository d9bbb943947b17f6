#!/usr/bin/env bash
# verify.sh — check the stand-in images in the local registry against the expectations written in
# docs/standins.md, with real docker runs. Every image is pulled and run BY DIGEST
# (127.0.0.1:5000/NAME@sha256:...), as the registry reports it. Run scripts/engine-up.sh first.
# Prints PASS/FAIL per expectation and a closing "N passed, N failed" line; exits 1 on a failure.
# HARDCASE_DOCKER picks the docker client (default /usr/bin/docker).
set -euo pipefail

DOCKER=${HARDCASE_DOCKER:-/usr/bin/docker}
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
REG=127.0.0.1:5000
WORK=$(mktemp -d)
TAG_PREFIX=hardcase-standin-verify
CONTAINER_PREFIX=hardcase-standin-verify-$$
cleanup() {
    rm -rf "$WORK"
    "$DOCKER" rm -f -v $("$DOCKER" ps -aq --filter "name=$CONTAINER_PREFIX-" 2>/dev/null) >/dev/null 2>&1 || true
    "$DOCKER" image rm -f $("$DOCKER" image ls -q "$TAG_PREFIX/*" 2>/dev/null) >/dev/null 2>&1 || true
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; [ -z "${2:-}" ] || printf '%s\n' "$2" | tail -n 8 | sed 's/^/      /'; }

# expect NAME REGEX CMD...: CMD succeeds and its output matches REGEX (extended regex)
expect() {
    local name=$1 re=$2 out
    shift 2
    if out=$("$@" 2>&1) && grep -Eq -- "$re" <<<"$out"; then pass "$name"; else fail "$name" "$out"; fi
}
# expect_failure NAME CMD...: CMD must fail
expect_failure() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then fail "$name (it succeeded)" "$out"; else pass "$name"; fi
}

digest_of() {  # REPO TAG
    curl -fsS -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/$1/manifests/$2" \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}
ref_of() {  # REPO TAG -> REG/REPO@DIGEST (pulled)
    local d
    d=$(digest_of "$1" "$2") || { echo "no $REG/$1:$2 in the registry: run scripts/engine-up.sh" >&2; exit 2; }
    "$DOCKER" pull -q "$REG/$1@$d" >/dev/null || { echo "pull of $REG/$1@$d failed" >&2; exit 2; }
    printf '%s\n' "$REG/$1@$d"
}
cfg() { "$DOCKER" image inspect -f "{{json .Config.$2}}" "$1"; }
run() { "$DOCKER" run --rm "$@"; }
build() {  # TAG CONTEXT_DIR [build args...]
    local tag=$TAG_PREFIX/$1 ctx=$2
    shift 2
    DOCKER_BUILDKIT=1 "$DOCKER" build -q "$@" -t "$tag" "$ctx" >"$WORK/build-$1.log" 2>&1 \
        || { cat "$WORK/build-$1.log" >&2; return 1; }
    printf '%s\n' "$tag"
}
# Files of an image that a distroless image must not have.
forbidden_files() {
    local c
    c=$("$DOCKER" create "$1" /none)
    "$DOCKER" export "$c" | tar -t | grep -E '(^|/)(s?bin/)(sh|bash|dash|busybox|apt|apt-get|dpkg|dpkg-query)$' || true
    "$DOCKER" rm "$c" >/dev/null
}

DEB=$(ref_of library/debian 12-slim)
PY=$(ref_of library/python 3.11-slim-bookworm)
NODE=$(ref_of library/node 24-bookworm-slim)
GO=$(ref_of library/golang 1.27-bookworm)
DPY=$(ref_of gcr.io/distroless/python3-debian12 nonroot)
DNODE=$(ref_of gcr.io/distroless/nodejs24-debian12 nonroot)
DSTATIC=$(ref_of gcr.io/distroless/static-debian12 nonroot)
PG=$(ref_of library/postgres 15-bookworm)
REDIS=$(ref_of library/redis 7-bookworm)
pass "pull by digest: all 9 stand-ins ($DEB ...)"

# Long-running services: start detached, wait until a probe succeeds, read PID 1's credentials.
start() {  # SHORT [docker run args...] IMAGE [args...] -> container name
    local name=$CONTAINER_PREFIX-$1
    shift
    "$DOCKER" run -d --name "$name" "$@" >/dev/null
    printf '%s\n' "$name"
}
wait_until() {  # CONTAINER SECONDS CMD...: CMD (run inside the container) succeeds in time
    local c=$1 deadline=$(($(date +%s) + $2))
    shift 2
    until "$DOCKER" exec "$c" "$@" >/dev/null 2>&1; do
        [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || return 1
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}
pid1_creds() {  # CONTAINER -> "UID GID CAPEFF NONEWPRIVS" of its main process, read from the host
    local pid
    pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$1")
    awk '$1 == "Uid:" { u = $2 } $1 == "Gid:" { g = $2 } $1 == "CapEff:" { c = $2 } $1 == "NoNewPrivs:" { n = $2 }
         END { print u, g, c, n }' "/proc/$pid/status"
}
stop() { "$DOCKER" rm -f -v "$1" >/dev/null 2>&1 || true; }

echo "== debian:12-slim"
expect "debian: Debian 12, /bin/sh and apt-get present" '^12\.[0-9]+ /usr/bin/apt-get$' \
    run "$DEB" sh -c 'printf "%s %s\n" "$(cat /etc/debian_version)" "$(command -v apt-get)"'
expect "debian: runs as root by default" '^0$' run "$DEB" id -u
expect "debian: CA bundle and tzdata" '^ok$' \
    run "$DEB" sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && test -f /usr/share/zoneinfo/Europe/Paris && echo ok'
expect "debian: CMD [bash], no USER" '^\["bash"\] ""$' "$DOCKER" image inspect -f '{{json .Config.Cmd}} {{json .Config.User}}' "$DEB"

echo "== python:3.11-slim-bookworm"
expect "python: /usr/local/bin/python3 is 3.11 with ssl" '^3\.11\.[0-9]+ ' \
    run "$PY" /usr/local/bin/python3 -c 'import ssl, sys; print(sys.version)'
expect "python: /usr/local/bin/python" '^Python 3\.11\.' run "$PY" /usr/local/bin/python --version
expect "python: pip usable" '^pip [0-9.]+ ' run "$PY" pip --version
expect "python: runs as root, shell present" '^0 /bin/sh$' run "$PY" sh -c 'echo "$(id -u) $(test -x /bin/sh && echo /bin/sh)"'
expect "python: CMD [python3]" '^\["python3"\]$' cfg "$PY" Cmd
expect "python: site-packages is /usr/local/lib/python3.11/site-packages" '^/usr/local/lib/python3\.11/site-packages$' \
    run "$PY" python3 -c 'import os, sysconfig; print(os.path.realpath(sysconfig.get_paths()["purelib"]))'
mkdir -p "$WORK/pypkg/hcdemo"
printf 'def main():\n    print("hcdemo ok")\n' >"$WORK/pypkg/hcdemo/__init__.py"
printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "hcdemo"\nversion = "1.0"\n[project.scripts]\nhcdemo = "hcdemo:main"\n' >"$WORK/pypkg/pyproject.toml"
expect "python: pip install as root and --prefix=/install lay out files as upstream CPython" \
    '^/install/bin/hcdemo /install/lib/python3.11/site-packages/hcdemo hcdemo ok$' \
    run -v "$WORK/pypkg:/src:ro" "$PY" sh -c 'cp -r /src /tmp/p && cd /tmp/p &&
        pip install -q --no-index --no-build-isolation --root-user-action=ignore --prefix=/install . &&
        pip install -q --no-index --no-build-isolation --root-user-action=ignore . && cd / &&
        echo "$(ls /install/bin/hcdemo) $(ls -d /install/lib/python3.11/site-packages/hcdemo) $(hcdemo)"'
expect "python: a venv made here points at /usr/local/bin (like the official image)" '^home = /usr/local/bin$' \
    run "$PY" sh -c 'python3 -m venv /venv && grep "^home" /venv/pyvenv.cfg'

echo "== gcr.io/distroless/python3-debian12:nonroot"
expect "distroless python: User 65532, WorkingDir /home/nonroot" '^"65532" "/home/nonroot"$' \
    "$DOCKER" image inspect -f '{{json .Config.User}} {{json .Config.WorkingDir}}' "$DPY"
expect "distroless python: ENTRYPOINT [/usr/bin/python3.11]" '^\["/usr/bin/python3.11"\]$' cfg "$DPY" Entrypoint
expect "distroless python: /usr/bin/python3 is 3.11 with ssl" '^3\.11\.[0-9]+ ' \
    run --entrypoint /usr/bin/python3 "$DPY" -c 'import ssl, sys; print(sys.version)'
expect "distroless python: runs as 65532:65532 (nonroot, home /home/nonroot)" '^65532 65532 nonroot /home/nonroot /home/nonroot$' \
    run "$DPY" -c 'import os, pwd; p = pwd.getpwuid(os.getuid()); print(os.getuid(), os.getgid(), p.pw_name, p.pw_dir, os.getcwd())'
expect "distroless python: passwd root 0, nobody 65534, nonroot 65532; group nonroot 65532" '^0 65534 65532 65532$' \
    run "$DPY" -c 'import pwd, grp; print(pwd.getpwnam("root").pw_uid, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nonroot").pw_uid, grp.getgrnam("nonroot").gr_gid)'
expect "distroless python: CA certificates load, tzdata present" '^ok [0-9]{3}$' \
    run "$DPY" -c 'import ssl, zoneinfo; zoneinfo.ZoneInfo("Europe/Paris"); c = ssl.create_default_context(); print("ok", c.cert_store_stats()["x509_ca"])'
expect "distroless python: every stdlib module imports (distroless's own test)" 'FINISHED' \
    run "$DPY" -c '
import pkgutil
skip = {"asyncio.windows_events", "asyncio.windows_utils", "ctypes.wintypes", "distutils._msvccompiler",
        "distutils.command.bdist_msi", "distutils.msvc9compiler", "encodings.cp65001", "encodings.mbcs",
        "encodings.oem", "multiprocessing.popen_spawn_win32", "winreg", "test", "unittest.__main__",
        "venv.__main__", "dbm.gnu", "lib2to3.pgen2.conv", "turtle", "idlelib", "tkinter"}
def onerror(name): raise Exception("failed to import " + name)
for m in pkgutil.walk_packages(onerror=onerror):
    n = m.name
    if n in skip or n.startswith(("test.", "idlelib", "tkinter", "turtledemo", "lib2to3.tests")): continue
    __import__(n)
print("FINISHED")'
expect_failure "distroless python: no /bin/sh" run --entrypoint /bin/sh "$DPY" -c true
expect "distroless python: no shell, apt or dpkg file in the image" '^$' forbidden_files "$DPY"
mkdir -p "$WORK/venv-deb"
cat >"$WORK/venv-deb/Dockerfile" <<'EOF'
ARG DEB
ARG DPY
FROM ${DEB} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
    && /usr/bin/python3 -m venv /venv && /venv/bin/python -m pip --version
FROM ${DPY}
COPY --from=build /venv /venv
ENTRYPOINT ["/venv/bin/python3", "-c", "import sys, ssl; print('venv', sys.prefix, sys.base_prefix, '%d.%d' % sys.version_info[:2])"]
EOF
if img=$(build venv-deb "$WORK/venv-deb" --build-arg "DEB=$DEB" --build-arg "DPY=$DPY" 2>&1); then
    expect "distroless python: a venv built in debian:12-slim with /usr/bin/python3 -m venv runs" \
        '^venv /venv /usr 3\.11$' run "$img"
else
    fail "distroless python: build of the debian:12-slim venv image" "$img"
fi
mkdir -p "$WORK/venv-py"
cat >"$WORK/venv-py/Dockerfile" <<'EOF'
ARG PY
ARG DPY
FROM ${PY} AS build
RUN python3 -m venv /venv
FROM ${DPY}
COPY --from=build /venv /venv
ENTRYPOINT ["/venv/bin/python3", "-c", "print('runs')"]
EOF
if img=$(build venv-py "$WORK/venv-py" --build-arg "PY=$PY" --build-arg "DPY=$DPY" 2>&1); then
    expect_failure "distroless python: a venv built in python:3.11-slim does NOT run (as with the real images)" run "$img"
else
    fail "distroless python: build of the python:3.11-slim venv image" "$img"
fi

echo "== node:24-bookworm-slim"
expect "node: /usr/local/bin/node is v24" '^/usr/local/bin/node v24\.' run "$NODE" sh -c 'echo "$(command -v node) $(node --version)"'
expect "node: npm, npx, yarn, corepack usable" '^/usr/local/bin/npm [0-9]+\.[0-9.]+ [0-9.]+ 1\.22\.[0-9]+ [0-9.]+$' \
    run "$NODE" sh -c 'echo "$(command -v npm) $(npm --version) $(npx --version) $(yarn --version) $(corepack --version)"'
expect "node: user node uid/gid 1000, home /home/node" '^node:x:1000:1000::/home/node:/bin/bash uid=1000\(node\) gid=1000\(node\)' \
    run "$NODE" sh -c 'echo "$(getent passwd node) $(id node)"'
expect "node: runs as root by default, shell present" '^0 /bin/sh$' run "$NODE" sh -c 'echo "$(id -u) $(test -x /bin/sh && echo /bin/sh)"'
expect "node: ENTRYPOINT [docker-entrypoint.sh], CMD [node]" '^\["docker-entrypoint.sh"\] \["node"\]$' \
    "$DOCKER" image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$NODE"
expect "node: entrypoint runs option-only arguments with node" '^42$' run "$NODE" -e 'console.log(42)'
expect "node: https, CA certificates and time zones" '^ok [0-9]{3}$' \
    run "$NODE" node -e 'require("https"); new Intl.DateTimeFormat("en", {timeZone: "Europe/Paris"}); console.log("ok", require("tls").rootCertificates.length)'
expect "node: npm works offline as user node" '^[0-9]+\.' run -u node -w /home/node "$NODE" sh -c 'npm init -y >/dev/null && npm pkg get version | tr -d "\""'

echo "== gcr.io/distroless/nodejs24-debian12:nonroot"
expect "distroless node: ENTRYPOINT [/nodejs/bin/node], User 65532, WorkingDir /home/nonroot" \
    '^\["/nodejs/bin/node"\] "65532" "/home/nonroot"$' \
    "$DOCKER" image inspect -f '{{json .Config.Entrypoint}} {{json .Config.User}} {{json .Config.WorkingDir}}' "$DNODE"
expect "distroless node: node -e runs as 65532:65532" '^v24\.[0-9.]+ 65532 65532 /home/nonroot$' \
    run "$DNODE" -e 'console.log(process.version, process.getuid(), process.getgid(), process.cwd())'
expect "distroless node: https, CA certificates, time zones" '^ok [0-9]{3} [0-9]+$' \
    run "$DNODE" -e 'require("https"); new Intl.DateTimeFormat("en", {timeZone: "Europe/Paris"}); const fs = require("fs"); console.log("ok", require("tls").rootCertificates.length, fs.statSync("/etc/ssl/certs/ca-certificates.crt").size)'
expect "distroless node: passwd has nonroot 65532" '^nonroot:x:65532:65532:' run "$DNODE" -e 'console.log(require("fs").readFileSync("/etc/passwd", "utf8").split("\n").filter(l => l.startsWith("nonroot:"))[0])'
expect_failure "distroless node: no /bin/sh" run --entrypoint /bin/sh "$DNODE" -c true
expect_failure "distroless node: no npm" run --entrypoint /nodejs/bin/npm "$DNODE" --version
expect "distroless node: no shell, apt or dpkg file in the image" '^$' forbidden_files "$DNODE"

echo "== golang:1.27-bookworm"
expect "golang: go version 1.27" '^go version go1\.27\.[0-9]+ linux/' run "$GO" go version
expect "golang: GOROOT /usr/local/go, GOPATH /go, GOTOOLCHAIN local, PATH has /go/bin and /usr/local/go/bin" \
    '^/usr/local/go /go local /go/bin:/usr/local/go/bin:' \
    run "$GO" sh -c 'echo "$(go env GOROOT) $(go env GOPATH) $(go env GOTOOLCHAIN) $PATH"'
expect "golang: WorkingDir /go, shell present, root" '^/go /bin/sh 0$' run "$GO" sh -c 'echo "$(pwd) $(test -x /bin/sh && echo /bin/sh) $(id -u)"'
mkdir -p "$WORK/goapp"
cat >"$WORK/goapp/main.go" <<'EOF'
package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/user"
	"time"
)

func main() {
	u, err := user.Current()
	if err != nil {
		panic(err)
	}
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		panic(err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool.Equal(x509.NewCertPool()) {
		panic(fmt.Sprint("no system CA certificates: ", err))
	}
	st, err := os.Stat("/tmp")
	if err != nil {
		panic(err)
	}
	f, err := os.CreateTemp("", "probe")
	if err != nil {
		panic(err)
	}
	f.Close()
	os.Remove(f.Name())
	_, shErr := os.Stat("/bin/sh")
	fmt.Println("go-static", os.Getuid(), os.Getgid(), u.Username, u.HomeDir, st.Mode(), "sh-missing:", os.IsNotExist(shErr))
}
EOF
printf 'module probe\n\ngo 1.22\n' >"$WORK/goapp/go.mod"
cat >"$WORK/goapp/Dockerfile" <<'EOF'
ARG GO
ARG STATIC
FROM ${GO} AS build
WORKDIR /src
COPY go.mod main.go ./
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/probe .
FROM ${STATIC}
COPY --from=build /out/probe /probe
ENTRYPOINT ["/probe"]
EOF

echo "== gcr.io/distroless/static-debian12:nonroot"
expect "distroless static: User 65532, WorkingDir /home/nonroot, no entrypoint" '^"65532" "/home/nonroot" null$' \
    "$DOCKER" image inspect -f '{{json .Config.User}} {{json .Config.WorkingDir}} {{json .Config.Entrypoint}}' "$DSTATIC"
if img=$(build goapp "$WORK/goapp" --build-arg "GO=$GO" --build-arg "STATIC=$DSTATIC" 2>&1); then
    expect "golang + distroless static: a stdlib-only binary builds, runs as nonroot 65532 with CA certs, tzdata, /tmp 1777 and no /bin/sh" \
        '^go-static 65532 65532 nonroot /home/nonroot dtrwxrwxrwx sh-missing: true$' run "$img"
else
    fail "golang: build of a stdlib-only program" "$img"
fi
expect_failure "distroless static: no /bin/sh" run --entrypoint /bin/sh "$DSTATIC" -c true
expect "distroless static: no shell, apt or dpkg file in the image" '^$' forbidden_files "$DSTATIC"
expect "distroless static: no libc" '^$' sh -c "c=\$($DOCKER create $DSTATIC /none); $DOCKER export \$c | tar -t | grep -E 'libc\\.so' || true; $DOCKER rm \$c >/dev/null"

echo "== postgres:15-bookworm"
expect "postgres: user and group postgres are 999:999, home /var/lib/postgresql" \
    '^postgres:x:999:999::/var/lib/postgresql:/bin/bash postgres:x:999:$' \
    run "$PG" sh -c 'echo "$(getent passwd postgres) $(getent group postgres)"'
expect "postgres: ENTRYPOINT [docker-entrypoint.sh], CMD [postgres], EXPOSE 5432, VOLUME PGDATA, STOPSIGNAL SIGINT, no USER" \
    '^\["docker-entrypoint.sh"\] \["postgres"\] \{"5432/tcp":\{\}\} \{"/var/lib/postgresql/data":\{\}\} "SIGINT" ""$' \
    "$DOCKER" image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{json .Config.StopSignal}} {{json .Config.User}}' "$PG"
expect "postgres: PGDATA=/var/lib/postgresql/data owned by 999, /var/run/postgresql writable by 999" \
    '^/var/lib/postgresql/data 999:999 writable$' \
    run --entrypoint sh "$PG" -c 'echo "$PGDATA $(stat -c %u:%g "$PGDATA") $(setpriv --reuid=999 --regid=999 --clear-groups sh -c "test -w /var/run/postgresql && echo writable")"'
expect "postgres: PostgreSQL 15; pg_isready, psql, initdb, pg_ctl on PATH" \
    '^postgres \(PostgreSQL\) 15\.[0-9]+ .* /[^ ]*/pg_isready /[^ ]*/psql /[^ ]*/initdb /[^ ]*/pg_ctl$' \
    run "$PG" sh -c 'echo "$(postgres --version)" $(for b in pg_isready psql initdb pg_ctl; do command -v "$b"; done)'
expect_failure "postgres: an empty data directory without POSTGRES_PASSWORD refuses to start" run "$PG"
expect "postgres: ... saying why" 'superuser password is not specified' sh -c "$DOCKER run --rm $PG 2>&1; true"
mkdir -p "$WORK/pg-secrets"
printf 'pw-from-file\n' >"$WORK/pg-secrets/password"
printf 'appuser' >"$WORK/pg-secrets/user"
printf 'appdb' >"$WORK/pg-secrets/db"
chmod 0644 "$WORK/pg-secrets"/*
c=$(start pg-root -v "$WORK/pg-secrets:/run/secrets:ro" -e POSTGRES_PASSWORD_FILE=/run/secrets/password \
    -e POSTGRES_USER_FILE=/run/secrets/user -e POSTGRES_DB_FILE=/run/secrets/db "$PG")
if wait_until "$c" 60 pg_isready -U appuser -d appdb -h 127.0.0.1; then
    pass "postgres: started as root, initdb from the *_FILE variables, accepting connections"
    expect "postgres: started as root, the server runs as 999:999 with no effective capability (from /proc)" \
        '^999 999 0000000000000000 ' pid1_creds "$c"
    expect "postgres: PGDATA is 0700 and owned by 999 once initialised" '^700 999:999$' \
        "$DOCKER" exec "$c" sh -c 'stat -c "%a %u:%g" "$PGDATA"'
    expect "postgres: POSTGRES_USER/DB(_FILE) created; the password from POSTGRES_PASSWORD_FILE logs in over TCP" \
        '^appuser\|appdb$' \
        "$DOCKER" exec -e PGPASSWORD=pw-from-file "$c" sh -c 'psql -h "$(hostname -i | cut -d" " -f1)" -U appuser -d appdb -Atc "select current_user, current_database()"'
    expect "postgres: pg_hba ends with 'host all all all scram-sha-256'" '^host all all all scram-sha-256$' \
        "$DOCKER" exec "$c" sh -c 'tail -n 1 "$PGDATA/pg_hba.conf"'
    expect_failure "postgres: a wrong password is refused over TCP" \
        "$DOCKER" exec -e PGPASSWORD=wrong "$c" sh -c 'psql -h "$(hostname -i | cut -d" " -f1)" -U appuser -d appdb -Atc "select 1"'
    expect "postgres: listens on every address (listen_addresses = '*')" '^\*$' \
        "$DOCKER" exec "$c" psql -U appuser -d appdb -Atc 'show listen_addresses'
else
    fail "postgres: started as root did not become ready" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"
c=$(start pg-999 --user 999:999 --read-only --tmpfs /tmp --tmpfs /var/run/postgresql --cap-drop ALL \
    --security-opt no-new-privileges -e POSTGRES_PASSWORD=pw "$PG")
if wait_until "$c" 60 pg_isready -U postgres -h 127.0.0.1; then
    pass "postgres: started as 999 (read-only rootfs, no capabilities, tmpfs /var/run/postgresql) initialises and runs"
    expect "postgres: started as 999, runs as 999:999, CapEff 0, NoNewPrivs 1" '^999 999 0000000000000000 1$' pid1_creds "$c"
else
    fail "postgres: started as 999 did not become ready" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"

c=$(start pg-root-confined --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE --cap-add FOWNER --cap-add SETGID \
    --cap-add SETUID --security-opt no-new-privileges --read-only --tmpfs /tmp \
    --tmpfs /var/run/postgresql:uid=999,gid=999,mode=3775 -e POSTGRES_PASSWORD=pw "$PG")
if wait_until "$c" 60 pg_isready -U postgres -h 127.0.0.1; then
    pass "postgres: started as root with only CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID, no-new-privileges and a read-only rootfs, initialises and runs"
    expect "postgres: ... and the server runs as 999:999, CapEff 0, NoNewPrivs 1" '^999 999 0000000000000000 1$' pid1_creds "$c"
else
    fail "postgres: started as root with only the entrypoint's capabilities did not become ready" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"

echo "== redis:7-bookworm"
expect "redis: user and group redis are 999:999" '^redis:x:999:999:.* redis:x:999:$' \
    run "$REDIS" sh -c 'echo "$(getent passwd redis) $(getent group redis)"'
expect "redis: ENTRYPOINT [docker-entrypoint.sh], CMD [redis-server], EXPOSE 6379, VOLUME /data, WORKDIR /data, no USER" \
    '^\["docker-entrypoint.sh"\] \["redis-server"\] \{"6379/tcp":\{\}\} \{"/data":\{\}\} "/data" ""$' \
    "$DOCKER" image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{json .Config.WorkingDir}} {{json .Config.User}}' "$REDIS"
expect "redis: /data owned by 999; redis-server 7 and redis-cli on PATH" '^999:999 Redis server v=7\.[0-9.]+ .* redis-cli 7\.' \
    run --entrypoint sh "$REDIS" -c 'echo "$(stat -c %u:%g /data) $(redis-server --version) $(redis-cli --version)"'
c=$(start redis-root "$REDIS")
if wait_until "$c" 30 redis-cli ping; then
    expect "redis: started as root, PING answers PONG" '^PONG$' "$DOCKER" exec "$c" redis-cli ping
    expect "redis: started as root, the server runs as 999:999 with no effective capability (from /proc)" \
        '^999 999 0000000000000000 ' pid1_creds "$c"
    expect "redis: protected mode off and bound to every address by default (as upstream's build)" \
        '^protected-mode no bind \* -::\*$' \
        "$DOCKER" exec "$c" sh -c 'echo $(redis-cli config get protected-mode) $(redis-cli config get bind)'
else
    fail "redis: started as root did not answer PING" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"
c=$(start redis-999 --user 999:999 --read-only --cap-drop ALL --security-opt no-new-privileges "$REDIS")
if wait_until "$c" 30 redis-cli ping; then
    pass "redis: started as 999 (read-only rootfs, no capabilities) answers PING"
    expect "redis: started as 999, runs as 999:999, CapEff 0, NoNewPrivs 1" '^999 999 0000000000000000 1$' pid1_creds "$c"
else
    fail "redis: started as 999 did not answer PING" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"
c=$(start redis-root-confined --cap-drop ALL --cap-add CHOWN --cap-add SETGID --cap-add SETUID \
    --security-opt no-new-privileges --read-only --tmpfs /tmp "$REDIS")
if wait_until "$c" 30 redis-cli ping; then
    pass "redis: started as root with only CHOWN, SETGID, SETUID, no-new-privileges and a read-only rootfs, answers PING"
    expect "redis: ... and the server runs as 999:999, CapEff 0, NoNewPrivs 1" '^999 999 0000000000000000 1$' pid1_creds "$c"
else
    fail "redis: started as root with only the entrypoint's capabilities did not answer PING" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"
c=$(start redis-opts "$REDIS" --port 6380 --protected-mode yes)
if wait_until "$c" 30 redis-cli -p 6380 ping; then
    expect "redis: options alone run redis-server with them; an explicit protected-mode still wins" '^protected-mode yes$' \
        "$DOCKER" exec "$c" sh -c 'echo $(redis-cli -p 6380 config get protected-mode)'
else
    fail "redis: redis-server with options did not answer PING on 6380" "$("$DOCKER" logs "$c" 2>&1)"
fi
stop "$c"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
