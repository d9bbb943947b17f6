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
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
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

    def dump(self) -> str:
        import io

        buffer = io.StringIO()
        self._yaml.dump(self.data, buffer)
        return buffer.getvalue()


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


def _keep_anchors(node: Any) -> None:
    """ruamel drops an anchor nobody refers to when it dumps; the user wrote it, so it stays."""
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(node, dict):
        for value in node.values():
            _keep_anchors(value)
    elif isinstance(node, list):
        for value in node:
            _keep_anchors(value)


def parse_compose(text: str, origin: str = "compose.yaml") -> ParsedCompose:
    from ruamel.yaml.error import YAMLError

    yaml = _yaml(text)
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{origin}: not valid YAML ({first})") from None
    _keep_anchors(data)
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise UsageError(f"{origin}: not a compose file (no `services` mapping)")
    for name, service in data["services"].items():
        if not isinstance(service, dict):
            raise UsageError(f"{origin}: service {name!r} is not a mapping")
    return ParsedCompose(text, origin, data, yaml)


def read_compose(path: str) -> ParsedCompose:
    from generator.core.errors import read_user_text

    return parse_compose(read_user_text(path), path)
