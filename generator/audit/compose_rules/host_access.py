"""Host objects handed to a service: the Docker socket, sensitive host directories, device nodes
(HC106, HC107, HC111).

Each gives the container something of the host's to read or change around every namespace and
capability limit; the socket and host paths are both found among the service's bind mounts. Only
flagged: each was asked for by someone, and removing it changes what the service can do, so the
owner decides.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from generator.audit.compose import ParsedCompose, item_line
from generator.audit.compose_rules._support import as_list, key_line
from generator.audit.model import ComposeRule, Severity, Violation

SENSITIVE_PATHS = ("/", "/etc", "/proc", "/sys", "/boot", "/dev", "/root", "/var/lib/docker", "/usr", "/lib")
DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
# Read-only time zone files are the one common, harmless mount under /etc.
HARMLESS_READ_ONLY = frozenset({"/etc/localtime", "/etc/timezone"})


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


DOCKER_SOCKET = ComposeRule("HC106", "compose-docker-socket", Severity.ERROR, "the Docker socket is mounted", "5.32",
                            check_docker_socket)
SENSITIVE_MOUNT = ComposeRule("HC107", "compose-sensitive-host-path", Severity.ERROR, "a sensitive host path is "
                              "mounted", "5.6", check_sensitive_mount)
DEVICES = ComposeRule("HC111", "compose-host-devices", Severity.ERROR, "host devices are exposed", "5.18",
                      check_devices)
RULES = (DOCKER_SOCKET, SENSITIVE_MOUNT, DEVICES)
