"""The compose rule registry (HC100-HC199): records like the Dockerfile rules, checked on services.

A compose rule's `check` yields `Violation`s whose `instruction` is the index of the service they
are about; its `fix` returns a `ComposeFix`, a change to the round-trip YAML tree (not a text
edit), applied by `generator.compose_lint.harden`. Documentation is the check's docstring, with the
same sections as the Dockerfile rules. Nothing here imports ruamel: `check` on a Dockerfile only
needs the IDs (for `.hardcase-check.yaml`), and only when an ID is not a Dockerfile rule's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from generator.audit.fix import FixSafety
from generator.audit.rules import Severity, Violation
from generator.core.record import record as dataclass

__all__ = ["COMPOSE_RULES", "COMPOSE_RULE_BY_ID", "ComposeFix", "ComposeRule", "Severity", "Violation"]

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.compose import ParsedCompose


@dataclass(frozen=True)
class ComposeFix:
    safety: FixSafety
    note: str  # what the fix does, for the report
    apply: Callable[[], None]  # changes the tree the fix was computed on
    files: tuple[tuple[str, str], ...] = ()  # (path relative to the compose file, content) to write with it


CheckFn = Callable[["ParsedCompose"], Iterable[Violation]]
FixFn = Callable[["ParsedCompose", Violation], "ComposeFix | None"]


@dataclass(frozen=True)
class ComposeRule:
    id: str  # HC1 + 2 digits
    name: str
    severity: Severity
    message: str
    cis: str | None  # CIS Docker Benchmark v1.6.0 item
    check: CheckFn
    fix: FixFn | None = None
    fix_safety: FixSafety | None = None  # the safety of the rule's strictest fix
    hadolint: str | None = None  # compose rules have no hadolint equivalent; reports print the field for all rules
    # `check` computes each compose finding's fix (cheap, and it depends on the image): a finding without
    # one is reported as not fixable, not with the rule's usual safety.
    fix_known_per_finding = True

    @property
    def doc(self) -> str:
        import textwrap

        return textwrap.dedent("    " + (self.check.__doc__ or "").strip()).strip()

    def violation(self, line: int, detail: str = "", *, service: int = -1) -> Violation:
        message = f"{self.message}: {detail}" if detail else self.message
        return Violation(self.id, line, message, None, service)


def _load() -> tuple[ComposeRule, ...]:
    from generator.audit.compose_rules import exposure, isolation, limits, runtime, secrets

    rules = tuple(sorted((*isolation.RULES, *runtime.RULES, *limits.RULES,
                           *exposure.RULES, *secrets.RULES), key=lambda r: r.id))
    assert len({rule.id for rule in rules}) == len(rules), "duplicate compose rule id"
    return rules


COMPOSE_RULES: tuple[ComposeRule, ...] = _load()
COMPOSE_RULE_BY_ID: dict[str, ComposeRule] = {rule.id: rule for rule in COMPOSE_RULES}
