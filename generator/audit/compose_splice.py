"""Splicing a change of ruamel's dump into the text the user wrote (see `ParsedCompose.edited`).

ruamel's dump of a round-trip tree is not the file it was read from: it drops the non-specific tag's
`!`, rewrites timestamps, writes every list with one dash offset, strips trailing blanks, moves a
comment after an anchor to a line of its own, drops `...`. So `harden` never writes the dump: it
takes the lines where the dumps before and after its fixes differ and puts them, indented as the
user indents, in place of the corresponding lines of the user's text. Whether a splice is right is
not decided here: `edited` keeps it only if ruamel reads it back as exactly the fixed tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")


def _end_marker(text: str) -> int | None:
    """Where a document end marker (`...`) starts that only blank lines and comments follow: ruamel
    does not write it or what follows, so that stays the file's end as the user wrote it."""
    lines = LINE_RE.findall(text)
    offset = len(text)
    for line in reversed(lines):
        offset -= len(line)
        body = _body(line).rstrip(" \t")
        if body == "..." or body.startswith(("... #", "...\t#")):
            return offset
        if body.strip() and not body.lstrip().startswith("#"):
            return None
    return None


def _body(line: str) -> str:
    return line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else line


Span = tuple[int, int]
Opcodes = Sequence[tuple[str, int, int, int, int]]


def _boundaries(opcodes: Opcodes, pairs: bool = False) -> dict[int, Span]:
    """For each line boundary of the `from` side that no change straddles, the lines of the other
    side there: an empty span where the two sides simply meet, the lines only the other side has
    where it has more. With PAIRS, a change of as many lines as it replaces is taken line by line
    (ruamel's rewrites of the user's lines are line by line: blanks, quotes, tags, indentation)."""
    mapped: dict[int, Span] = {}
    inside: set[int] = set()
    for tag, f1, f2, t1, t2 in opcodes:
        if f1 == f2:
            mapped[f1] = (t1, t2)
            continue
        mapped.setdefault(f1, (t1, t1))
        mapped[f2] = (t2, t2)
        if tag == "equal" or (pairs and f2 - f1 == t2 - t1):
            mapped.update((f1 + k, (t1 + k, t1 + k)) for k in range(1, f2 - f1))
        else:
            inside.update(range(f1 + 1, f2))
    return {key: value for key, value in mapped.items() if key not in inside}


HEAD_RE = re.compile(r"\s*(#|-(?=\s|$)|[^\s:#][^:#]*?:(?=\s|$))")


def _head(line: str) -> str:
    """What a line is (its key, a list item, a comment), whatever ruamel made of its value."""
    match = HEAD_RE.match(line)
    return match.group(1) if match else line.strip()


def _refined(opcodes: Opcodes, old: list[str], other: list[str]) -> list[tuple[str, int, int, int, int]]:
    """OPCODES with each change of a number of lines into another split where lines of the same key
    pair up (ruamel wrote `key: *alias  # note` as two lines, or a long scalar on a line of its own):
    a paired line becomes a one-line change, so the lines around it can be cut apart."""
    from difflib import SequenceMatcher

    refined: list[tuple[str, int, int, int, int]] = []
    for tag, f1, f2, t1, t2 in opcodes:
        if tag != "replace" or f2 - f1 == t2 - t1:
            refined.append((tag, f1, f2, t1, t2))
            continue
        inner = SequenceMatcher(None, [_head(line) for line in old[f1:f2]], [_head(line) for line in other[t1:t2]],
                                autojunk=False).get_opcodes()
        for itag, i1, i2, j1, j2 in inner:
            refined.append(("replace" if itag == "equal" else itag, f1 + i1, f1 + i2, t1 + j1, t1 + j2))
    return refined


def _equal_lines(opcodes: Opcodes, old: list[str], other: list[str]) -> set[int]:
    """The lines of OLD that the other side has exactly as they are."""
    return {f1 + k for tag, f1, f2, t1, _ in opcodes if tag == "equal" for k in range(f2 - f1)
            if old[f1 + k] == other[t1 + k]}


def splice(original: str, before: str, after: str, merged: bool = False, added_first: bool = False) -> str:
    """ORIGINAL with the changes from BEFORE to AFTER (two dumps of one tree, before and after an
    edit; BEFORE is ruamel's rendering of ORIGINAL). The lines of BEFORE are matched with ORIGINAL's
    and with AFTER's; the text is cut at the boundaries both matchings pin down: lines AFTER adds at
    a cut are inserted there, a piece between two cuts that AFTER left as it was comes from
    ORIGINAL, any other from AFTER. MERGED cuts only next to lines both matchings leave alone (and
    inserts only between two of them), so a change takes the lines ruamel rewrites around it along.
    Where ORIGINAL has lines ruamel does not write (`...`) and AFTER adds lines, ADDED_FIRST says
    which come first."""
    from difflib import SequenceMatcher

    end = _end_marker(original)
    if end:
        body = splice(original[:end], before, after, merged, added_first)
        return body + ("" if body.endswith("\n") else "\n") + original[end:]
    lines = LINE_RE.findall(original)
    old, new = [_body(line) for line in LINE_RE.findall(before)], [_body(line) for line in LINE_RE.findall(after)]
    bodies = [_body(line) for line in lines]
    # Matched on their words: a line ruamel re-spaced or re-indented is still the user's line.
    to_original = _refined(SequenceMatcher(None, [" ".join(line.split()) for line in old],
                                           [" ".join(line.split()) for line in bodies], autojunk=False).get_opcodes(),
                           old, bodies)
    to_new = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    in_original, in_new = _boundaries(to_original, pairs=True), _boundaries(to_new)
    in_original.setdefault(0, (0, len(lines)))
    in_new.setdefault(0, (0, len(new)))
    ends = {0, len(old)}
    points = ends | (in_original.keys() & in_new.keys())
    if merged:
        clean = _equal_lines(to_original, old, bodies) & _equal_lines(to_new, old, new)

        def cut(p: int) -> bool:
            before_ok, after_ok = p == 0 or p - 1 in clean, p == len(old) or p in clean
            gap = in_original[p][0] < in_original[p][1] or in_new[p][0] < in_new[p][1]
            return (before_ok and after_ok) if gap else (before_ok or after_ok)

        points = ends | {p for p in points if cut(p)}
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    shifts = _shifts(to_original, old, bodies)
    out: list[str] = []

    def emit(chunk: list[str]) -> None:
        if out and chunk and not out[-1].endswith("\n"):
            out[-1] += newline
        out.extend(chunk)

    def written(piece: list[str], context_end: int) -> list[str]:
        return [line + newline for line in _reindent(piece, old, shifts, context_end)]

    ordered = sorted(points)
    for index, point in enumerate(ordered):
        kept = lines[in_original[point][0]:in_original[point][1]]  # what ruamel drops here stays
        added = written(new[in_new[point][0]:in_new[point][1]], point)  # what the edit adds
        for chunk in (added, kept) if added_first else (kept, added):
            emit(chunk)
        if index + 1 < len(ordered):
            following = ordered[index + 1]
            piece = new[in_new[point][1]:in_new[following][0]]
            if piece == old[point:following]:
                emit(lines[in_original[point][1]:in_original[following][0]])
            else:
                emit(written(piece, point))
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _shifts(opcodes: Opcodes, old: list[str], original: list[str]) -> list[int | None]:
    """For each line of the dump, how much further right the user's own line is indented (None where
    the lines do not pair up): ruamel writes every list with one dash offset, users do not."""
    shifts: list[int | None] = [None] * len(old)
    for tag, f1, f2, t1, t2 in opcodes:
        if tag == "equal" or (tag == "replace" and f2 - f1 == t2 - t1):
            shifts[f1:f2] = [_indent(original[t1 + k]) - _indent(old[f1 + k]) for k in range(f2 - f1)]
    return shifts


def _reindent(piece: list[str], old: list[str], shifts: list[int | None], context_end: int) -> list[str]:
    """PIECE (new lines of the dump) indented as the user indents where it goes: each line moves as
    far as the nearest line before it at its level or above (one written just before, or one of the
    dump's lines before CONTEXT_END) was moved from the dump to the user's text. A list item at a
    key's column (`- x` under `key:`) is a level below that key, not beside it."""

    def above(line: str, depth: int, dash: bool) -> bool:
        indent = _indent(line)
        return indent < depth or (indent == depth and line.lstrip().startswith("-") == dash)

    placed: list[tuple[str, int]] = []
    result: list[str] = []
    for line in piece:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            result.append(line)
            continue
        depth, dash = _indent(line), stripped.startswith("-")
        shift = next((moved for text, moved in reversed(placed) if above(text, depth, dash)), None)
        if shift is None:
            shift = next((s for j in range(context_end - 1, -1, -1)
                          if (s := shifts[j]) is not None and old[j].strip() and not old[j].lstrip().startswith("#")
                          and above(old[j], depth, dash)), 0)
        placed.append((line, shift))
        result.append(" " * max(0, depth + shift) + line[depth:])
    return result


def same_reading(dumped: str, data: Any, expected: str, expected_data: Any) -> bool:
    """Whether a splice reads back as the edited tree: ruamel's dump of it (DUMPED, of DATA) is the
    dump of the edited tree as ruamel reads it back (EXPECTED, of EXPECTED_DATA), but for the blank
    lines ruamel keeps or drops depending on what precedes them (a quoted scalar, `...`) and the
    comment lines of an alias, which ruamel moves or loses (the splice keeps each where the user
    wrote it); then the data must be equal too, blank and `#` lines inside block scalars included."""
    if dumped == expected:
        return True

    from collections import Counter

    def solid(text: str) -> tuple[list[str], Counter[str]]:
        lines = [line for line in text.split("\n") if line.strip()]
        comments = Counter(line.strip() for line in lines if line.lstrip().startswith("#"))
        return [line for line in lines if not line.lstrip().startswith("#")], comments

    (structure, comments), (expected_structure, expected_comments) = solid(dumped), solid(expected)
    return (structure == expected_structure and not expected_comments - comments
            and _data(data) == _data(expected_data))


def _data(node: Any) -> Any:
    """NODE as plain values, each with its kind (so `1`, `true` and `"1"` differ)."""
    if isinstance(node, dict):
        return "map", [(_data(key), _data(value)) for key, value in node.items()]
    if isinstance(node, (list, tuple)):
        return "seq", [_data(value) for value in node]
    for kind in (str, bool, int, float):
        if isinstance(node, kind):
            return kind.__name__, kind(node)
    if hasattr(node, "tag") and hasattr(node, "value"):  # a scalar with a tag of its own (`!reset`)
        return "tagged", str(node.tag), _data(node.value)
    return type(node).__name__, repr(node)
