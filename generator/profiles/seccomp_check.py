"""Check a seccomp profile the way the kernel will see it: shape, names libseccomp knows, a BPF
compile for x86_64 and aarch64, and dangerous allowances.

Docker 20.10 silently ignores names it cannot resolve, so an unknown name is a hole nobody sees;
this module makes it a finding. pyseccomp is imported only when a profile is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

from generator.profiles.seccomp import CLONE_NAMESPACE_FLAGS, DANGEROUS, DOCKER_ARCH, EPERM, _data

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
MAX_SUGGESTIONS = 20  # "did you mean" for the first unknown names only: a profile of 100000 typos stays fast
# What a system call name can look like (libseccomp's are [a-z0-9_]): any other string is an unknown
# name without asking libseccomp, which cannot even encode some (a lone surrogate from JSON's \ud800).
SYSCALL_NAME_SHAPE = re.compile(r"[A-Za-z0-9_]{1,64}")
MIN_KERNEL = re.compile(r"\d{1,4}\.\d{1,4}(?:\.\d{1,4})?")  # Docker reads minKernel as MAJOR.MINOR


def load_profile(path: Path) -> Any:
    """A profile file parsed as JSON; a syntax error is a usage error that names its line and column."""
    import json

    from generator.core.errors import UsageError, read_user_text

    text = read_user_text(str(path))  # one line for a missing, unreadable or non-regular file (a FIFO would hang)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: JSON syntax error: {exc.msg}") from None
    except ValueError:  # an integer longer than Python converts (4300 digits)
        raise UsageError(f"{path}: not a usable JSON profile (a number too long to read)") from None
    except RecursionError:  # nested deeper than the parser goes
        raise UsageError(f"{path}: not a usable JSON profile (nested too deeply)") from None


def shape_problems(profile: object) -> list[str]:
    """Problems with the profile's structure, before any name is looked up."""
    return _shape_problems(profile)


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


def _shown(value: object) -> str:
    """A value from the profile in a message: its repr, cut short (a wrong-shaped value can be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_one_of(value: object, allowed: frozenset[str] | Mapping[str, str]) -> bool:
    """`value in allowed` for a value of any JSON type (a list or object is unhashable: never a member)."""
    return isinstance(value, str) and value in allowed


def _is_strings(value: object, allowed: frozenset[str] | None = None) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and (allowed is None or v in allowed) for v in value)


def _shape_problems(profile: object) -> list[str]:
    """Every field's type and range, as Docker's and runc's decoders would insist, so the later steps
    (names, compile, diff) only ever see well-shaped data: a profile that is JSON of the wrong shape
    (a list, a string, an object where a list goes, a 5000-digit number) is a problem, not a crash."""
    if not isinstance(profile, dict):
        return ["profile is not a JSON object"]
    problems = [f"unknown top-level key {_shown(k)}" for k in sorted(set(profile) - _TOP_KEYS)]
    if not _is_one_of(profile.get("defaultAction"), ACTIONS):
        problems.append(f"defaultAction {_shown(profile.get('defaultAction'))} is not a seccomp action")
    if "defaultErrnoRet" in profile and not _is_uint(profile["defaultErrnoRet"], 4095):
        problems.append("defaultErrnoRet must be an errno number")
    if "architectures" in profile and "archMap" in profile:
        problems.append("'architectures' and 'archMap' are exclusive (Docker refuses both)")
    if profile.get("architectures") is not None and not _is_strings(profile["architectures"], ARCHES):
        problems.append(f"architectures {_shown(profile['architectures'])} must list known architectures")
    problems += _arch_map_problems(profile.get("archMap"))
    if profile.get("flags") is not None and not _is_strings(profile["flags"]):
        problems.append("'flags' must be a list of strings")
    problems += [f"'{key}' must be a string" for key in ("listenerPath", "listenerMetadata")
                 if profile.get(key) is not None and not isinstance(profile[key], str)]
    rules = profile.get("syscalls")
    if not isinstance(rules, list):
        return [*problems, "'syscalls' must be a list of rules"]
    for i, rule in enumerate(rules):
        problems += [f"syscalls[{i}]: {p}" for p in _rule_problems(rule)]
    return problems


def _arch_map_problems(arch_map: object) -> list[str]:
    if arch_map is None:
        return []
    if not isinstance(arch_map, list):
        return [f"archMap {_shown(arch_map)} must be a list of architecture entries"]
    problems = []
    for entry in arch_map:
        subs = entry.get("subArchitectures") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not _is_one_of(entry.get("architecture"), ARCHES) or not (
                subs is None or _is_strings(subs, ARCHES)):
            problems.append(f"archMap entry {_shown(entry)} names an unknown architecture")
    return problems


def _is_uint(value: object, limit: int = 2**64 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def _rule_problems(rule: object) -> list[str]:
    if not isinstance(rule, dict):
        return ["a rule must be an object"]
    problems = [f"unknown key {_shown(k)}" for k in sorted(set(rule) - _RULE_KEYS)]
    names = rule.get("names")
    if "name" in rule and "names" in rule:
        problems.append("'name' and 'names' are exclusive")
    elif not ((isinstance(names, list) and names and all(isinstance(n, str) and n for n in names))
              or (isinstance(rule.get("name"), str) and rule["name"])):
        problems.append("'names' must be a non-empty list of strings")
    if not _is_one_of(rule.get("action"), ACTIONS):
        problems.append(f"action {_shown(rule.get('action'))} is not a seccomp action")
    if "errnoRet" in rule and (rule.get("action") not in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
                               or not _is_uint(rule["errnoRet"], 4095)):
        problems.append("errnoRet needs SCMP_ACT_ERRNO/TRACE and an errno number")
    if rule.get("comment") is not None and not isinstance(rule["comment"], str):
        problems.append("'comment' must be a string")
    args = rule.get("args") or []
    if not isinstance(args, list) or len(args) > 6:
        problems.append("'args' must be a list of at most 6 comparisons")
        args = []
    for arg in args:
        if not (isinstance(arg, dict) and _is_uint(arg.get("index"), 5) and _is_uint(arg.get("value"))
                and _is_uint(arg.get("valueTwo", 0)) and _is_one_of(arg.get("op"), OPERATORS)):
            problems.append(f"bad argument comparison {_shown(arg)}")
    for key in ("includes", "excludes"):
        gate = rule.get(key) or {}
        if not isinstance(gate, dict) or set(gate) - _FILTER_KEYS:
            problems.append(f"'{key}' may only hold arches, caps and minKernel")
            continue
        if any(gate.get(field) is not None and not _is_strings(gate[field]) for field in ("arches", "caps")):
            problems.append(f"'{key}': arches and caps must be lists of strings")
        if gate.get("minKernel") is not None and not (
                isinstance(gate["minKernel"], str) and MIN_KERNEL.fullmatch(gate["minKernel"])):
            problems.append(f"'{key}': minKernel {_shown(gate['minKernel'])} must be MAJOR.MINOR, e.g. \"4.8\"")
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
    unknown = [(name, i) for name, i in sorted(unresolved.items(), key=lambda item: (item[1], item[0]))
               if name not in newer]
    for count, (name, i) in enumerate(unknown):  # suggestions cost a fuzzy match each: the first few only
        hint = _suggest(sc, name) if count < MAX_SUGGESTIONS and SYSCALL_NAME_SHAPE.fullmatch(name) else ""
        problems.append(f"syscalls[{i}]: unknown syscall name '{name}'{hint}")
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

    close = difflib.get_close_matches(name, _known_names(sc), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


@cache
def _known_names(sc: Any) -> tuple[str, ...]:
    known = []
    for number in range(512):
        try:
            known.append(sc.resolve_syscall(sc.Arch.X86_64, number).decode())
        except ValueError:
            continue
    return tuple(known)


def _unresolvable(sc: Any, profile: Mapping[str, Any]) -> dict[str, int]:
    """Names the local libseccomp knows on none of the arches a profile may be compiled for."""
    arches = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
    arches |= {e["architecture"] for e in profile.get("archMap") or []}
    tokens = [getattr(sc.Arch, a.removeprefix("SCMP_ARCH_")) for a in sorted(arches)
              if hasattr(sc.Arch, a.removeprefix("SCMP_ARCH_"))]
    found: dict[str, int] = {}
    for i, rule in enumerate(profile["syscalls"]):
        for name in _rule_names(rule):
            if not SYSCALL_NAME_SHAPE.fullmatch(name) or all(sc.resolve_syscall(t, name) < 0 for t in tokens):
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
