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
trap 'rm -rf "$WORK"; "$DOCKER" image rm -f $("$DOCKER" image ls -q "$TAG_PREFIX/*" 2>/dev/null) >/dev/null 2>&1 || true' EXIT

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
pass "pull by digest: all 7 stand-ins ($DEB ...)"

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

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
