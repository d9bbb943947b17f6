"""The report model: what `check` and `harden` found and changed, per file, in no format yet."""

from __future__ import annotations

from enum import Enum

from generator.audit.model import Rule, Violation
from generator.audit.registry import rule_for
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.model import AppliedFix, ComposeRule
    from generator.audit.packages.versions import PackagePin


class OutputFormat(Enum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


@dataclass(frozen=True)
class FileReport:
    path: str
    findings: tuple[Violation, ...]  # what remains (check: everything found)
    fixed: tuple[AppliedFix, ...] = ()  # harden: what was changed, in the order it was applied
    pins: tuple[PackagePin, ...] = ()  # harden: the package versions written into the file (HC048)
    kind: str = "dockerfile"  # or "compose"


def file_report(path: str, findings: list[Violation], fixed: list[AppliedFix] | None = None,
                pins: list[PackagePin] | None = None, kind: str = "dockerfile") -> FileReport:
    """Findings in line order (the engine keeps rule order, which decides which fix goes first)."""
    return FileReport(path, tuple(sorted(findings, key=lambda v: (v.line, v.rule_id))), tuple(fixed or ()),
                      tuple(pins or ()), kind)


def rule_of(violation: Violation) -> Rule | ComposeRule:
    return rule_for(violation.rule_id)


def fix_state(violation: Violation) -> str:
    """"safe", "needs-review" or "none": can `harden` fix it, and with which flag."""
    rule = rule_of(violation)
    if violation.fix is not None:
        return violation.fix.safety.value
    if rule.fix is None or rule.fix_safety is None or getattr(rule, "fix_known_per_finding", False):
        return "none"
    return rule.fix_safety.value
