"""Seccomp allowlists per runtime, in Docker's profile format, and a libseccomp-backed validator.

Docker's default profile allows about 300 system calls because it has to run anything. A hardcase
service runs one known runtime, so its profile allows what that runtime was measured to call
(plus what runc, docker-init and the health check call under the same filter) and nothing else.
The lists live in `data/seccomp/*.yaml`, one group per reason, so a reviewer can see why each name
is there; SYSCALLS-SOURCES.md says how they were measured.

Shapes taken from Docker's default profile (moby/profiles seccomp/default.json, Apache-2.0):
`clone` only without namespace flags (SCMP_CMP_MASKED_EQ on the flags), `clone3` answered with
ENOSYS so glibc falls back to `clone` (seccomp cannot read clone3's flags, which sit in memory),
and `archMap` with the 32-bit sub-architectures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from generator.core import resources

RUNTIMES: tuple[str, ...] = ("python", "node", "go", "java", "rust", "dotnet", "static")
DATA_DIR = resources.DATA_DIR / "seccomp"

# Each of these either breaks the container boundary (namespaces, mounts, other processes' memory,
# kernel modules, kexec, BPF, keyrings), hides work from seccomp (io_uring), or can't be filtered
# (clone3's flags live in memory). Docker's default allows most of them only with a capability that
# hardcase always drops.
DANGEROUS: frozenset[str] = frozenset({
    "_sysctl", "acct", "add_key", "bpf", "chroot", "clock_settime", "clock_settime64", "clone3",
    "create_module", "delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen",
    "fspick", "get_kernel_syms", "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup",
    "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind",
    "migrate_pages", "mount", "mount_setattr", "move_mount", "move_pages", "nfsservctl", "open_by_handle_at",
    "open_tree", "perf_event_open", "pidfd_getfd", "pivot_root", "process_madvise", "process_vm_readv",
    "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
    "set_mempolicy", "setdomainname", "sethostname", "setns", "settimeofday", "stime", "swapoff", "swapon",
    "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd", "vhangup", "vm86", "vm86old",
})

EPERM, ENOSYS = 1, 38
# CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: the mask of Docker's clone rule.
CLONE_NAMESPACE_FLAGS = 0x7E020000
# Families a web service needs: local IPC, IPv4/IPv6, and netlink for getaddrinfo's AI_ADDRCONFIG
# and interface listing. Docker's default allows all but AF_ALG and AF_VSOCK; exotic families are
# where socket-level kernel bugs have lived. (32-bit x86 code can still reach any family through
# socketcall(SYS_SOCKET), whose arguments sit in memory: libseccomp, like Docker, cannot filter it.)
SOCKET_FAMILIES: dict[int, str] = {1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK"}
ARCH_MAP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32")),
    ("SCMP_ARCH_AARCH64", ("SCMP_ARCH_ARM",)),
)
SYSCALL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# runtime.GOARCH names that Docker matches `includes/excludes.arches` against.
DOCKER_ARCH = {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_AARCH64": "arm64"}
_ARCH_ALIASES = {"x86_64": "SCMP_ARCH_X86_64", "amd64": "SCMP_ARCH_X86_64",
                 "aarch64": "SCMP_ARCH_AARCH64", "arm64": "SCMP_ARCH_AARCH64"}
_FILTERED = frozenset({"clone", "clone3", "socket"})  # allowed only through the rules below



@dataclass(frozen=True)
class SyscallGroup:
    """System calls allowed for one reason; the reason is what a reviewer checks them against."""

    name: str
    reason: str
    syscalls: tuple[str, ...]


@cache
def _data(stem: str) -> Mapping[str, Any]:
    from generator.core.yamlio import load_data_file

    data = load_data_file(DATA_DIR / f"{stem}.yaml")
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"{stem}.yaml: expected a mapping with a 'groups' list")
    return data


def _groups(stem: str) -> list[SyscallGroup]:
    groups = []
    for entry in _data(stem)["groups"]:
        names = entry.get("syscalls") if isinstance(entry, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) and SYSCALL_NAME.match(n) for n in names):
            raise ValueError(f"{stem}.yaml: group {entry!r} needs a list of syscall names")
        # Data must never smuggle in a dangerous name. clone3 may be listed (the runtime tries it):
        # the profile answers it with ENOSYS, never allows it.
        if bad := DANGEROUS.intersection(names) - {"clone3"}:
            raise ValueError(f"{stem}.yaml: {entry['name']} lists {sorted(bad)}")
        groups.append(SyscallGroup(str(entry["name"]), " ".join(str(entry["reason"]).split()),
                                   tuple(sorted(set(names)))))
    return groups


def _check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})")


def syscall_groups(runtime: str) -> list[SyscallGroup]:
    """What every container needs (runc, docker-init, kernel), then the runtime's own groups."""
    _check_runtime(runtime)
    return _groups("common") + _groups(runtime)


def _needed(runtime: str) -> set[str]:
    return {name for group in syscall_groups(runtime) for name in group.syscalls}


def _arm64_only(runtime: str) -> list[str]:
    """Replacements for x86_64-only names, allowed only where Docker runs on arm64."""
    needed = _needed(runtime)
    equivalents: Mapping[str, list[str]] = _data("common")["arm64_equivalents"]
    extra = {alt for name in needed for alt in equivalents.get(name, [])}
    return sorted(extra - needed)


def allowed_syscalls(runtime: str, arch: str | None = None) -> frozenset[str]:
    """Names the profile lets through (clone and socket only with filtered arguments).

    With `arch` ("x86_64"/"aarch64"), only the rules Docker applies on that host architecture.
    """
    if arch is not None and arch not in _ARCH_ALIASES:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(_ARCH_ALIASES)})")
    allowed = _needed(runtime) - {"clone3"}
    if arch is None or _ARCH_ALIASES[arch] == "SCMP_ARCH_AARCH64":
        allowed |= set(_arm64_only(runtime))
    return frozenset(allowed)


def build_profile(runtime: str) -> dict[str, Any]:
    """The Docker-format profile; names sorted so regenerated files only change when data does."""
    needed = _needed(runtime)
    rules: list[dict[str, Any]] = [{
        "names": sorted(needed - _FILTERED),
        "action": "SCMP_ACT_ALLOW",
        "comment": f"hardcase {runtime}: measured needs of the runtime, runc, docker-init and the health "
                   "check; reasons per name in generator/data/seccomp",
    }]
    if arm64 := _arm64_only(runtime):
        rules.append({"names": arm64, "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]},
                      "comment": "what aarch64 libc and Go call instead of x86_64-only syscalls"})
    if "socket" in needed:
        rules += [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": family, "op": "SCMP_CMP_EQ"}], "comment": label}
                  for family, label in sorted(SOCKET_FAMILIES.items())]
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": CLONE_NAMESPACE_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}],
                  "comment": "threads and fork, but no new namespaces (Docker's rule without CAP_SYS_ADMIN)"})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS,
                  "comment": "ENOSYS makes glibc fall back to clone, whose flags seccomp can check"})
    return {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": EPERM,
            "archMap": [{"architecture": main, "subArchitectures": list(subs)} for main, subs in ARCH_MAP],
            "syscalls": rules}


def render_profile(runtime: str) -> str:
    """The file hardcase writes: stable bytes for stable data, so regenerating shows no diff."""
    return json.dumps(build_profile(runtime), indent=2) + "\n"
