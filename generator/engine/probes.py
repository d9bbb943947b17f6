"""One probe per control: observe behaviour in the running container and say what was seen.

Each probe returns (passed, evidence). Probes read the kernel's view from the host (see
`hostproc`), ask the engine (`docker inspect`), or run a process under the container's own
security settings; `controls.yaml` says, per control, how it is proven and what is expected.
"""

from __future__ import annotations

import errno
import json
import platform
import socket
import stat
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.engine import docker as engine
from generator.engine import hostproc

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


@dataclass
class Target:
    """What verify knows about the running service and what the generator promised."""

    container: dict[str, Any]
    image: dict[str, Any]
    pids: list[int]
    uid: int
    workdir: str
    writable_paths: list[str]
    secrets: dict[str, bytes]
    ports: list[int]
    publish: str
    memory_bytes: int
    nano_cpus: int
    pids_limit: int
    seccomp_profile: dict[str, Any]
    probe_image: str
    allowed_caps: list[str] = field(default_factory=list)
    image_name: str = ""

    @property
    def main_pid(self) -> int:
        return int(self.container["State"]["Pid"])

    @property
    def host_config(self) -> dict[str, Any]:
        result: dict[str, Any] = self.container["HostConfig"]
        return result


Probe = Callable[[Target], tuple[bool, str]]
PROBES: dict[str, Probe] = {}


def probe(control_id: str) -> Callable[[Probe], Probe]:
    def register(function: Probe) -> Probe:
        PROBES[control_id] = function
        return function

    return register


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
    root = hostproc.container_root(t.main_pid) / t.workdir.lstrip("/")
    checked = 0
    for path in [root, *root.rglob("*")]:
        if any(str(path).startswith(str(hostproc.container_root(t.main_pid) / w.lstrip("/")))
               for w in t.writable_paths):
            continue
        info = path.lstat()
        writable = (
            info.st_uid == t.uid
            or info.st_mode & stat.S_IWOTH
            or (info.st_gid == t.uid and info.st_mode & stat.S_IWGRP)
        )
        if writable and not stat.S_ISLNK(info.st_mode):
            return False, f"{path.relative_to(hostproc.container_root(t.main_pid))} is writable by uid {t.uid}"
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
    root = hostproc.container_root(t.main_pid)
    refused = hostproc.try_write(root / t.workdir.lstrip("/") / ".hardcase-probe")
    if refused != errno.EROFS:
        return False, f"writing into {t.workdir}: {errno.errorcode.get(refused or 0, 'succeeded')}"
    mounts = hostproc.mounts(t.main_pid)
    for path in t.writable_paths:
        fs_type, options = mounts.get(path, ("missing", set()))
        if fs_type != "tmpfs" or not {"noexec", "nosuid", "nodev"} <= options:
            return False, f"{path}: {fs_type} {sorted(options)}"
        failed = hostproc.try_write(root / path.lstrip("/") / ".hardcase-probe")
        if failed is not None:
            return False, f"{path}: tmpfs not writable ({errno.errorcode.get(failed)})"
    return True, f"EROFS in {t.workdir}; writable noexec,nosuid,nodev tmpfs at {', '.join(t.writable_paths)}"


@probe("memory-limit")
def memory_limit(t: Target) -> tuple[bool, str]:
    configured = int(t.host_config.get("Memory") or 0)
    cgroup = hostproc.read_cgroup(t.main_pid, "memory", "memory.limit_in_bytes", "memory.max")
    if configured != t.memory_bytes or cgroup != str(t.memory_bytes):
        return False, f"inspect {configured}, cgroup {cgroup}, expected {t.memory_bytes}"
    return True, f"memory cgroup limit {cgroup} bytes"


@probe("cpu-limit")
def cpu_limit(t: Target) -> tuple[bool, str]:
    configured = int(t.host_config.get("NanoCpus") or 0)
    try:
        quota = int(hostproc.read_cgroup(t.main_pid, "cpu", "cpu.cfs_quota_us", "cpu.max").split()[0])
        period = int(hostproc.read_cgroup(t.main_pid, "cpu", "cpu.cfs_period_us", "cpu.max").split()[-1])
    except ValueError:
        return False, "no CPU quota in the cgroup"
    effective = round(quota / period * 1e9)
    if configured != t.nano_cpus or effective != t.nano_cpus:
        return False, f"inspect {configured}, cgroup {quota}/{period}, expected {t.nano_cpus / 1e9:g} CPUs"
    return True, f"cpu cgroup quota {quota}/{period} µs = {t.nano_cpus / 1e9:g} CPUs"


@probe("pids-limit")
def pids_limit(t: Target) -> tuple[bool, str]:
    value = hostproc.read_cgroup(t.main_pid, "pids", "pids.max", "pids.max")
    if value != str(t.pids_limit):
        return False, f"pids.max={value}, expected {t.pids_limit}"
    forked, refusal = hostproc.fork_until_refused(t.main_pid, ceiling=t.pids_limit + 64)
    if refusal != errno.EAGAIN:
        return False, f"fork loop ran {forked} forks without being refused"
    return True, f"pids.max={value}; a fork loop in the container's cgroup was refused (EAGAIN) after {forked} forks"


@probe("ulimits")
def ulimits(t: Target) -> tuple[bool, str]:
    found = hostproc.limits(t.main_pid)
    nofile, core = found.get("Max open files"), found.get("Max core file size")
    if not nofile or nofile[1] == "unlimited" or int(nofile[1]) > 65536 or core != ("0", "0"):
        return False, f"open files {nofile}, core {core}"
    return True, f"open files {nofile[0]}/{nofile[1]}, core file size 0"


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
        try:
            probe_socket.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for UDP connect
            address = str(probe_socket.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@probe("localhost-ports")
def localhost_ports(t: Target) -> tuple[bool, str]:
    bindings = t.host_config.get("PortBindings") or {}
    if t.publish == "none":
        return (not bindings), ("no ports published" if not bindings else f"published: {bindings}")
    host_ips = {b.get("HostIp") for values in bindings.values() for b in values or []}
    if t.publish == "localhost" and host_ips != {"127.0.0.1"}:
        return False, f"port bindings on {sorted(str(ip) for ip in host_ips)}"
    port = t.ports[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        code = response.status
    if code != 200:
        return False, f"GET 127.0.0.1:{port}/healthz answered {code}"
    other = _non_loopback_address()
    if other and t.publish == "localhost":
        with socket.socket() as connection:
            connection.settimeout(3)
            reached = connection.connect_ex((other, port)) == 0
        if reached:
            return False, f"{other}:{port} accepted a connection"
        return True, f"bound to 127.0.0.1 only; 200 from 127.0.0.1:{port}; {other}:{port} refused"
    return True, f"bindings {sorted(str(ip) for ip in host_ips)}; 200 from 127.0.0.1:{port}"


@probe("healthcheck")
def healthcheck(t: Target) -> tuple[bool, str]:
    health = t.container["State"].get("Health") or {}
    log = health.get("Log") or []
    last = log[-1] if log else {}
    passed = health.get("Status") == "healthy" and last.get("ExitCode") == 0
    return passed, f"status {health.get('Status')}, last probe exit {last.get('ExitCode')}"


@probe("restart-policy")
def restart_policy(t: Target) -> tuple[bool, str]:
    policy = t.host_config.get("RestartPolicy") or {}
    passed = policy.get("Name") == "on-failure" and 0 < int(policy.get("MaximumRetryCount") or 0) <= 5
    return passed, f"{policy.get('Name')}:{policy.get('MaximumRetryCount')}"


@probe("own-network")
def own_network(t: Target) -> tuple[bool, str]:
    names = list((t.container["NetworkSettings"].get("Networks") or {}).keys())
    if not names or "bridge" in names or "host" in names:
        return False, f"networks {names}"
    internal = [engine.inspect("network", name).get("Internal") for name in names]
    if t.publish == "none" and not all(internal):
        return False, f"networks {names} are not internal"
    return True, f"networks {names} (internal: {internal})"


def _image_layers_contain(image: str, needle: bytes) -> bool:
    with tempfile.TemporaryDirectory() as directory:
        archive = Path(directory) / "image.tar"
        engine.docker("save", "--output", str(archive), image, timeout=600)
        with tarfile.open(archive) as outer:
            for member in outer.getmembers():
                handle = outer.extractfile(member)
                if handle is None:
                    continue
                if member.name.endswith(".tar"):
                    with tarfile.open(fileobj=handle) as layer:
                        for item in layer.getmembers():
                            if not item.isfile():
                                continue
                            data = layer.extractfile(item)
                            if data is not None and needle in data.read():
                                return True
                elif needle in handle.read():
                    return True
    return False


@probe("runtime-secrets")
def runtime_secrets(t: Target) -> tuple[bool, str]:
    if not t.secrets:
        return True, "no secrets declared"
    root = hostproc.container_root(t.main_pid)
    env_text = "\n".join((t.container["Config"].get("Env") or []) + (t.image["Config"].get("Env") or []))
    history = engine.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", t.image_name).stdout
    for name, value in t.secrets.items():
        path = root / "run" / "secrets" / name
        info = path.stat()
        readable = (
            (info.st_uid == t.uid and info.st_mode & stat.S_IRUSR)
            or (info.st_gid == t.uid and info.st_mode & stat.S_IRGRP)
            or info.st_mode & stat.S_IROTH
        )
        if not readable or path.read_bytes() != value:
            return False, f"/run/secrets/{name} is not readable by uid {t.uid}"
        text = value.decode("utf-8", "replace")
        if text in env_text or text in history:
            return False, f"the value of {name} appears in the environment or image history"
        if _image_layers_contain(t.image_name, value):
            return False, f"the value of {name} appears in an image layer"
    return True, (f"{', '.join(sorted(t.secrets))} readable by uid {t.uid} at /run/secrets; "
                  "values absent from env, history and every layer")


@probe("log-rotation")
def log_rotation(t: Target) -> tuple[bool, str]:
    config = t.host_config.get("LogConfig") or {}
    options = config.get("Config") or {}
    passed = config.get("Type") == "json-file" and "max-size" in options and "max-file" in options
    return passed, f"{config.get('Type')} {options}"


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
