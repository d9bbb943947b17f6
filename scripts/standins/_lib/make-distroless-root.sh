#!/bin/bash
# make-distroless-root.sh OUT PKG...
#
# Assemble a distroless-style root filesystem in OUT from the files of the named Debian packages
# (which must be installed in the build stage running this script), the way
# gcr.io/distroless images are assembled from .deb contents:
#   - every regular file and symlink listed by `dpkg -L PKG` (paths under /bin, /sbin, /lib*, which
#     are merged-/usr symlinks on bookworm, are stored under /usr)
#   - every shared library that an ELF file in OUT needs (ldd closure), including the ones of any
#     tree put into OUT before this script runs (e.g. /nodejs)
#   - /etc/passwd and /etc/group (root 0, nobody 65534, nonroot 65532), /root, /home/nonroot (0700,
#     owned 65532), /tmp (1777), /etc/nsswitch.conf, a "Distroless" /etc/os-release, the CA bundle
#     /etc/ssl/certs/ca-certificates.crt and /var/lib/dpkg/status.d/PKG records (image scanners read
#     these in distroless images)
#   - merged-/usr symlinks /bin /sbin /lib /lib64 -> usr/... when libc6 is among the packages
# It then fails if OUT holds a shell, apt or dpkg.
set -euo pipefail

die() { echo "make-distroless-root: $*" >&2; exit 1; }
[ "$#" -ge 2 ] || die "usage: make-distroless-root.sh OUT PKG..."
out=$1
shift
[ -L /lib ] || die "expected a merged-/usr build stage (/lib is not a symlink)"
mkdir -p "$out/var/lib/dpkg/status.d"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# /lib/x/y -> /usr/lib/x/y etc. (bookworm is merged-/usr: both name the same file)
usrmerge_map() { sed -E 's#^/(bin|sbin|lib|lib32|lib64|libx32)/#/usr/\1/#'; }

with_libc=0
: >"$work/raw"
for pkg in "$@"; do
    name=${pkg%%:*}
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$name" 2>/dev/null || true)" = installed ] \
        || die "package $name is not installed in the build stage"
    [ "$name" = libc6 ] && with_libc=1
    dpkg-query -L "$name" | grep '^/' >>"$work/raw" || true
    dpkg-query -s "$name" >"$out/var/lib/dpkg/status.d/$name"
done

# Keep regular files and symlinks (directories are created as parents).
usrmerge_map <"$work/raw" | sort -u | while IFS= read -r f; do
    if [ -L "$f" ] || [ -f "$f" ]; then printf '%s\n' "${f#/}"; fi
done >"$work/files"
tar -C / --no-recursion -cf - -T "$work/files" | tar -C "$out" -xpf -
echo "make-distroless-root: copied $(wc -l <"$work/files") files of: $*"

# Shared-library closure of every ELF file in OUT (ldd resolves against this build stage).
for round in 1 2 3 4 5; do
    find "$out" -type f \( -perm -u=x -o -name '*.so' -o -name '*.so.*' \) -print0 \
        | { xargs -0 -r -n 64 ldd 2>/dev/null || true; } >"$work/ldd"
    if grep -q 'not found' "$work/ldd"; then
        grep 'not found' "$work/ldd" | sort -u >&2
        die "shared libraries missing in the build stage"
    fi
    # "lib => /path (0x..)" and the loader line "/path (0x..)"; "/file:" headers and libraries
    # already inside OUT (found through $ORIGIN) are skipped.
    awk -v out="$out/" '$2 == "=>" && $3 ~ /^\// { print $3 } NF == 2 && $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' "$work/ldd" \
        | grep -v "^$out/" | sort -u >"$work/deps" || true
    : >"$work/add"
    while IFS= read -r dep; do
        for p in "$dep" "$(readlink -f "$dep")"; do
            m=$(printf '%s\n' "$p" | usrmerge_map)
            if ! [ -e "$out$m" ] && ! [ -L "$out$m" ]; then printf '%s\n' "${m#/}" >>"$work/add"; fi
        done
    done <"$work/deps"
    [ -s "$work/add" ] || break
    echo "make-distroless-root: ldd closure round $round adds: $(sort -u "$work/add" | tr '\n' ' ')"
    sort -u "$work/add" | tar -C / --no-recursion -cf - -T - | tar -C "$out" -xpf -
done

if [ "$with_libc" = 1 ]; then
    for d in bin sbin lib lib64; do
        mkdir -p "$out/usr/$d"
        if [ -e "$out/$d" ] && ! [ -L "$out/$d" ]; then die "$out/$d is a real directory"; fi
        ln -sfn "usr/$d" "$out/$d"
    done
fi

# Users, groups and home directories as in gcr.io/distroless (common/BUILD.bazel there).
mkdir -p "$out/etc/ssl/certs" "$out/tmp" "$out/root" "$out/home/nonroot"
chmod 0755 "$out/etc" "$out/home"
chmod 1777 "$out/tmp"
chmod 0700 "$out/root" "$out/home/nonroot"
chown 65532:65532 "$out/home/nonroot"
cat >"$out/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$out/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
cat >"$out/etc/nsswitch.conf" <<'EOF'
passwd:         files
group:          files
shadow:         files
gshadow:        files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
EOF
rm -f "$out/etc/os-release"
cat >"$out/etc/os-release" <<'EOF'
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
EOF
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf" "$out/etc/os-release"
[ -s /etc/ssl/certs/ca-certificates.crt ] || die "no CA bundle in the build stage (install ca-certificates)"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$out/etc/ssl/certs/ca-certificates.crt"

# What a distroless image must not contain.
for p in bin/sh usr/bin/sh bin/bash usr/bin/bash usr/bin/dash usr/bin/busybox \
         usr/bin/apt usr/bin/apt-get usr/bin/dpkg usr/bin/dpkg-query usr/sbin/dpkg; do
    if [ -e "$out/$p" ] || [ -L "$out/$p" ]; then die "/$p must not exist in a distroless image"; fi
done
echo "make-distroless-root: $(du -sh "$out" | cut -f1) in $out"
