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


def _span(edit: Edit) -> tuple[int, int]:
    """Where an edit sits, in coordinates where 2p is the point before character p and 2p+1 the
    character: an insertion holds its point, a replacement its characters and the points between
    them. Two edits conflict exactly when their spans overlap: two insertions at one point (their
    order would be a guess) or ranges that share characters or an inner point; an insertion where a
    replacement starts or ends is fine (it goes before, or after, the replaced text)."""
    if edit.start == edit.end:
        return 2 * edit.start, 2 * edit.start
    return 2 * edit.start + 1, 2 * edit.end - 1


class _Taken:
    """The spans of the edits chosen so far, by blocks of coordinates: checking and adding an edit
    costs its length over BLOCK, not the number of edits chosen before it."""

    BLOCK = 256

    def __init__(self) -> None:
        self.blocks: dict[int, list[tuple[int, int]]] = {}

    def overlaps(self, edit: Edit) -> bool:
        first, last = _span(edit)
        return any(first <= end and start <= last
                   for block in range(first // self.BLOCK, last // self.BLOCK + 1)
                   for start, end in self.blocks.get(block, ()))

    def add(self, edit: Edit) -> None:
        first, last = _span(edit)
        for block in range(first // self.BLOCK, last // self.BLOCK + 1):
            self.blocks.setdefault(block, []).append((first, last))


def _conflicts(a: Edit, b: Edit) -> bool:
    (a_first, a_last), (b_first, b_last) = _span(a), _span(b)
    return a_first <= b_last and b_first <= a_last


def apply_edits(text: str, edits: Iterable[Edit]) -> str:
    """The text with the edits made, in one pass. At one offset an insertion goes before a replacement,
    and of two insertions the later one in the list goes first (as if applied one by one from the end)."""
    ordered = sorted(enumerate(edits), key=lambda item: (item[1].start, item[1].end, -item[0]))
    pieces: list[str] = []
    position = 0
    for _, edit in ordered:
        if edit.start < position:  # overlapping edits (no fix makes them): one at a time, from the end
            for _, one in reversed(ordered):
                text = text[:one.start] + one.replacement + text[one.end:]
            return text
        pieces += (text[position:edit.start], edit.replacement)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)


def select_fixes(violations: Iterable[Violation]) -> list[tuple[Violation, Fix]]:
    """Fixes whose edits overlap none of the fixes chosen before them (violations come in rule order),
    or the first fix that must be applied alone."""
    violations = list(violations)
    for violation in violations:
        if violation.fix is not None and violation.fix.alone:
            return [(violation, violation.fix)]
    chosen: list[tuple[Violation, Fix]] = []
    taken = _Taken()
    for violation in violations:
        fix = violation.fix
        if fix is None or any(taken.overlaps(edit) for edit in fix.edits):
            continue
        chosen.append((violation, fix))
        for edit in fix.edits:
            taken.add(edit)
    return chosen


def _parse_or_none(parsed: ParsedDockerfile, edits: list[Edit]) -> ParsedDockerfile | None:
    from generator.audit.dockerfile import parse
    from generator.core.errors import UsageError

    try:
        return parse(apply_edits(parsed.text, edits), parsed.origin)
    except UsageError:
        return None


MAX_BROKEN = 4  # fixes that break the file looked for in one pass (each costs log2(fixes) parses)


def _keep_parsing(parsed: ParsedDockerfile, chosen: list[tuple[Violation, Fix]]
                  ) -> tuple[list[tuple[Violation, Fix]], ParsedDockerfile | None]:
    """The chosen fixes, in rule order, without those that break the file: each one found by bisection
    (the longest run of fixes that still parses), so a pass costs a few parses rather than one per fix.
    Returns the fixes kept and the file they give (None: nothing kept)."""
    def edits(items: list[tuple[Violation, Fix]]) -> list[Edit]:
        return [e for _, f in items for e in f.edits]

    kept: list[tuple[Violation, Fix]] = []
    result: ParsedDockerfile | None = None
    rest = chosen
    for _ in range(MAX_BROKEN):
        whole = _parse_or_none(parsed, edits(kept + rest))
        if whole is not None:
            return kept + rest, whole
        low, high = 0, len(rest)  # kept + rest[:low] parses (or is nothing new), kept + rest[:high] does not
        while high - low > 1:
            middle = (low + high) // 2
            attempt = _parse_or_none(parsed, edits(kept + rest[:middle]))
            if attempt is not None:
                low, result = middle, attempt
            else:
                high = middle
        if low:
            kept += rest[:low]
        rest = rest[high:]  # rest[high - 1] breaks the file: left out
        if not rest:
            break
    if kept and (result is None or result.text != apply_edits(parsed.text, edits(kept))):
        result = _parse_or_none(parsed, edits(kept))
    return (kept, result) if kept and result is not None else ([], None)


def harden(parsed: ParsedDockerfile, config: Config, unsafe: bool = False) -> HardenResult:
    from generator.audit.lint import check

    original = parsed.text
    applied: list[AppliedFix] = []
    found: list[Violation] | None = None  # the findings of `parsed`, when known
    for _ in range(MAX_PASSES):
        found = check(parsed, config, with_fixes=True)
        candidates = [v for v in found if v.fix is not None and (unsafe or v.fix.safety is FixSafety.SAFE)]
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
            chosen, new = _keep_parsing(parsed, chosen)
            if new is None:
                break
        applied.extend(AppliedFix(v, f) for v, f in chosen)
        if new.text == parsed.text:
            break
        parsed, found = new, None
    if found is None:
        found = check(parsed, config, with_fixes=True)
    return HardenResult(original, parsed.text, applied, found)
