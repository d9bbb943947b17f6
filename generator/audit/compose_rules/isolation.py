"""Host namespaces shared with a service: network, processes, IPC, hostname, user ids (HC101-HC105).

Each `…: host` setting removes one of the namespaces that keep the container apart from the host;
the rules read the same way, so they share one check. Only flagged: each was asked for by someone,
and removing it changes what the service can do, so the owner decides. The other ways out to the
host are in `confinement` (privileged mode, capabilities, seccomp, AppArmor) and `host_access`
(the Docker socket, host paths, devices).
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.audit.compose import ParsedCompose
from generator.audit.compose_rules._support import key_line
from generator.audit.model import ComposeRule, Severity, Violation


def _namespace(parsed: ParsedCompose, rule: ComposeRule, key: str) -> Iterator[Violation]:
    for service in parsed.services:
        if str(service.node.get(key, "")).strip().lower() == "host":
            yield rule.violation(key_line(service, key), f"{service.name}: {key}: host", service=service.index)


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
RULES = (HOST_NETWORK, HOST_PID, HOST_IPC, HOST_UTS, HOST_USERNS)
