"""`hardcase seccomp diff A B`: what one profile lets through that the other does not, per architecture.

Profiles are compared the way the engine applies them, not as text: for each host architecture
Docker runs on (x86_64, aarch64) a name's effective treatment is the set of rules that apply there
(includes/excludes evaluated as for a container without capabilities on this kernel), or the
default action when no rule names it. Reordering rules, moving names between rules or editing
comments is therefore no difference; an `args` filter or an errnoRet that changes is.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from generator.core.terminal import printable
from generator.profiles.seccomp import DOCKER_ARCH
from generator.profiles.seccomp_check import _PERMITTING, _applies, _rule_names, _version

# One way a rule treats a name: (action, errnoRet or None, canonical args).
Treatment = tuple[str, int | None, tuple[tuple[int, str, int, int], ...]]
_TOP_LEVEL = ("defaultAction", "defaultErrnoRet", "architectures", "archMap")


@dataclass
class ArchDiff:
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    changed: list[dict[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.only_a or self.only_b or self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"only_a": self.only_a, "only_b": self.only_b, "changed": self.changed}


@dataclass
class ProfileDiff:
    top_level: list[dict[str, Any]]
    arches: dict[str, ArchDiff]
    # Host architectures only one profile is written for: their names are not compared.
    one_sided: dict[str, str] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not self.top_level and not self.one_sided and all(d.empty for d in self.arches.values())

    def to_dict(self) -> dict[str, Any]:
        return {"same": self.same, "top_level": self.top_level, "only_one_profile_covers": self.one_sided,
                "arches": {arch: d.to_dict() for arch, d in self.arches.items()}}


def _covers(profile: Mapping[str, Any], main: str) -> bool:
    """Whether the profile is written for hosts of architecture `main` (no list means every host)."""
    listed = [e.get("architecture") for e in profile.get("archMap") or []] + list(profile.get("architectures") or [])
    return not listed or main in listed


def _treatments(profile: Mapping[str, Any], docker_arch: str, kernel: tuple[int, ...]) -> dict[str, set[Treatment]]:
    found: dict[str, set[Treatment]] = {}
    for rule in profile.get("syscalls") or []:
        if not _applies(rule, docker_arch, kernel):
            continue
        action = str(rule["action"])
        errno = rule.get("errnoRet") if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE") else None
        args = tuple(sorted((int(a["index"]), str(a["op"]), int(a["value"]), int(a.get("valueTwo", 0)))
                            for a in rule.get("args") or []))
        for name in _rule_names(rule):
            found.setdefault(name, set()).add((action, errno, args))
    return found


def _default(profile: Mapping[str, Any]) -> set[Treatment]:
    action = str(profile["defaultAction"])
    errno = profile.get("defaultErrnoRet") if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE") else None
    return {(action, errno, ())}


def _allowed(treatments: set[Treatment]) -> bool:
    return any(action in _PERMITTING for action, _, _ in treatments)


def describe(treatments: set[Treatment]) -> str:
    """A treatment in words, e.g. `SCMP_ACT_ALLOW if arg0 == 2 | SCMP_ACT_ERRNO(38)`."""
    parts = []
    for action, errno, args in sorted(treatments, key=repr):
        text = action + (f"({errno})" if errno is not None else "")
        if args:
            conditions = [f"arg{i} & {v:#x} == {v2:#x}" if op == "SCMP_CMP_MASKED_EQ"
                          else f"arg{i} {op.removeprefix('SCMP_CMP_')} {v}" for i, op, v, v2 in args]
            text += " if " + " and ".join(conditions)
        parts.append(text)
    return " | ".join(parts)


def diff_profiles(a: Mapping[str, Any], b: Mapping[str, Any]) -> ProfileDiff:
    """Both profiles must have passed the shape check (seccomp_check.shape_problems)."""
    kernel = _version(platform.release())
    top = [{"key": key, "a": a.get(key), "b": b.get(key)} for key in _TOP_LEVEL if a.get(key) != b.get(key)]
    arches: dict[str, ArchDiff] = {}
    one_sided: dict[str, str] = {}
    for main, docker_arch in DOCKER_ARCH.items():
        label = main.removeprefix("SCMP_ARCH_").lower()
        if _covers(a, main) != _covers(b, main):
            one_sided[label] = "A" if _covers(a, main) else "B"
            continue
        if not _covers(a, main):
            continue
        ta, tb = _treatments(a, docker_arch, kernel), _treatments(b, docker_arch, kernel)
        result = ArchDiff()
        for name in sorted(set(ta) | set(tb)):
            left, right = ta.get(name, _default(a)), tb.get(name, _default(b))
            if left == right:
                continue
            if _allowed(left) and not _allowed(right):
                result.only_a.append(name)
            elif _allowed(right) and not _allowed(left):
                result.only_b.append(name)
            else:
                result.changed.append({"name": name, "a": describe(left), "b": describe(right)})
        arches[label] = result
    return ProfileDiff(top, arches, one_sided)


def render_text(diff: ProfileDiff, label_a: str, label_b: str) -> str:
    """The diff for a terminal: paths and syscall names come from the profiles, so each line is escaped."""
    if diff.same:
        return printable(f"{label_a} and {label_b} allow the same system calls") + "\n"
    lines = [f"--- {label_a} (A)", f"+++ {label_b} (B)"]
    for change in diff.top_level:
        lines.append(f"{change['key']}: {change['a']!r} -> {change['b']!r}")
    for arch, side in diff.one_sided.items():
        lines.append(f"[{arch}] only {side} is written for {arch} hosts; names not compared")
    blocks = list(diff.arches.items())
    # Identical results on every architecture are printed once.
    if len(blocks) > 1 and len({repr(d.to_dict()) for _, d in blocks}) == 1:
        blocks = [(", ".join(diff.arches), blocks[0][1])]
    for arches, arch_diff in blocks:
        if arch_diff.empty:
            lines.append(f"[{arches}] no difference")
            continue
        lines.append(f"[{arches}]")
        if arch_diff.only_a:
            lines.append(f"  allowed only in A ({len(arch_diff.only_a)}): {', '.join(arch_diff.only_a)}")
        if arch_diff.only_b:
            lines.append(f"  allowed only in B ({len(arch_diff.only_b)}): {', '.join(arch_diff.only_b)}")
        for change in arch_diff.changed:
            lines.append(f"  changed {change['name']}: A {change['a']}; B {change['b']}")
    return "\n".join(printable(line) for line in lines) + "\n"
