"""Confinement switched off: privileged mode, dangerous capabilities, seccomp or AppArmor disabled
(HC100, HC108-HC110).

Each setting lifts the kernel's limits on what root in the container may do (privileged mode lifts
them all at once), which is how most container escapes start. Only flagged: each was asked for by
someone, and removing it changes what the service can do, so the owner decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator.audit.compose import ParsedCompose
from generator.audit.compose_rules._support import as_list, key_line
from generator.audit.model import ComposeRule, Severity, Violation

DANGEROUS_CAPS = frozenset({"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "SYS_BOOT",
                            "SYS_TIME", "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN", "MAC_OVERRIDE", "SYSLOG",
                            "SYS_RESOURCE", "LINUX_IMMUTABLE", "NET_BROADCAST", "AUDIT_CONTROL", "SETFCAP"})


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


PRIVILEGED = ComposeRule("HC100", "compose-privileged", Severity.ERROR, "service runs privileged", "5.5",
                         check_privileged)
DANGEROUS_CAPS_RULE = ComposeRule("HC108", "compose-dangerous-capability", Severity.ERROR, "service adds a dangerous "
                                  "capability", "5.4", check_dangerous_caps)
SECCOMP_UNCONFINED = ComposeRule("HC109", "compose-seccomp-unconfined", Severity.ERROR, "seccomp is disabled",
                                 "5.22", check_seccomp_unconfined)
APPARMOR_UNCONFINED = ComposeRule("HC110", "compose-apparmor-unconfined", Severity.ERROR, "AppArmor is disabled",
                                  "5.2", check_apparmor_unconfined)
RULES = (PRIVILEGED, DANGEROUS_CAPS_RULE, SECCOMP_UNCONFINED, APPARMOR_UNCONFINED)
