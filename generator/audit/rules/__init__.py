"""The rule registry: every rule is a record, and its ID is stable and never reused.

A rule says what it checks (`check` yields `Violation`s), whether it can fix (`fix`, separate from
the check so `hardcase check` never computes edits) and how safe its fix is. Its documentation is
the check function's docstring, with fixed sections that `scripts/rules_table.py` and a test read.
Suppression and config ignores live in the engine (`generator.lint`), never in a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from generator.audit.fix import Fix, FixSafety
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.compose_rules import ComposeRule
    from generator.audit.dockerfile import ParsedDockerfile

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")
# Where the rule documentation is published (the README's rule table, generated from this registry).
# The project has no public home yet: change PROJECT_URL when it is published.
PROJECT_URL = "https://github.com/hardcase-dev/hardcase"
HELP_URI = f"{PROJECT_URL}/blob/main/README.md#rules-hardcase-check--harden"


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    STYLE = "style"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1, "style": 0}[self.value]


@dataclass(frozen=True)
class Violation:
    rule_id: str
    line: int  # 1-based
    message: str
    column: int | None = None  # 1-based
    instruction: int = -1  # index of the instruction the fix works on
    fix: Fix | None = None


CheckFn = Callable[["ParsedDockerfile"], Iterable[Violation]]
FixFn = Callable[["ParsedDockerfile", Violation], "Fix | None"]


@dataclass(frozen=True)
class Rule:
    id: str  # HC + 3 digits
    name: str  # kebab-case
    severity: Severity
    message: str  # one line: what is wrong
    cis: str | None  # CIS Docker Benchmark item
    hadolint: str | None  # equivalent hadolint rule
    check: CheckFn
    fix: FixFn | None = None
    fix_safety: FixSafety | None = None  # the safety of the rule's fixes (some fixes may be stricter)

    @property
    def doc(self) -> str:
        import textwrap

        return textwrap.dedent("    " + (self.check.__doc__ or "").strip()).strip()

    def violation(self, line: int, detail: str = "", *, instruction: int = -1, column: int | None = None) -> Violation:
        message = f"{self.message}: {detail}" if detail else self.message
        return Violation(self.id, line, message, column, instruction)


def _load() -> tuple[Rule, ...]:
    from generator.audit.rules import (
        base,
        commands,
        packages_apk_yum,
        packages_apt,
        packages_lang,
        pins,
        runtime,
        secrets,
        shell,
        stages,
        user,
    )

    # ID order is also the order fixes are tried in when two want the same bytes in one pass.
    rules = tuple(sorted((*user.RULES, *base.RULES, *secrets.RULES, *packages_apt.RULES, *packages_apk_yum.RULES,
                          *packages_lang.RULES, *pins.RULES, *commands.RULES,
                          *runtime.RULES, *shell.RULES, *stages.RULES), key=lambda rule: rule.id))
    seen: set[str] = set()
    for rule in rules:
        assert rule.id not in seen, f"duplicate rule id {rule.id}"
        seen.add(rule.id)
    return rules


RULES: tuple[Rule, ...] = _load()
RULE_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}


def rule_for(rule_id: str) -> Rule | ComposeRule:
    """The rule of a finding: a Dockerfile rule, a compose rule (HC1xx, see `generator.compose_rules`,
    loaded only when asked for), or an org policy rule (POLxxx, see `generator.check_policy`)."""
    rule = RULE_BY_ID.get(rule_id)
    if rule is not None:
        return rule
    if rule_id.startswith("HC1"):
        from generator.audit.compose_rules import COMPOSE_RULE_BY_ID

        if rule_id in COMPOSE_RULE_BY_ID:
            return COMPOSE_RULE_BY_ID[rule_id]
    from generator.policy.findings import policy_rule

    return policy_rule(rule_id)
