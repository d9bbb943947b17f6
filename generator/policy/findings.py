"""The org policy in `hardcase check` and `hardcase harden`: policy violations as findings.

A policy applies to a Dockerfile when `--policy FILE` is given, when `HARDCASE_POLICY` is set, or
when a `hardcase-policy.yaml` sits in the Dockerfile's directory or any directory above it (the
same discovery as `policy audit`, started from the file's directory, not the working directory).
Only the Dockerfile-level rules are evaluated (`compose_data=None`): `check` reports on the
Dockerfile it was given, and compose-level rules (read_only, cap_drop, ports, ...) belong to
`policy audit`, which sees the whole project.

Each violation becomes a `Violation` with the POLxxx ID as its rule (severity error, no fix), so the
text, JSON and SARIF reports and the exit status treat it like any other finding: producing one
registers the POL rules with `generator.audit.registry`, where the audit flow looks rules up.
Policy findings cannot be suppressed (`.hardcase-check.yaml` rejects POL IDs, inline ignores do not apply): a
project must not be able to switch its org's policy off.

Plain `check` runs with no policy in sight must stay fast, so this module imports only `os` at the
top; the policy modules (which need pathlib, dataclasses, typing, ruamel, the Go parser) are loaded
only once `policy_in_force` says a policy exists.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.model import Rule, Violation
    from generator.policy.files import Policy

POLICY_FILE = "hardcase-policy.yaml"  # policy.POLICY_FILE (a test keeps them equal)
POLICY_ENV = "HARDCASE_POLICY"  # policy.POLICY_ENV
POLICY_PREFIX = "POL"


def _project_policy(directory: str) -> str | None:
    """The nearest hardcase-policy.yaml in `directory` or above (os.path only: cheap)."""
    current = os.path.realpath(directory)
    while True:
        candidate = os.path.join(current, POLICY_FILE)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def policy_in_force(directory: str, explicit: str | None) -> bool:
    return explicit is not None or bool(os.environ.get(POLICY_ENV)) or _project_policy(directory) is not None


class PolicyLookup:
    """The policies for each Dockerfile's directory, loaded once per directory in one run."""

    def __init__(self, explicit: str | os.PathLike[str] | None = None) -> None:
        self.explicit = os.fspath(explicit) if explicit is not None else None
        self.cache: dict[str, list[Policy]] = {}

    def policies(self, dockerfile: str | os.PathLike[str]) -> list[Policy]:
        directory = os.path.dirname(os.fspath(dockerfile)) or "."
        if not policy_in_force(directory, self.explicit):
            return []
        key = os.path.realpath(directory)
        found = self.cache.get(key)
        if found is None:
            from pathlib import Path

            from generator.policy.files import discover

            found = discover(Path(directory), Path(self.explicit) if self.explicit is not None else None)
            self.cache[key] = found
        return found

    def findings(self, dockerfile: str | os.PathLike[str], text: str) -> list[Violation]:
        """The Dockerfile-level policy violations of `text` (the content of `dockerfile`), as findings."""
        policies = self.policies(dockerfile)
        return violations(policies, text, os.fspath(dockerfile)) if policies else []


def violations(policies: list[Policy], text: str, path: str) -> list[Violation]:
    from generator.audit.model import Violation
    from generator.audit.registry import register
    from generator.core.errors import UsageError
    from generator.policy.rules import evaluate

    register(POLICY_PREFIX, policy_rule)  # reports look up the POLxxx rules of these findings
    found: list[Violation] = []
    seen: set[tuple[str, int, str]] = set()
    for policy in policies:
        try:
            evaluated = evaluate(policy, text, None)
        except UsageError as exc:
            raise UsageError(f"{path}: policy {policy.source}: {exc}") from None
        for item in evaluated:
            line = int(item.where.rpartition(":")[2] or 1)
            if (item.rule, line, item.message) in seen:  # org and project policy asking the same
                continue
            seen.add((item.rule, line, item.message))
            found.append(Violation(item.rule, line, f"{item.message} (policy {item.policy})"))
    return found


def is_policy_rule(rule_id: str) -> bool:
    return rule_id.startswith(POLICY_PREFIX)


_RULES: dict[str, Rule] = {}


def policy_rule(rule_id: str) -> Rule:
    """The POLxxx rule as a report-ready `Rule` (severity error, no fix), from the policy schema."""
    if not _RULES:
        from generator.audit.model import Rule, Severity
        from generator.policy.files import rules

        for info in rules():
            def check(parsed: object) -> tuple[()]:
                return ()

            check.__doc__ = (f"What it does: {info.help}\n\nSet by the org policy (`{info.key}` in "
                             f"{POLICY_FILE} or {POLICY_ENV}); `check` reports it, `harden` does not fix it "
                             f"and nothing suppresses it.")
            _RULES[info.id] = Rule(info.id, f"policy-{info.key.replace('.', '-').replace('_', '-')}",
                                   Severity.ERROR, info.help.rstrip("."), None, None, check)
    return _RULES[rule_id]
