"""One probe per control: observe behaviour in the running container and say what was seen.

Each probe returns (passed, evidence). Probes read the kernel's view from the host (see
`hostproc`), ask the engine (`docker inspect`), or run a process under the container's own
security settings; `controls.yaml` says, per control, how it is proven and what is expected.

`PROBES` is the table `verify` reads: the confinement probes (`probes_confinement`) and, here, the
probes of what the engine gives and exposes to the service: its resource limits, published ports,
networks, health check, restart policy, secrets and logs.
"""

from __future__ import annotations

import errno
import socket
import stat
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from generator.engine import docker as engine
from generator.engine import hostproc, probes_confinement, rootfs
from generator.engine.probe_target import Probe, Target, registrar

PROBES: dict[str, Probe] = dict(probes_confinement.PROBES)
probe = registrar(PROBES)


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
        path = f"/run/secrets/{name}"  # resolved inside the container's root: a link there never reads a host file
        info = rootfs.stat_path(root, path)
        readable = (
            (info.st_uid == t.uid and info.st_mode & stat.S_IRUSR)
            or (info.st_gid == t.uid and info.st_mode & stat.S_IRGRP)
            or info.st_mode & stat.S_IROTH
        )
        if not readable or rootfs.read_bytes(root, path, len(value) + 1) != value:
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
