"""Compose files: recognising them, and reading and writing them without losing what the user wrote.

`harden` edits the YAML tree that ruamel's round-trip loader builds, so comments, key order, quoting,
flow style, anchors, aliases and merge keys (`<<: *x`) come back as they were and only the keys a
fix touches change. The indentation is guessed from the file so untouched lines keep their layout.
Recognising a file by its name needs no YAML at all: `check` on a Dockerfile never imports ruamel.
"""

from __future__ import annotations

import fnmatch
import itertools
import re

from generator.core.errors import UsageError
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from typing import Any

# The names `docker compose` looks for, and the usual per-environment variants.
COMPOSE_PATTERNS = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
                    "docker-compose.*.yml", "docker-compose.*.yaml", "compose.*.yaml", "compose.*.yml",
                    "*.compose.yaml", "*.compose.yml")
SERVICES_RE = re.compile(r"^services[ \t]*:", re.MULTILINE)
KEY_LINE_RE = re.compile(r"^( +)[^\s#\-][^\n]*?:(?:[ \t]|$)")
DASH_RE = re.compile(r"^( *)- ")
EXPLICIT_START_RE = re.compile(r"^(?:[ \t]*(?:#[^\n]*)?\n)*---(?:[ \t]|$)", re.MULTILINE)


def is_compose_name(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in COMPOSE_PATTERNS)


def looks_like_compose(text: str) -> bool:
    """A file given by another name is a compose file when it is YAML with a top-level `services:` key."""
    return SERVICES_RE.search(text) is not None and not re.match(r"\s*(FROM|ARG)\s", text, re.IGNORECASE)


@dataclass(frozen=True)
class Service:
    name: str
    index: int  # position in `services` (a finding's `instruction` for compose rules)
    node: Any  # the service's CommentedMap
    line: int  # 1-based line of the service's key


def _indentation(text: str) -> tuple[int, int, int]:
    """(mapping, sequence, offset) as ruamel's `YAML.indent` takes them, from the file's own lines."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    indents = [len(m.group(1)) for m in map(KEY_LINE_RE.match, lines) if m]
    mapping = min(indents) if indents else 2
    for previous, line in itertools.pairwise(lines):
        dash = DASH_RE.match(line)
        if dash and previous.rstrip().endswith(":") and not previous.lstrip().startswith("- "):
            offset = len(dash.group(1)) - (len(previous) - len(previous.lstrip()))
            if offset >= 0:
                return mapping, offset + 2, offset
    return mapping, mapping + 2, mapping


def _yaml(text: str) -> Any:
    from generator.core.yamlio import bounded_yaml

    yaml = bounded_yaml("rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the user wrote
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    # ruamel writes `---` only when told; keep the one the file starts with (after comments)
    yaml.explicit_start = EXPLICIT_START_RE.match(text) is not None
    return yaml


class ParsedCompose:
    """A loaded compose file: its text, its round-trip tree and the services in it."""

    def __init__(self, text: str, origin: str, data: Any, yaml: Any) -> None:
        self.text = text
        self.origin = origin
        self.data = data
        self._yaml = yaml
        # Where `harden` may write file secrets (the output's directory), or None: then no fix writes files.
        self.secrets_dir: str | None = None

    @property
    def services(self) -> list[Service]:
        services = self.data.get("services") or {}
        return [Service(str(name), index, node, line_of(services, name, 1))
                for index, (name, node) in enumerate(services.items())]

    def blocks(self) -> list[Any]:
        """The mappings whose trailing blank lines and comments must stay at their end when keys are
        added to them: every service, every other top-level block, and the document."""
        found = [service.node for service in self.services]
        found += [value for key, value in self.data.items() if key != "services" and isinstance(value, (dict, list))]
        return [*found, self.data]

    def dump(self, data: Any = None) -> str:
        """ruamel's text for the tree (or for DATA, with this file's layout settings)."""
        import io

        buffer = io.StringIO()
        self._yaml.dump(self.data if data is None else data, buffer)
        return buffer.getvalue()

    def edited(self, before: str) -> ParsedCompose:
        """The file after the tree edits made since `before = self.dump()`, as little rewritten as can
        be proven: ruamel's dump of even an untouched tree is not the text the user wrote (`! null`,
        timestamps, list indentation, trailing blanks, a comment after an anchor), so only the lines
        where the dumps before and after the edits differ are taken from the new dump, spliced into
        the original text. A splice is kept only when ruamel reads it back as exactly the edited tree
        (its dump is the new dump); else changes are merged with their neighbouring lines that ruamel
        rewrites, and as a last resort the whole new dump is the file."""
        after = self.dump()
        if after == before:
            return self
        ways = () if before == self.text else ((False, False), (False, True), (True, False), (True, True))
        for merged, added_first in ways:
            candidate = splice(self.text, before, after, merged, added_first)
            try:
                reparsed = parse_compose(candidate, self.origin)
            except UsageError:
                continue
            if self.dump(reparsed.data) == after:
                reparsed.secrets_dir = self.secrets_dir
                return reparsed
        result = parse_compose(after, self.origin)
        result.secrets_dir = self.secrets_dir
        return result


LINE_RE = re.compile(r"[^\n]*\n|[^\n]+")
# A document end marker and the comments after it: ruamel does not write them; they stay the file's end.
END_RE = re.compile(r"^\.\.\.(?:[ \t][^\n]*)?(?:\n(?:[ \t]*(?:#[^\n]*)?\r?$))*\n?\Z", re.MULTILINE)


def _body(line: str) -> str:
    return line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else line


Span = tuple[int, int]


def _boundaries(opcodes: list[tuple[str, int, int, int, int]]) -> dict[int, Span]:
    """For each line boundary of the `from` side that no change straddles, the lines of the other
    side there: an empty span where the two sides simply meet, the lines only the other side has
    where it has more."""
    mapped: dict[int, Span] = {}
    inside: set[int] = set()
    for tag, f1, f2, t1, t2 in opcodes:
        if f1 == f2:
            mapped[f1] = (t1, t2)
            continue
        mapped.setdefault(f1, (t1, t1))
        mapped[f2] = (t2, t2)
        if tag == "equal":
            mapped.update((f1 + k, (t1 + k, t1 + k)) for k in range(1, f2 - f1))
        else:
            inside.update(range(f1 + 1, f2))
    return {key: value for key, value in mapped.items() if key not in inside}


def _equal_lines(opcodes: list[tuple[str, int, int, int, int]]) -> set[int]:
    return {line for tag, f1, f2, _, _ in opcodes if tag == "equal" for line in range(f1, f2)}


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

    end = END_RE.search(original)
    if end is not None and end.start() > 0:
        body = splice(original[:end.start()], before, after, merged, added_first)
        newline = "" if body.endswith("\n") else "\r\n" if original[:end.start()].endswith("\r") else "\n"
        return body + newline + end.group(0)
    lines = LINE_RE.findall(original)
    old, new = [_body(line) for line in LINE_RE.findall(before)], [_body(line) for line in LINE_RE.findall(after)]
    to_original = SequenceMatcher(None, old, [_body(line) for line in lines], autojunk=False).get_opcodes()
    to_new = SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    in_original, in_new = _boundaries(to_original), _boundaries(to_new)
    in_original.setdefault(0, (0, len(lines)))
    in_new.setdefault(0, (0, len(new)))
    ends = {0, len(old)}
    points = ends | (in_original.keys() & in_new.keys())
    if merged:
        clean = _equal_lines(to_original) & _equal_lines(to_new)

        def cut(p: int) -> bool:
            before_ok, after_ok = p == 0 or p - 1 in clean, p == len(old) or p in clean
            gap = in_original[p][0] < in_original[p][1] or in_new[p][0] < in_new[p][1]
            return (before_ok and after_ok) if gap else (before_ok or after_ok)

        points = ends | {p for p in points if cut(p)}
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    shifts = _shifts(to_original, old, [_body(line) for line in lines])
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


def _shifts(opcodes: list[tuple[str, int, int, int, int]], old: list[str], original: list[str]) -> list[int | None]:
    """For each line of the dump, how much further right the user's own line is indented (None where
    the lines do not pair up): ruamel writes every list with one dash offset, users do not."""
    shifts: list[int | None] = [None] * len(old)
    for tag, f1, f2, t1, t2 in opcodes:
        if tag == "equal":
            shifts[f1:f2] = [0] * (f2 - f1)
        elif tag == "replace" and f2 - f1 == t2 - t1:
            shifts[f1:f2] = [_indent(original[t1 + k]) - _indent(old[f1 + k]) for k in range(f2 - f1)]
    return shifts


def _reindent(piece: list[str], old: list[str], shifts: list[int | None], context_end: int) -> list[str]:
    """PIECE (new lines of the dump) indented as the user indents where it goes: each line moves as
    far as the nearest line before it at its depth or shallower (one written just before, or one of
    the dump's lines before CONTEXT_END) was moved from the dump to the user's text."""
    placed: list[tuple[int, int]] = []
    result: list[str] = []
    for line in piece:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            result.append(line)
            continue
        depth = _indent(line)
        shift = next((moved for indent, moved in reversed(placed) if indent <= depth), None)
        if shift is None:
            shift = next((s for j in range(context_end - 1, -1, -1)
                          if (s := shifts[j]) is not None and old[j].strip() and not old[j].lstrip().startswith("#")
                          and _indent(old[j]) <= depth), 0)
        placed.append((depth, shift))
        result.append(" " * max(0, depth + shift) + line[depth:])
    return result


def _tail_slot(node: Any) -> tuple[Any, Any] | None:
    """(collection, key) whose comment token follows the last line of NODE (not descending into
    flow collections or aliased nodes, whose comments belong elsewhere)."""
    if isinstance(node, dict):
        keys = [key for key in node if key in getattr(node, "_ok", node)]
        if not keys:
            return None
        key: Any = keys[-1]
    elif isinstance(node, list) and node:
        key = len(node) - 1
    else:
        return None
    value = node[key]
    flow = getattr(getattr(value, "fa", None), "flow_style", lambda: False)()
    shared = getattr(getattr(value, "anchor", None), "value", None) is not None
    if isinstance(value, (dict, list)) and value and not flow and not shared:
        inner = _tail_slot(value)
        if inner is not None:
            return inner
    return node, key


def detach_trailing(node: Any) -> str:
    """Remove and return the blank lines and comment lines after NODE's last line (its own line's
    comment stays); `attach_trailing` puts them after the new last line once keys were added."""
    slot = _tail_slot(node)
    if slot is None:
        return ""
    container, key = slot
    entry = container.ca.items.get(key)
    position = 2 if isinstance(container, dict) else 0
    token = entry[position] if entry and len(entry) > position else None
    if token is None or not isinstance(getattr(token, "value", None), str) or "\n" not in token.value:
        return ""
    head, _, rest = str(token.value).partition("\n")
    token.value = head + "\n"
    return rest


def attach_trailing(node: Any, rest: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slot = _tail_slot(node)
    if not rest or slot is None:
        return
    container, key = slot
    position = 2 if isinstance(container, dict) else 0
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    token = entry[position]
    if token is not None and isinstance(getattr(token, "value", None), str) and token.value.endswith("\n"):
        token.value += rest
    else:
        entry[position] = CommentToken("\n" + rest, CommentMark(0), None)


def line_of(node: Any, key: Any, default: int) -> int:
    """1-based line of KEY in mapping NODE (DEFAULT when the key is merged in or was added by a fix)."""
    try:
        if key in getattr(node, "_ok", ()):
            return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        pass
    return default


def item_line(node: Any, index: int, default: int) -> int:
    """1-based line of item INDEX of sequence NODE."""
    try:
        return int(node.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return default


def _keep_anchors(node: Any, seen: set[int]) -> None:
    """ruamel drops an anchor nobody refers to when it dumps; the user wrote it, so it stays.
    (Each node once: an aliased node need not be visited again.)"""
    if id(node) in seen:
        return
    seen.add(id(node))
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(node, dict):
        for value in node.values():
            _keep_anchors(value, seen)
    elif isinstance(node, list):
        for value in node:
            _keep_anchors(value, seen)


def parse_compose(text: str, origin: str = "compose.yaml") -> ParsedCompose:
    """The round-trip tree of TEXT; bounded like every user YAML file (see generator.core.yamlio)."""
    from generator.core.yamlio import load_bounded

    yaml = _yaml(text)
    data = load_bounded(yaml, text, origin)
    _keep_anchors(data, set())
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise UsageError(f"{origin}: not a compose file (no `services` mapping)")
    for name, service in data["services"].items():
        if not isinstance(service, dict):
            raise UsageError(f"{origin}: service {name!r} is not a mapping")
    return ParsedCompose(text, origin, data, yaml)


def read_compose(path: str) -> ParsedCompose:
    from generator.core.errors import read_user_text

    return parse_compose(read_user_text(path), path)
