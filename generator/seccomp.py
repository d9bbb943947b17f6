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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

RUNTIMES: tuple[str, ...] = ("python", "node", "go", "java", "rust", "dotnet", "static")
DATA_DIR = Path(__file__).resolve().parent / "data" / "seccomp"

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
# runtime.GOARCH names that Docker matches `includes/excludes.arches` against.
DOCKER_ARCH = {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_AARCH64": "arm64"}
_ARCH_ALIASES = {"x86_64": "SCMP_ARCH_X86_64", "amd64": "SCMP_ARCH_X86_64",
                 "aarch64": "SCMP_ARCH_AARCH64", "arm64": "SCMP_ARCH_AARCH64"}
_FILTERED = frozenset({"clone", "clone3", "socket"})  # allowed only through the rules below

ACTIONS = frozenset(f"SCMP_ACT_{a}" for a in ("KILL", "KILL_PROCESS", "KILL_THREAD", "TRAP", "ERRNO", "TRACE",
                                               "ALLOW", "LOG", "NOTIFY"))
_PERMITTING = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"})
OPERATORS = {f"SCMP_CMP_{op}": op for op in ("NE", "LT", "LE", "EQ", "GE", "GT", "MASKED_EQ")}
ARCHES = frozenset(f"SCMP_ARCH_{a}" for a in (
    "X86", "X86_64", "X32", "ARM", "AARCH64", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL", "MIPSEL64",
    "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC", "PARISC64", "RISCV64",
    "LOONGARCH64", "M68K", "SH", "SHEB"))
_TOP_KEYS = frozenset({"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls",
                       "listenerPath", "listenerMetadata", "flags"})
_RULE_KEYS = frozenset({"name", "names", "action", "args", "comment", "includes", "excludes", "errnoRet"})
_FILTER_KEYS = frozenset({"arches", "caps", "minKernel"})
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class SyscallGroup:
    """System calls allowed for one reason; the reason is what a reviewer checks them against."""

    name: str
    reason: str
    syscalls: tuple[str, ...]


@cache
def _data(stem: str) -> Mapping[str, Any]:
    from .yamlio import load_data_file

    data = load_data_file(DATA_DIR / f"{stem}.yaml")
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"{stem}.yaml: expected a mapping with a 'groups' list")
    return data


def _groups(stem: str) -> list[SyscallGroup]:
    groups = []
    for entry in _data(stem)["groups"]:
        names = entry.get("syscalls") if isinstance(entry, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) and _NAME.match(n) for n in names):
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


def _rule_names(rule: Mapping[str, Any]) -> list[str]:
    names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _clone_is_masked(rule: Mapping[str, Any]) -> bool:
    for arg in rule.get("args") or []:
        if (isinstance(arg, dict) and arg.get("op") == "SCMP_CMP_MASKED_EQ" and arg.get("index") in (0, 1)
                and isinstance(arg.get("value"), int) and isinstance(arg.get("valueTwo", 0), int)
                and arg["value"] & CLONE_NAMESPACE_FLAGS == CLONE_NAMESPACE_FLAGS
                and arg.get("valueTwo", 0) & CLONE_NAMESPACE_FLAGS == 0):
            return True
    return False


def dangerous_allowed(profile: Mapping[str, Any]) -> list[str]:
    """DANGEROUS names some rule (or a permissive default) lets through, plus `clone` without the mask.

    A rule gated on capabilities still counts: the profile may be used where they are granted.
    """
    rules = [r for r in profile.get("syscalls") or [] if isinstance(r, dict)]
    found: set[str] = set()
    if profile.get("defaultAction") in _PERMITTING:
        denied = {n for r in rules if r.get("action") not in _PERMITTING and not r.get("args")
                  for n in _rule_names(r)}
        found |= DANGEROUS - denied
    for rule in (r for r in rules if r.get("action") in _PERMITTING):
        names = set(_rule_names(rule))
        found |= names & DANGEROUS
        if "clone" in names and not _clone_is_masked(rule):
            found.add("clone")
    return sorted(found)


def _shape_problems(profile: object) -> list[str]:
    if not isinstance(profile, dict):
        return ["profile is not a JSON object"]
    problems = [f"unknown top-level key '{k}'" for k in sorted(set(profile) - _TOP_KEYS)]
    if profile.get("defaultAction") not in ACTIONS:
        problems.append(f"defaultAction {profile.get('defaultAction')!r} is not a seccomp action")
    if "defaultErrnoRet" in profile and not _is_uint(profile["defaultErrnoRet"], 4095):
        problems.append("defaultErrnoRet must be an errno number")
    if "architectures" in profile and "archMap" in profile:
        problems.append("'architectures' and 'archMap' are exclusive (Docker refuses both)")
    for entry in profile.get("archMap") or []:
        subs = entry.get("subArchitectures") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or entry.get("architecture") not in ARCHES or not (
                subs is None or (isinstance(subs, list) and set(subs) <= ARCHES)):
            problems.append(f"archMap entry {entry!r} names an unknown architecture")
    rules = profile.get("syscalls")
    if not isinstance(rules, list):
        return [*problems, "'syscalls' must be a list of rules"]
    for i, rule in enumerate(rules):
        problems += [f"syscalls[{i}]: {p}" for p in _rule_problems(rule)]
    return problems


def _is_uint(value: object, limit: int = 2**64 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def _rule_problems(rule: object) -> list[str]:
    if not isinstance(rule, dict):
        return ["a rule must be an object"]
    problems = [f"unknown key '{k}'" for k in sorted(set(rule) - _RULE_KEYS)]
    names = rule.get("names")
    if "name" in rule and "names" in rule:
        problems.append("'name' and 'names' are exclusive")
    elif not ((isinstance(names, list) and names and all(isinstance(n, str) and n for n in names))
              or (isinstance(rule.get("name"), str) and rule["name"])):
        problems.append("'names' must be a non-empty list of strings")
    if rule.get("action") not in ACTIONS:
        problems.append(f"action {rule.get('action')!r} is not a seccomp action")
    if "errnoRet" in rule and (rule.get("action") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
                               or not _is_uint(rule["errnoRet"], 4095)):
        problems.append("errnoRet needs SCMP_ACT_ERRNO/TRACE and an errno number")
    args = rule.get("args") or []
    if not isinstance(args, list) or len(args) > 6:
        problems.append("'args' must be a list of at most 6 comparisons")
        args = []
    for arg in args:
        if not (isinstance(arg, dict) and _is_uint(arg.get("index"), 5) and _is_uint(arg.get("value"))
                and _is_uint(arg.get("valueTwo", 0)) and arg.get("op") in OPERATORS):
            problems.append(f"bad argument comparison {arg!r}")
    for key in ("includes", "excludes"):
        gate = rule.get(key) or {}
        if not isinstance(gate, dict) or set(gate) - _FILTER_KEYS:
            problems.append(f"'{key}' may only hold arches, caps and minKernel")
    return problems


def _applies(rule: Mapping[str, Any], docker_arch: str, kernel: tuple[int, ...]) -> bool:
    """Docker's rule selection (profiles/seccomp setupSeccomp) for a container with no capabilities."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if docker_arch in (exc.get("arches") or []):
        return False
    if exc.get("minKernel") and kernel >= _version(exc["minKernel"]):
        return False
    if inc.get("arches") and docker_arch not in inc["arches"]:
        return False
    return not inc.get("caps") and not (inc.get("minKernel") and kernel < _version(inc["minKernel"]))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def _build_filter(sc: Any, profile: Mapping[str, Any], main: str,
                  skip: Iterable[str]) -> tuple[Any, list[str]]:
    """A libseccomp filter for one host architecture (and its archMap sub-arches), as runc builds it."""
    import platform

    def action(name: str, errno: object) -> int:
        simple = {"SCMP_ACT_ALLOW": sc.ALLOW, "SCMP_ACT_LOG": sc.LOG, "SCMP_ACT_TRAP": sc.TRAP,
                  "SCMP_ACT_KILL": sc.KILL, "SCMP_ACT_KILL_THREAD": sc.KILL, "SCMP_ACT_NOTIFY": sc.NOTIFY,
                  "SCMP_ACT_KILL_PROCESS": sc.KILL_PROCESS}
        if name in simple:
            return int(simple[name])
        number = errno if isinstance(errno, int) else EPERM
        return int(sc.ERRNO(number) if name == "SCMP_ACT_ERRNO" else sc.TRACE(number))

    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    flt = sc.SyscallFilter(default)
    subs = next((e.get("subArchitectures") or [] for e in profile.get("archMap") or []
                 if e.get("architecture") == main), [])
    tokens = [getattr(sc.Arch, a.removeprefix("SCMP_ARCH_")) for a in [main, *subs]
              if hasattr(sc.Arch, a.removeprefix("SCMP_ARCH_"))]
    for token in tokens:
        if not flt.exist_arch(token):
            flt.add_arch(token)
    if sc.system_arch() not in tokens:
        flt.remove_arch(sc.system_arch())
    problems, skipped, kernel = [], set(skip), _version(platform.release())
    for i, rule in enumerate(profile["syscalls"]):
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default or not _applies(rule, DOCKER_ARCH[main], kernel):
            continue  # runc skips rules that repeat the default action
        args = [sc.Arg(a["index"], getattr(sc, OPERATORS[a["op"]]), a["value"], a.get("valueTwo", 0))
                for a in rule.get("args") or []]
        indexes = [a["index"] for a in rule.get("args") or []]
        # runc: comparisons on distinct arguments are ANDed; repeated ones become separate rules (OR).
        arg_sets = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
        for name in (n for n in _rule_names(rule) if n not in skipped):
            for arg_set in arg_sets:
                try:
                    flt.add_rule(act, name, *arg_set)
                except OSError as exc:
                    problems.append(f"syscalls[{i}] {name}: libseccomp rejects it on {main}: {exc.strerror}")
    return flt, problems


def _import_seccomp() -> Any:
    import pyseccomp  # lazy: libseccomp is only needed to check, not to generate

    return pyseccomp


def validate_profile(profile: object) -> list[str]:
    """Problems with a Docker-format profile: shape, unknown names, libseccomp compile, dangerous allows.

    Docker 20.10 silently drops names its libseccomp cannot resolve, so a typo would quietly deny a
    syscall (or fail to deny one). A name must exist on x86_64 or aarch64 (or their 32-bit
    sub-arches, or another archMap architecture). Syscalls newer than Debian 12's libseccomp 2.5.4
    are real: they are not reported, and compiling skips them because a runc built against 2.5.4
    drops them too, which for an allow rule means the call is denied (fail closed).
    """
    import tempfile  # imported here: generating a profile must stay cheap

    problems = _shape_problems(profile)
    if problems or not isinstance(profile, dict):
        return problems
    try:
        sc = _import_seccomp()
    except (ImportError, RuntimeError, OSError) as exc:
        return [f"cannot check names or compile: libseccomp unavailable ({exc})"]
    newer = set(_data("common")["newer_than_libseccomp_2_5_4"])
    unresolved = _unresolvable(sc, profile)
    for name, i in sorted(unresolved.items(), key=lambda item: (item[1], item[0])):
        if name not in newer:
            problems.append(f"syscalls[{i}]: unknown syscall name '{name}'{_suggest(sc, name)}")
    for main in DOCKER_ARCH:
        flt, compile_problems = _build_filter(sc, profile, main, unresolved)
        problems += compile_problems
        with tempfile.TemporaryFile() as bpf:
            try:
                flt.export_bpf(bpf)
            except OSError as exc:
                problems.append(f"libseccomp cannot export BPF for {main} ({exc.strerror})")
                continue
            instructions = bpf.tell() // 8
            if not 0 < instructions <= 4096:  # BPF_MAXINSNS: the kernel refuses longer programs
                problems.append(f"BPF program for {main} has {instructions} instructions (kernel limit 4096)")
    return problems + [f"dangerous syscall allowed: {name}" for name in dangerous_allowed(profile)]


def _suggest(sc: Any, name: str) -> str:
    import difflib

    known = []
    for number in range(512):
        try:
            known.append(sc.resolve_syscall(sc.Arch.X86_64, number).decode())
        except ValueError:
            continue
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unresolvable(sc: Any, profile: Mapping[str, Any]) -> dict[str, int]:
    """Names the local libseccomp knows on none of the arches a profile may be compiled for."""
    arches = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
    arches |= {e["architecture"] for e in profile.get("archMap") or []}
    tokens = [getattr(sc.Arch, a.removeprefix("SCMP_ARCH_")) for a in sorted(arches)
              if hasattr(sc.Arch, a.removeprefix("SCMP_ARCH_"))]
    found: dict[str, int] = {}
    for i, rule in enumerate(profile["syscalls"]):
        for name in _rule_names(rule):
            if all(sc.resolve_syscall(t, name) < 0 for t in tokens):
                found.setdefault(name, i)
    return found


def load_into_current_process(profile: Mapping[str, Any]) -> None:
    """Apply the profile to this process (and its future children) the way runc would on this host.

    Irreversible: call it only in a child process, e.g. to prove a profile on the host kernel.
    """
    if problems := _shape_problems(profile):
        raise ValueError("; ".join(problems))
    sc = _import_seccomp()
    native = {sc.Arch.X86_64: "SCMP_ARCH_X86_64", sc.Arch.AARCH64: "SCMP_ARCH_AARCH64"}.get(sc.system_arch())
    if native is None:
        raise OSError("only x86_64 and aarch64 hosts are supported")
    flt, problems = _build_filter(sc, profile, native, _unresolvable(sc, profile))
    if problems:
        raise ValueError("; ".join(problems))
    flt.load()
