"""Fixes are text edits; `harden` applies them to a fixed point.

A fix is a list of `Edit`s on the original text (offsets into it). Fixes whose edits overlap are not
applied in the same pass: the first in rule order wins and the others are recomputed on the next
pass, after re-parsing and re-checking. A fix that restructures the file (moves instructions into a
new stage) is applied alone in its pass, so that the other rules' edits are computed for the stage
their instructions end up in. Passes are bounded, so a rule that keeps asking for edits
cannot loop forever, and every pass must leave a file BuildKit's parser accepts.
"""

from __future__ import annotations

from collections.abc import Iterable

from generator.audit.model import AppliedFix, Edit, Fix, FixSafety, Violation
from generator.core.record import field
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.dockerfile import ParsedDockerfile
    from generator.audit.lint import Config

MAX_PASSES = 10


@dataclass(frozen=True)
class HardenResult:
    original: str
    text: str
    applied: list[AppliedFix] = field(default_factory=list)
    remaining: list[Violation] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text != self.original


def _conflicts(a: Edit, b: Edit) -> bool:
    """Two insertions at one point (their order would be a guess) or ranges that share characters.
    An insertion where a replacement starts is fine: it goes before the replaced text."""
    if a.start == b.start and (a.start == a.end) == (b.start == b.end):
        return True
    if max(a.start, b.start) < min(a.end, b.end):
        return True
    # an insertion strictly inside the other edit's range
    return (a.start == a.end and b.start < a.start < b.end) or (b.start == b.end and a.start < b.start < a.end)


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    # From the end backwards, so earlier offsets stay valid; at one offset the replacement goes first
    # and the insertion then lands in front of it.
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        text = text[:edit.start] + edit.replacement + text[edit.end:]
    return text


def select_fixes(violations: Iterable[Violation]) -> list[tuple[Violation, Fix]]:
    """Fixes whose edits overlap none of the fixes chosen before them (violations come in rule order),
    or the first fix that must be applied alone."""
    violations = list(violations)
    for violation in violations:
        if violation.fix is not None and violation.fix.alone:
            return [(violation, violation.fix)]
    chosen: list[tuple[Violation, Fix]] = []
    taken: list[Edit] = []
    for violation in violations:
        fix = violation.fix
        if fix is None or any(_conflicts(e, t) for e in fix.edits for t in taken):
            continue
        chosen.append((violation, fix))
        taken.extend(fix.edits)
    return chosen


def _parse_or_none(parsed: ParsedDockerfile, edits: list[Edit]) -> ParsedDockerfile | None:
    from generator.audit.dockerfile import parse
    from generator.core.errors import UsageError

    try:
        return parse(apply_edits(parsed.text, edits), parsed.origin)
    except UsageError:
        return None


def harden(parsed: ParsedDockerfile, config: Config, unsafe: bool = False) -> HardenResult:
    from generator.audit.lint import check

    original = parsed.text
    applied: list[AppliedFix] = []
    for _ in range(MAX_PASSES):
        candidates = [v for v in check(parsed, config, with_fixes=True)
                      if v.fix is not None and (unsafe or v.fix.safety is FixSafety.SAFE)]
        chosen = select_fixes(candidates)
        if not chosen:
            break
        new = _parse_or_none(parsed, [e for _, f in chosen for e in f.edits])
        if new is None and chosen[0][1].alone:
            # A restructuring fix that breaks the file is dropped; the other fixes still apply.
            chosen = select_fixes(v for v in candidates if v.fix is not None and not v.fix.alone)
            if not chosen:
                break
            new = _parse_or_none(parsed, [e for _, f in chosen for e in f.edits])
        if new is None:
            # One of the fixes broke the file: keep those that parse together, in rule order.
            kept: list[tuple[Violation, Fix]] = []
            for item in chosen:
                if _parse_or_none(parsed, [e for _, f in (*kept, item) for e in f.edits]) is not None:
                    kept.append(item)
            chosen = kept
            new = _parse_or_none(parsed, [e for _, f in chosen for e in f.edits])
            if new is None or not chosen:
                break
        applied.extend(AppliedFix(v, f) for v, f in chosen)
        if new.text == parsed.text:
            break
        parsed = new
    return HardenResult(original, parsed.text, applied, check(parsed, config, with_fixes=True))
