"""The one place YAML is read and written for data, and where every user YAML file is bounded.

User files (answers, preset files, policies, package-versions files, compose files) are read with
ruamel's pure-Python YAML 1.2 loaders: they never construct Python objects, so a `!!python/object`
tag is an error, not code, and `no` stays a string. hardcase's own data files are read with
libyaml's C safe loader (PyYAML, which cookiecutter already brings), because parsing them in pure
Python was most of `hardcase new`'s run time.

Every loader of user YAML comes from `bounded_yaml`, whose composer refuses, before anything is
constructed or walked:
- nesting deeper than `MAX_DEPTH` (ruamel's composer is recursive: a few thousand `[` would end in
  a RecursionError traceback);
- a tree that is too big once aliases are expanded (`node_limit`): aliases share nodes, so a
  500-byte "billion laughs" file composes quickly, but every walk over the loaded data (a rule
  reading values, `str()`, a copy, the JSON report) visits each alias again and would run for
  hours. Measuring the expanded size once, right after composing, bounds every later walk;
- an alias inside the node it names (a cycle: no walk would end).
It also reads the non-specific tag `!` as the YAML spec and Compose do: `! null` and `! '0755'`
are the strings "null" and "0755" (ruamel resolved them as null and the number 755).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from generator.core.errors import UsageError

MAX_DEPTH = 100
# Nodes a document may have with every alias expanded: this many, or EXPANSION per node written
# (a large hand-written file merges shared blocks into many services; a bomb expands thousands-fold).
MIN_NODE_LIMIT = 100_000
EXPANSION = 10


class YamlBoundError(UsageError):
    """A YAML document beyond the bounds above (the message names the bound, not the file)."""


def node_limit(distinct: int) -> int:
    return max(MIN_NODE_LIMIT, EXPANSION * distinct)


def _children(node: Any) -> list[Any]:
    value = node.value
    if not isinstance(value, list):
        return []  # a scalar
    if value and isinstance(value[0], tuple):
        return [part for pair in value for part in pair]  # a mapping: (key, value) pairs
    return value


def _post_order(root: Any) -> list[Any]:
    """Each distinct node once, children before parents; a cycle (an alias inside the node it names,
    which no walk would leave) is refused."""
    done: set[int] = set()
    on_path: set[int] = set()
    order: list[Any] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            done.add(key)
            order.append(node)
        elif key in on_path:
            raise YamlBoundError("an alias refers to a node that contains it (a recursive structure)")
        elif key not in done:
            on_path.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in done)
    return order


def check_expansion(root: Any) -> None:
    """Refuse a composed node graph whose tree, aliases expanded, has more than `node_limit` nodes or
    is deeper than MAX_DEPTH (a chain of aliases nests deeper than the text does). Memoised by node:
    the check costs one visit per distinct node, whatever the expansion."""
    order = _post_order(root)
    limit = node_limit(len(order))
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    for node in order:
        children = _children(node)
        size = 1 + sum(sizes[id(child)] for child in children)
        depth = 1 + max((depths[id(child)] for child in children), default=0)
        if size > limit:
            raise YamlBoundError(f"too large once its aliases are expanded (over {limit:,} nodes: an alias bomb?)")
        if depth > MAX_DEPTH:
            raise YamlBoundError(f"nested deeper than {MAX_DEPTH} levels once its aliases are expanded")
        sizes[id(node)] = size
        depths[id(node)] = depth


_COMPOSER: Any = None


def _bounded_composer() -> Any:
    """ruamel's Composer with the bounds above (built on first use: ruamel loads only when needed)."""
    global _COMPOSER
    if _COMPOSER is not None:
        return _COMPOSER
    from ruamel.yaml.composer import Composer

    class BoundedComposer(Composer):
        depth_now = 0

        def compose_document(self) -> Any:
            self.depth_now = 0
            self.warn_double_anchors = False  # legal YAML (the later one counts); no warning text on stderr
            node = super().compose_document()
            check_expansion(node)
            return node

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth_now += 1
            try:
                if self.depth_now > MAX_DEPTH:
                    raise YamlBoundError(f"nested deeper than {MAX_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self.depth_now -= 1

        def compose_scalar_node(self, anchor: Any) -> Any:
            event = self.parser.peek_event()
            if event.ctag is not None and str(event.ctag) == "!":
                event.ctag = None  # the non-specific tag: a string, as if quoted
                event.implicit = (False, True)
            return super().compose_scalar_node(anchor)

    _COMPOSER = BoundedComposer
    return _COMPOSER


_SCANNERS: dict[Any, Any] = {}


def _bounded_scanner(base: Any) -> Any:
    """BASE (ruamel's Scanner or RoundTripScanner) refusing flow nesting (`[[[...`) deeper than
    MAX_DEPTH as it reads it: the composer would refuse it too, but only after the scanner looked
    ahead through every bracket of the line, in time quadratic in their number."""
    if base not in _SCANNERS:

        class BoundedScanner(base):  # type: ignore[misc]
            def fetch_flow_collection_start(self, token_class: Any, to_push: str) -> None:
                if len(self.flow_context) >= MAX_DEPTH:
                    raise YamlBoundError(f"nested deeper than {MAX_DEPTH} levels")
                super().fetch_flow_collection_start(token_class, to_push=to_push)

        _SCANNERS[base] = BoundedScanner
    return _SCANNERS[base]


def bounded_yaml(typ: str = "safe") -> Any:
    """A pure-Python ruamel `YAML(typ=TYP)` whose loads are bounded (see the module docstring)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.scanner import Scanner

    yaml = YAML(typ=typ, pure=True)
    yaml.Composer = _bounded_composer()
    yaml.Scanner = _bounded_scanner(yaml.Scanner or Scanner)
    return yaml


def load_bounded(yaml: Any, text: str, origin: str) -> Any:
    """YAML.load with every failure of user input as one `UsageError` line naming ORIGIN."""
    from ruamel.yaml.error import YAMLError

    try:
        return yaml.load(text)
    except YamlBoundError as exc:
        raise UsageError(f"{origin}: refused: {exc}") from None
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{origin}: not valid YAML ({first})") from None
    except RecursionError:  # a bound above should stop it first; never a traceback all the same
        raise UsageError(f"{origin}: refused: nested too deeply") from None


def load_yaml_text(text: str, origin: str) -> Any:
    return load_bounded(bounded_yaml("safe"), text, origin)


def load_data_file(path: Path) -> Any:
    """One of hardcase's own data files (trusted, YAML 1.2-compatible content)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: broken data file ({exc.__class__.__name__})") from None


def load_yaml_file(path: Path) -> Any:
    from generator.core.errors import read_user_text

    return load_yaml_text(read_user_text(str(path)), str(path))  # a FIFO or device is refused, not read


def dump_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[attr-defined,assignment,unused-ignore]
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()
