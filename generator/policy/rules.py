"""Evaluate a policy against a Dockerfile and a compose model: one small check per rule ID.

`evaluate(policy, dockerfile_text, compose_data)` is the one entry point: `new` calls it on the
rendering before anything is written, `policy audit` on an existing project, and `check`/`harden`
can call it on whatever they lint. Either input may be None (only the other is checked). A check
that cannot decide (a base image given through a build argument, a non-numeric USER, a package
named by a variable, a seccomp profile it was not given) reports a violation: a policy is only
worth something if "could not tell" does not pass. The compose rules are in `compose_checks` and
`host_escapes`; the records and the checks both sides share are in `model`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from generator.core.errors import UsageError
from generator.policy.compose_checks import compose_findings
from generator.policy.compose_model import ComposeModel
from generator.policy.files import Policy, rule_keys
from generator.policy.model import Finding, PolicyViolation, image_findings, user_problem
from generator.policy.packages import Installed, installed

__all__ = ["Finding", "PolicyViolation", "compose_findings", "dockerfile_findings", "evaluate"]
GLOB_CHARS = frozenset("*?[")


# --- the Dockerfile, as the checks need it -----------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    cmd: str
    sub_cmd: str
    value: tuple[str, ...]
    json: bool
    line: int
    heredocs: tuple[str, ...] = ()


def _parse(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage; instructions before the first FROM (ARGs) form stage 0 if any."""
    import dockerfile

    try:
        parsed = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise UsageError(f"Dockerfile does not parse: {exc}") from None
    except UnicodeDecodeError:  # the binding cuts some multi-byte characters it hands back
        raise UsageError("Dockerfile does not parse (the parser garbled a non-ASCII character)") from None
    stages: list[list[Instruction]] = [[]]
    for item in parsed:
        instruction = Instruction(item.cmd.upper(), (item.sub_cmd or "").upper(), tuple(item.value), item.json,
                                  item.start_line, tuple(doc.content for doc in item.heredocs or ()))
        if instruction.cmd == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return [stage for stage in stages if stage and stage[0].cmd == "FROM"]


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else word


def _base_images(stages: list[list[Instruction]]) -> Iterator[tuple[str, int]]:
    """(reference, line) of each FROM that pulls an image (not `scratch`, not an earlier stage)."""
    earlier: set[str] = set()
    for stage in stages:
        head = stage[0]
        ref = head.value[0] if head.value else ""
        if ref.lower() not in earlier and ref != "scratch":
            yield ref, head.line
        if len(head.value) >= 3 and head.value[1].upper() == "AS":
            earlier.add(head.value[2].lower())


def _banned(policy: Policy, item: Installed) -> str | None:
    """The banned pattern a package spec hits, if any. A spec that is itself a glob (`cur*`, which apt
    expands) hits a banned name it matches."""
    for name in item.names:
        low = name.lower()
        for pattern in policy.banned_packages:
            if fnmatch.fnmatchcase(low, pattern.lower()) or (
                    GLOB_CHARS & set(low) and fnmatch.fnmatchcase(pattern.lower(), low)):
                return pattern
    return None


def _package_findings(policy: Policy, ins: Instruction, where: str) -> Iterator[Finding]:
    if not policy.banned_packages:
        return
    seen: set[str] = set()
    for item in installed(ins.value, ins.json, ins.heredocs):
        if item.spec in seen:  # a script read twice (grammar and fallback) names a spec twice
            continue
        seen.add(item.spec)
        if not item.names:
            yield Finding("POL013", f"package {item.spec!r:.60} is set at build time and cannot be checked",
                          where, item.spec)
        elif _banned(policy, item) is not None:
            yield Finding("POL013", f"package {item.spec!r:.60} is banned", where, item.spec)


def dockerfile_findings(policy: Policy, text: str, name: str = "Dockerfile") -> list[Finding]:
    stages = _parse(text)
    out: list[Finding] = []
    for ref, line in _base_images(stages):
        where = f"{name}:{line}"
        out.extend(image_findings(policy, ref, where))
    for stage in stages:
        for ins in stage:
            where = f"{name}:{ins.line}"
            for cmd in {ins.cmd, ins.sub_cmd} & set(policy.banned_instructions):
                out.append(Finding("POL012", f"instruction {cmd} is banned", where, cmd))
            if ins.cmd == "RUN" or ins.sub_cmd == "RUN":
                out.extend(_package_findings(policy, ins, where))
    if stages:
        final = stages[-1]
        where = f"{name}:{final[0].line}"
        labels = {_unquote(key) for ins in final if ins.cmd == "LABEL" for key in ins.value[::2]}
        for label in policy.required_labels:
            if label not in labels:
                out.append(Finding("POL003", f"required label {label} is not set in the runtime stage", where, label))
        if policy.uid_min is not None or policy.uid_max is not None:
            users = [ins for ins in final if ins.cmd == "USER"]
            if not users:
                out.append(Finding("POL004", "the runtime stage sets no USER (it runs as the base image's user)",
                                   where, ""))
            else:
                user = users[-1].value[0] if users[-1].value else ""
                problem = user_problem(user, policy)
                if problem:
                    out.append(Finding("POL004", problem, f"{name}:{users[-1].line}", user))
    return out


def evaluate(policy: Policy, dockerfile_text: str | None, compose_data: Mapping[str, Any] | ComposeModel | None,
             seccomp_profiles: Mapping[str, Any] | None = None) -> list[PolicyViolation]:
    """Every violation of `policy` in a Dockerfile and/or a compose model, in file order.

    `compose_data` is one parsed compose file or the merged model of several (`compose_model.load`).
    `seccomp_profiles` maps the profile paths compose names (`seccomp=FILE`) to parsed profiles,
    for the max-syscalls rule.
    """
    keys = rule_keys()
    findings: list[Finding] = []
    if dockerfile_text is not None:
        findings.extend(dockerfile_findings(policy, dockerfile_text))
    if compose_data is not None:
        name = compose_data.name if isinstance(compose_data, ComposeModel) else "compose.yaml"
        findings.extend(compose_findings(policy, compose_data, name, seccomp_profiles))
    return [PolicyViolation(f.rule, keys[f.rule], f.message, f.where, f.value, str(policy.source))
            for f in findings]
