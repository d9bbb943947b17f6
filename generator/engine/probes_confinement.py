"""Probes of confinement: what a process in the container may do to its files, the kernel and the host.

User, capabilities, no-new-privileges, the seccomp filter, a read-only root filesystem with code it
cannot change, its own namespaces and an init process: each is read from the kernel's view of the
container's processes (`hostproc`) or tried under the container's own security settings. They are
kept apart from the probes of what the engine gives the service (limits, ports, networks, secrets,
logs: `probes`), which read mostly `docker inspect` and the cgroups.
"""

from __future__ import annotations

import errno
import json
import platform
import stat
import tempfile
from pathlib import Path
from typing import Any

from generator.engine import docker as engine
from generator.engine import hostproc, rootfs
from generator.engine.probe_target import Probe, Target, registrar

CAP_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
# Syscall numbers per architecture for the seccomp probe: unshare, mount, keyctl, ptrace.
FORBIDDEN_SYSCALLS = {
    "x86_64": {"unshare": 272, "mount": 165, "keyctl": 250, "ptrace": 101},
    "aarch64": {"unshare": 97, "mount": 40, "keyctl": 219, "ptrace": 117},
}
CAP_NUMBERS = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
    "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
    "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
    "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
    "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
    "AUDIT_CONTROL": 30, "SETFCAP": 31,
}

PROBES: dict[str, Probe] = {}
probe = registrar(PROBES)


@probe("non-root-user")
def non_root_user(t: Target) -> tuple[bool, str]:
    seen = set()
    for pid in t.pids:
        fields = hostproc.status(pid)
        seen.add(f"uid {fields['Uid'].split()[0]} gid {fields['Gid'].split()[0]}")
        if "0" in fields["Uid"].split() or "0" in fields["Gid"].split():
            return False, f"pid {pid} has uid/gid {fields['Uid']} / {fields['Gid']}"
    return True, f"{', '.join(sorted(seen))} on all {len(t.pids)} processes"


@probe("immutable-code")
def immutable_code(t: Target) -> tuple[bool, str]:
    # Resolved inside the container's root (rootfs): a WORKDIR linked to /etc must not walk the host's /etc.
    root = hostproc.container_root(t.main_pid)
    workdir = "/" + t.workdir.strip("/")
    writable_dirs = ["/" + w.strip("/") for w in t.writable_paths]

    def in_container(relative: str) -> str:
        return workdir if relative == "." else f"{workdir.rstrip('/')}/{relative}"

    def is_writable_path(relative: str) -> bool:
        path = in_container(relative)
        return any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable_dirs)

    checked = 0
    for relative, info in rootfs.walk(root, workdir, skip=is_writable_path):
        writable = (
            info.st_uid == t.uid
            or info.st_mode & stat.S_IWOTH
            or (info.st_gid == t.uid and info.st_mode & stat.S_IWGRP)
        )
        if writable and not stat.S_ISLNK(info.st_mode):
            return False, f"{in_container(relative).lstrip('/')} is writable by uid {t.uid}"
        checked += 1
        if checked >= 20000:
            break
    return True, f"{checked} entries under {t.workdir}: owned by uid 0, not writable by uid {t.uid}"


def _cap_mask(names: list[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAP_NUMBERS[name.upper().removeprefix("CAP_")]
    return mask


@probe("capabilities")
def capabilities(t: Target) -> tuple[bool, str]:
    allowed = _cap_mask(t.allowed_caps)
    for pid in t.pids:
        fields = hostproc.status(pid)
        for name in CAP_SETS:
            value = int(fields[name], 16)
            if value & ~allowed:
                return False, f"pid {pid} {name}={fields[name]} (allowed mask {allowed:016x})"
    return True, f"CapEff/CapPrm/CapBnd/CapAmb/CapInh = {allowed:016x} on all {len(t.pids)} processes"


@probe("no-new-privileges")
def no_new_privileges(t: Target) -> tuple[bool, str]:
    for pid in t.pids:
        if hostproc.status(pid).get("NoNewPrivs") != "1":
            return False, f"pid {pid} NoNewPrivs={hostproc.status(pid).get('NoNewPrivs')}"
    return True, f"NoNewPrivs=1 on all {len(t.pids)} processes"


def _loaded_profile(t: Target) -> dict[str, Any] | None:
    for option in t.host_config.get("SecurityOpt") or []:
        if option.startswith("seccomp="):
            value = option.split("=", 1)[1]
            try:
                loaded: dict[str, Any] = json.loads(value)
            except json.JSONDecodeError:
                return None
            return loaded
    return None


def _syscall_probe_script(arch: str) -> str:
    numbers = FORBIDDEN_SYSCALLS[arch]
    # perl-base is Essential in Debian, so every Debian-based build image has it; syscall()
    # reaches the kernel directly, with no libc wrapper deciding anything.
    calls = "; ".join(
        f'$r = syscall({number}, {"0x10000000" if name == "unshare" else "0, 0, 0, 0"}); '
        f'print "{name}=", ($r == -1 ? $!+0 : "ok"), "\\n"'
        for name, number in numbers.items()
    )
    return f"my $r; {calls};"


@probe("seccomp")
def seccomp_filter(t: Target) -> tuple[bool, str]:
    modes = {hostproc.status(pid).get("Seccomp") for pid in t.pids}
    if modes != {"2"}:
        return False, f"Seccomp modes {sorted(m or '?' for m in modes)} (2 = filter)"
    loaded = _loaded_profile(t)
    if loaded != t.seccomp_profile:
        return False, "the engine did not load the generated profile (docker inspect SecurityOpt differs)"
    arch = platform.machine()
    if arch not in FORBIDDEN_SYSCALLS:
        return False, f"no syscall table for {arch}"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(t.seccomp_profile, handle)
    try:
        result = engine.docker(
            "run", "--rm", "--network", "none", "--user", f"{t.uid}:{t.uid}", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges:true", "--security-opt", f"seccomp={handle.name}",
            "--entrypoint", "perl", t.probe_image, "-e", _syscall_probe_script(arch), check=False, timeout=120,
        )
    finally:
        Path(handle.name).unlink(missing_ok=True)
    outcomes = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    expected = {name: str(errno.EPERM) for name in FORBIDDEN_SYSCALLS[arch]}
    if outcomes != expected:
        return False, f"under the profile: {outcomes or result.stderr.strip()[:200]} (expected EPERM for each)"
    return True, "mode 2 on all processes; inspect shows the generated profile; unshare, mount, keyctl, ptrace → EPERM"


@probe("read-only-rootfs")
def read_only_rootfs(t: Target) -> tuple[bool, str]:
    if not t.host_config.get("ReadonlyRootfs"):
        return False, "HostConfig.ReadonlyRootfs is false"
    root = hostproc.container_root(t.main_pid)  # written through rootfs: never a host file through a link
    refused = rootfs.try_create(root, f"{t.workdir.rstrip('/')}/.hardcase-probe")
    if refused != errno.EROFS:
        return False, f"writing into {t.workdir}: {errno.errorcode.get(refused or 0, 'succeeded')}"
    mounts = hostproc.mounts(t.main_pid)
    for path in t.writable_paths:
        fs_type, options = mounts.get(path, ("missing", set()))
        if fs_type != "tmpfs" or not {"noexec", "nosuid", "nodev"} <= options:
            return False, f"{path}: {fs_type} {sorted(options)}"
        failed = rootfs.try_create(root, f"{path.rstrip('/')}/.hardcase-probe")
        if failed is not None:
            return False, f"{path}: tmpfs not writable ({errno.errorcode.get(failed)})"
    return True, f"EROFS in {t.workdir}; writable noexec,nosuid,nodev tmpfs at {', '.join(t.writable_paths)}"


@probe("host-isolation")
def host_isolation(t: Target) -> tuple[bool, str]:
    hc = t.host_config
    problems = []
    if hc.get("Privileged"):
        problems.append("privileged")
    for key in ("NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode", "CgroupnsMode"):
        if str(hc.get(key) or "") == "host":
            problems.append(f"{key}=host")
    if hc.get("Devices"):
        problems.append("devices mapped")
    for mount in t.container.get("Mounts") or []:
        source = str(mount.get("Source", ""))
        if source.endswith("docker.sock") or source in ("/", "/proc", "/sys", "/etc"):
            problems.append(f"mount {mount.get('Source')}")
    for kind in ("net", "pid", "ipc", "uts", "mnt"):
        # verify runs on the engine's host, so its own namespaces are the host's.
        if hostproc.namespace(t.main_pid, kind) == hostproc.namespace("self", kind):
            problems.append(f"shares the host {kind} namespace")
    if problems:
        return False, "; ".join(problems)
    return True, "not privileged; own net/pid/ipc/uts/mnt namespaces; no devices, no Docker socket"


@probe("init-process")
def init_process(t: Target) -> tuple[bool, str]:
    cmdline = (hostproc.PROC / str(t.main_pid) / "cmdline").read_bytes().split(b"\0")[0].decode()
    passed = bool(t.host_config.get("Init")) and Path(cmdline).name == "docker-init"
    return passed, f"PID 1 is {cmdline}"
