"""Ways out to the host: privileged mode, host namespaces, host paths and devices, dangerous
capabilities, disabled seccomp/AppArmor. Only flagged: each was asked for by someone, and removing
it changes what the service can do, so the owner decides."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from generator.audit.compose import ParsedCompose, item_line
from generator.audit.compose_rules import ComposeRule, Severity, Violation
from generator.audit.compose_rules._support import as_list, key_line

SENSITIVE_PATHS = ("/", "/etc", "/proc", "/sys", "/boot", "/dev", "/root", "/var/lib/docker", "/usr", "/lib")
DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
# Read-only time zone files are the one common, harmless mount under /etc.
HARMLESS_READ_ONLY = frozenset({"/etc/localtime", "/etc/timezone"})
DANGEROUS_CAPS = frozenset({"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "SYS_BOOT",
                            "SYS_TIME", "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG",
                            "SYS_RESOURCE", "LINUX_IMMUTABLE", "NET_BROADCAST", "AUDIT_CONTROL", "SETFCAP"})


def _namespace(parsed: ParsedCompose, rule: ComposeRule, key: str) -> Iterator[Violation]:
    for service in parsed.services:
        if str(service.node.get(key, "")).strip().lower() == "host":
            yield rule.violation(key_line(service, key), f"{service.name}: {key}: host", service=service.index)


def check_privileged(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service sets `privileged: true`.

    Why is this bad?
    A privileged container has every capability, every device and no seccomp or AppArmor
    confinement: root in it is root on the host (CIS Docker Benchmark 5.5).

    Example:
    ```yaml
    services:
      agent:
        image: example/agent:1.4
        privileged: true
    ```

    Use instead:
    ```yaml
    services:
      agent:
        image: example/agent:1.4
        cap_drop: [ALL]
        cap_add: [NET_BIND_SERVICE]   # only what it really needs
    ```

    Fix safety:
    Not fixable: what the service needs instead (a capability, a device) is for its owner to say.
    """
    for service in parsed.services:
        if service.node.get("privileged") is True:
            yield PRIVILEGED.violation(key_line(service, "privileged"), service.name, service=service.index)


def check_host_network(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service uses the host's network namespace (`network_mode: host`).

    Why is this bad?
    The container sees every interface of the host, can bind any host port and reach services
    listening on the host's loopback (CIS Docker Benchmark 5.10).

    Example:
    ```yaml
    services:
      web:
        network_mode: host
    ```

    Use instead:
    ```yaml
    services:
      web:
        ports: ["127.0.0.1:8080:8080"]
    ```

    Fix safety:
    Not fixable: the ports the service needs have to be published by its owner.
    """
    yield from _namespace(parsed, HOST_NETWORK, "network_mode")


def check_host_pid(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service shares the host's process namespace (`pid: host`).

    Why is this bad?
    The container sees, and with enough privilege signals or traces, every process on the host
    (CIS Docker Benchmark 5.16).

    Example:
    ```yaml
    services:
      monitor:
        pid: host
    ```

    Use instead:
    ```yaml
    services:
      monitor:
        image: example/monitor:2   # its own process namespace (the default)
    ```

    Fix safety:
    Not fixable: a service that asks for it usually monitors the host; its owner decides.
    """
    yield from _namespace(parsed, HOST_PID, "pid")


def check_host_ipc(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service shares the host's IPC namespace (`ipc: host`).

    Why is this bad?
    Shared memory segments and semaphores of host processes become readable and writable from the
    container (CIS Docker Benchmark 5.17).

    Example:
    ```yaml
    services:
      app:
        ipc: host
    ```

    Use instead:
    ```yaml
    services:
      app:
        ipc: private
    ```

    Fix safety:
    Not fixable: the owner has to say why the service shares host IPC.
    """
    yield from _namespace(parsed, HOST_IPC, "ipc")


def check_host_uts(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service shares the host's UTS namespace (`uts: host`).

    Why is this bad?
    The container can change the host's hostname and domain name (CIS Docker Benchmark 5.21).

    Example:
    ```yaml
    services:
      app:
        uts: host
    ```

    Use instead:
    ```yaml
    services:
      app:
        hostname: app
    ```

    Fix safety:
    Not fixable: the owner has to say why the service needs the host's hostname.
    """
    yield from _namespace(parsed, HOST_UTS, "uts")


def check_host_userns(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service opts out of the daemon's user namespace remapping (`userns_mode: host`).

    Why is this bad?
    With remapping, root in the container is an unprivileged user on the host; `userns_mode: host`
    turns that protection off for the service (CIS Docker Benchmark 5.31).

    Example:
    ```yaml
    services:
      app:
        userns_mode: host
    ```

    Use instead:
    ```yaml
    services:
      app:
        image: example/app:1   # the daemon's user namespace (the default)
    ```

    Fix safety:
    Not fixable: the owner has to say why the service needs host uids.
    """
    yield from _namespace(parsed, HOST_USERNS, "userns_mode")


def _binds(parsed: ParsedCompose) -> Iterator[tuple[int, int, str, str, bool]]:
    """(service index, line, service name, host path, read-only) for every bind mount."""
    for service in parsed.services:
        volumes = service.node.get("volumes")
        for index, entry in enumerate(as_list(volumes)):
            line = item_line(volumes, index, key_line(service, "volumes"))
            if isinstance(entry, dict):
                if entry.get("type") != "bind" or not isinstance(entry.get("source"), str):
                    continue
                source, read_only = entry["source"], entry.get("read_only") is True
            else:
                parts = str(entry).split(":")
                if len(parts) < 2:
                    continue
                source, read_only = parts[0], "ro" in (parts[2].split(",") if len(parts) > 2 else [])
            if source.startswith("/"):
                yield service.index, line, service.name, posixpath.normpath(source), read_only


def check_docker_socket(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service mounts the Docker socket (`/var/run/docker.sock`).

    Why is this bad?
    Whoever can talk to the socket can start a privileged container with the host's root
    filesystem mounted: it is root on the host, read-only mount or not (CIS Docker Benchmark 5.32).

    Example:
    ```yaml
    services:
      proxy:
        volumes:
          - /var/run/docker.sock:/var/run/docker.sock
    ```

    Use instead:
    ```yaml
    services:
      proxy:
        environment:
          DOCKER_HOST: tcp://socket-proxy:2375   # a filtering socket proxy on an internal network
    ```

    Fix safety:
    Not fixable: the service needs another way to learn what it reads from the engine.
    """
    for index, line, name, source, _ in _binds(parsed):
        if source in DOCKER_SOCKETS:
            yield DOCKER_SOCKET.violation(line, f"{name}: {source}", service=index)


def check_sensitive_mount(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service bind-mounts a sensitive host directory: `/`, `/etc`, `/proc`, `/sys`,
    `/boot`, `/dev`, `/root`, `/usr`, `/lib`, `/var/lib/docker` or anything below them (read-only
    `/etc/localtime` and `/etc/timezone` excepted).

    Why is this bad?
    Writable, these let the container change the host's configuration, kernel settings or other
    containers' data; even read-only they leak credentials and keys (CIS Docker Benchmark 5.6).

    Example:
    ```yaml
    services:
      agent:
        volumes:
          - /etc:/host/etc
    ```

    Use instead:
    ```yaml
    services:
      agent:
        volumes:
          - ./agent.conf:/etc/agent.conf:ro
    ```

    Fix safety:
    Not fixable: which files the service really needs is for its owner to say.
    """
    for index, line, name, source, read_only in _binds(parsed):
        if source in DOCKER_SOCKETS or (read_only and source in HARMLESS_READ_ONLY):
            continue
        if any(source == path or (path != "/" and source.startswith(path + "/")) for path in SENSITIVE_PATHS):
            yield SENSITIVE_MOUNT.violation(line, f"{name}: {source}", service=index)


def _caps(value: Any) -> list[str]:
    return [str(cap).upper().removeprefix("CAP_") for cap in as_list(value)]


def check_dangerous_caps(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service adds a capability that amounts to host control: `ALL`, `SYS_ADMIN`,
    `NET_ADMIN`, `SYS_PTRACE`, `SYS_MODULE`, `SYS_RAWIO`, `DAC_READ_SEARCH`, `BPF`, …

    Why is this bad?
    `SYS_ADMIN` alone allows mounts and most container escapes; `SYS_MODULE` loads kernel code;
    `SYS_PTRACE` reads other processes' memory (CIS Docker Benchmark 5.4).

    Example:
    ```yaml
    services:
      vpn:
        cap_add: [NET_ADMIN, SYS_ADMIN]
    ```

    Use instead:
    ```yaml
    services:
      vpn:
        cap_drop: [ALL]
        cap_add: [NET_BIND_SERVICE]
    ```

    Fix safety:
    Not fixable: a service that asks for one usually needs it; its owner decides.
    """
    for service in parsed.services:
        dangerous = [cap for cap in _caps(service.node.get("cap_add")) if cap in DANGEROUS_CAPS]
        if dangerous:
            yield DANGEROUS_CAPS_RULE.violation(key_line(service, "cap_add"),
                                                f"{service.name}: {', '.join(dangerous)}", service=service.index)


def _security_opts(parsed: ParsedCompose, kind: str) -> Iterator[tuple[int, int, str]]:
    for service in parsed.services:
        for option in as_list(service.node.get("security_opt")):
            name, _, value = str(option).replace("=", ":", 1).partition(":")
            if name.strip().lower() == kind and value.strip().lower() == "unconfined":
                yield service.index, key_line(service, "security_opt"), service.name


def check_seccomp_unconfined(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service turns seccomp off (`security_opt: [seccomp:unconfined]`).

    Why is this bad?
    Without a seccomp filter every system call reaches the kernel, including the ones most
    container escapes use (`unshare`, `mount`, `keyctl`, `bpf`, …) (CIS Docker Benchmark 5.22).

    Example:
    ```yaml
    services:
      app:
        security_opt: ["seccomp:unconfined"]
    ```

    Use instead:
    ```yaml
    services:
      app:
        security_opt: ["seccomp=./seccomp.json"]   # or no seccomp option: Docker's default profile
    ```

    Fix safety:
    Not fixable: the owner has to find the system call the service needed (`hardcase seccomp`).
    """
    for index, line, name in _security_opts(parsed, "seccomp"):
        yield SECCOMP_UNCONFINED.violation(line, name, service=index)


def check_apparmor_unconfined(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service turns AppArmor off (`security_opt: [apparmor:unconfined]`).

    Why is this bad?
    On hosts that enforce AppArmor, the default `docker-default` profile blocks writes to `/proc`
    and `/sys` and mounts; unconfined drops all of that (CIS Docker Benchmark 5.2).

    Example:
    ```yaml
    services:
      app:
        security_opt: ["apparmor:unconfined"]
    ```

    Use instead:
    ```yaml
    services:
      app:
        security_opt: ["apparmor=docker-default"]
    ```

    Fix safety:
    Not fixable: the owner has to find what the profile blocked.
    """
    for index, line, name in _security_opts(parsed, "apparmor"):
        yield APPARMOR_UNCONFINED.violation(line, name, service=index)


def check_devices(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service is given host devices (`devices`, `device_cgroup_rules`).

    Why is this bad?
    A host device node gives direct access to hardware or kernel interfaces (disks, `/dev/mem`,
    `/dev/kvm`, USB) around every container boundary (CIS Docker Benchmark 5.18).

    Example:
    ```yaml
    services:
      app:
        devices: ["/dev/sda:/dev/sda"]
    ```

    Use instead:
    ```yaml
    services:
      app:
        volumes: ["data:/data"]   # a volume, not the device
    ```

    Fix safety:
    Not fixable: a service that asks for a device usually needs it; its owner decides.
    """
    for service in parsed.services:
        for key in ("devices", "device_cgroup_rules"):
            entries = as_list(service.node.get(key))
            if entries:
                yield DEVICES.violation(key_line(service, key), f"{service.name}: {', '.join(map(str, entries))}",
                                        service=service.index)


PRIVILEGED = ComposeRule("HC100", "compose-privileged", Severity.ERROR, "service runs privileged", "5.5",
                         check_privileged)
HOST_NETWORK = ComposeRule("HC101", "compose-host-network", Severity.ERROR, "service shares the host's network "
                           "namespace", "5.10", check_host_network)
HOST_PID = ComposeRule("HC102", "compose-host-pid", Severity.ERROR, "service shares the host's process namespace",
                       "5.16", check_host_pid)
HOST_IPC = ComposeRule("HC103", "compose-host-ipc", Severity.ERROR, "service shares the host's IPC namespace", "5.17",
                       check_host_ipc)
HOST_UTS = ComposeRule("HC104", "compose-host-uts", Severity.ERROR, "service shares the host's UTS namespace", "5.21",
                       check_host_uts)
HOST_USERNS = ComposeRule("HC105", "compose-host-userns", Severity.ERROR, "service shares the host's user namespace",
                          "5.31", check_host_userns)
DOCKER_SOCKET = ComposeRule("HC106", "compose-docker-socket", Severity.ERROR, "the Docker socket is mounted", "5.32",
                            check_docker_socket)
SENSITIVE_MOUNT = ComposeRule("HC107", "compose-sensitive-host-path", Severity.ERROR, "a sensitive host path is "
                              "mounted", "5.6", check_sensitive_mount)
DANGEROUS_CAPS_RULE = ComposeRule("HC108", "compose-dangerous-capability", Severity.ERROR, "service adds a dangerous "
                                  "capability", "5.4", check_dangerous_caps)
SECCOMP_UNCONFINED = ComposeRule("HC109", "compose-seccomp-unconfined", Severity.ERROR, "seccomp is disabled",
                                 "5.22", check_seccomp_unconfined)
APPARMOR_UNCONFINED = ComposeRule("HC110", "compose-apparmor-unconfined", Severity.ERROR, "AppArmor is disabled",
                                  "5.2", check_apparmor_unconfined)
DEVICES = ComposeRule("HC111", "compose-host-devices", Severity.ERROR, "host devices are exposed", "5.18",
                      check_devices)
RULES = (PRIVILEGED, HOST_NETWORK, HOST_PID, HOST_IPC, HOST_UTS, HOST_USERNS, DOCKER_SOCKET, SENSITIVE_MOUNT,
         DANGEROUS_CAPS_RULE, SECCOMP_UNCONFINED, APPARMOR_UNCONFINED, DEVICES)
