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
        """The collections whose trailing blank lines and comments must stay at their end when entries
        are added to them: every service, every other top-level block, every block collection inside
        them (a `# hardcase ignore=` line after a list stays above the key it names when the list
        grows), and the document. Outer ones first: a comment after a service's last list is the
        service's, and stays after keys added to the service."""
        found = [service.node for service in self.services]
        found += [value for key, value in self.data.items() if key != "services" and isinstance(value, (dict, list))]
        seen = {id(node) for node in found} | {id(self.data)}
        stack = list(reversed(found))
        while stack:
            node = stack.pop()
            for value in reversed(list(node.values() if isinstance(node, dict) else node)):
                flow = getattr(getattr(value, "fa", None), "flow_style", lambda: True)()
                if isinstance(value, (dict, list)) and id(value) not in seen and not flow:
                    seen.add(id(value))
                    found.append(value)
                    stack.append(value)
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
        where the dumps before and after the edits differ are taken from the new dump and spliced
        into the user's text (generator.audit.compose_splice). A splice is kept only when ruamel
        reads it back as exactly the edited tree: its dump is the new dump (or what the new dump
        reads back as: ruamel does not keep every blank line it writes). Else changes are merged
        with the neighbouring lines ruamel rewrites, and as a last resort the new dump is the file."""
        from generator.audit.compose_splice import same_reading, splice

        after = self.dump()
        if after == before:
            return self
        reference: tuple[str, Any] | None = None
        for merged, added_first in () if before == self.text else itertools.product((False, True), repeat=2):
            try:
                result = parse_compose(splice(self.text, before, after, merged, added_first), self.origin)
            except UsageError:
                continue
            dumped = self.dump(result.data)
            if dumped == after:
                break
            if reference is None:
                expected = parse_compose(after, self.origin).data
                reference = self.dump(expected), expected
            if same_reading(dumped, result.data, *reference):
                break
        else:
            result = parse_compose(after, self.origin)
        result.secrets_dir = self.secrets_dir
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

    # ruamel keeps the CR of CRLF in comments and loses blank lines after a quoted scalar; the text
    # itself (`ParsedCompose.text`) keeps its line ends, and `harden` writes them.
    source = text.replace("\r\n", "\n")
    yaml = _yaml(source)
    data = load_bounded(yaml, source, origin)
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
