"""The records of the audit flow: rules, findings and fixes, for Dockerfiles and compose files alike.

Every other audit module imports these; this module imports only `core` (and the parsed-file types
for type checkers), so the rule registries, the lint/fix engine and the reports never import each
other to share a type. A rule is a record (ID, severity, message, CIS item, check, fix); a finding
(`Violation`) names its rule by ID and may carry its `Fix`; a fix is a list of text `Edit`s with a
`FixSafety`. Compose rules fix the round-trip YAML tree instead (`ComposeFix`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.compose import ParsedCompose
    from generator.audit.dockerfile import ParsedDockerfile

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety")
# Where the rule documentation is published (the README's rule table, generated from the registry).
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


class FixSafety(Enum):
    SAFE = "safe"  # keeps what the image does; applied by default
    NEEDS_REVIEW = "needs-review"  # may change behaviour; applied only with --unsafe-fixes


@dataclass(frozen=True)
class Edit:
    start: int
    end: int
    replacement: str

    @staticmethod
    def insert(offset: int, text: str) -> Edit:
        return Edit(offset, offset, text)


@dataclass(frozen=True)
class Fix:
    edits: tuple[Edit, ...]
    safety: FixSafety
    note: str = ""  # what the fix did, for the report
    alone: bool = False  # restructures the file: applied in a pass of its own, before other fixes


@dataclass(frozen=True)
class Violation:
    rule_id: str
    line: int  # 1-based
    message: str
    column: int | None = None  # 1-based
    instruction: int = -1  # index of the instruction (Dockerfile) or service (compose) the fix works on
    fix: Fix | None = None


@dataclass(frozen=True)
class AppliedFix:
    violation: Violation
    fix: Fix


CheckFn = Callable[["ParsedDockerfile"], Iterable[Violation]]
FixFn = Callable[["ParsedDockerfile", Violation], "Fix | None"]


def _doc(check: Callable[..., object]) -> str:
    import textwrap

    return textwrap.dedent("    " + (check.__doc__ or "").strip()).strip()


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
        return _doc(self.check)

    def violation(self, line: int, detail: str = "", *, instruction: int = -1, column: int | None = None) -> Violation:
        message = f"{self.message}: {detail}" if detail else self.message
        return Violation(self.id, line, message, column, instruction)


@dataclass(frozen=True)
class ComposeFix:
    safety: FixSafety
    note: str  # what the fix does, for the report
    apply: Callable[[], None]  # changes the tree the fix was computed on
    files: tuple[tuple[str, str], ...] = ()  # (path relative to the compose file, content) to write with it


ComposeCheckFn = Callable[["ParsedCompose"], Iterable[Violation]]
ComposeFixFn = Callable[["ParsedCompose", Violation], "ComposeFix | None"]


@dataclass(frozen=True)
class ComposeRule:
    id: str  # HC1 + 2 digits
    name: str
    severity: Severity
    message: str
    cis: str | None  # CIS Docker Benchmark v1.6.0 item
    check: ComposeCheckFn
    fix: ComposeFixFn | None = None
    fix_safety: FixSafety | None = None  # the safety of the rule's strictest fix
    hadolint: str | None = None  # compose rules have no hadolint equivalent; reports print the field for all rules
    # `check` computes each compose finding's fix (cheap, and it depends on the image): a finding without
    # one is reported as not fixable, not with the rule's usual safety.
    fix_known_per_finding = True

    @property
    def doc(self) -> str:
        return _doc(self.check)

    def violation(self, line: int, detail: str = "", *, service: int = -1) -> Violation:
        message = f"{self.message}: {detail}" if detail else self.message
        return Violation(self.id, line, message, None, service)


AnyRule = Rule | ComposeRule
