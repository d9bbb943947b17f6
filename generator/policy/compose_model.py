"""The compose model a policy audits: every compose file Compose would load, merged as Compose merges them.

A service is what `docker compose up` runs, not what one file says: `compose.override.yaml` (or a
`-f` set, or `COMPOSE_FILE` in the project's `.env`) is merged over `compose.yaml`, `extends` pulls
in another service, `include` adds other files' services. The merge follows the Compose
specification ("Merge and override") and compose-go:
- mappings merge key by key, scalars are replaced by the later file;
- `command`, `entrypoint` and `healthcheck.test` are replaced, not appended;
- other sequences (ports, volumes, devices, cap_add, security_opt, ...) are appended; newer Compose
  drops an appended entry identical to one already there, older Compose keeps it. The two can end
  with a different *last* `security_opt` entry (the one Docker applies), so the model keeps both
  readings (`variants`) and the checks report what either would run;
- `volumes` (and, in newer Compose, `devices`) are unique by container path: a later entry for the
  same target replaces the earlier one in place;
- `!reset` removes the value from everything merged before; `!override` replaces it whole.
Relative host paths are rebased onto the project root (the directory of the first compose file) so a
`../../` that climbs out of the project stays visible. A file outside the project (or missing) that
`extends`/`include` names cannot be read: the service (or the whole project) is `undecided`, which
the checks report as violations.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from generator.core.errors import UsageError
from generator.core.yamlio import bounded_yaml, load_bounded

Reader = Callable[[str], "bytes | None"]  # project-relative path -> content (None: missing or outside)
REPLACED = frozenset({"command", "entrypoint"})
MAX_EXTENDS = 16
MAX_LOADS = 256  # files read through include/extends: a fan-out of includes must not make a hang


class Reset:
    """A `!reset` value: removes what earlier files set."""


@dataclass(frozen=True)
class Override:
    """A `!override` value: replaces what earlier files set instead of merging with it."""

    value: Any


@dataclass
class ComposeModel:
    name: str  # "compose.yaml", or "compose.yaml+compose.override.yaml"
    variants: list[dict[str, Any]]  # the merged model under each Compose merge reading (see docstring)
    undecided: dict[str, str] = field(default_factory=dict)  # service ("" = the project) -> why

    @classmethod
    def single(cls, data: Mapping[str, Any], name: str = "compose.yaml") -> ComposeModel:
        return cls(name, [dict(data) if isinstance(data, Mapping) else {}])


@cache
def _constructor() -> type:
    from ruamel.yaml.constructor import SafeConstructor

    class ComposeConstructor(SafeConstructor):
        """The safe constructor plus Compose's two merge tags (a subclass: other loaders stay unchanged)."""

    def reset(loader: Any, node: Any) -> Reset:
        return Reset()

    def override(loader: Any, node: Any) -> Override:
        if node.id == "mapping":
            return Override(loader.construct_mapping(node, deep=True))
        if node.id == "sequence":
            return Override(loader.construct_sequence(node, deep=True))
        return Override(loader.construct_scalar(node))

    ComposeConstructor.add_constructor("!reset", reset)
    ComposeConstructor.add_constructor("!override", override)
    return ComposeConstructor


def parse(content: bytes, origin: str) -> dict[str, Any]:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{origin}: not UTF-8 text") from None
    yaml = bounded_yaml("safe")
    yaml.Constructor = _constructor()
    loaded = load_bounded(yaml, text, origin)
    return loaded if isinstance(loaded, dict) else {}


# --- merging -------------------------------------------------------------------------------------


def _target(entry: Any, kind: str) -> str | None:
    """The container path a volume or device entry mounts at (its unique key), None if unreadable."""
    if isinstance(entry, Mapping):
        target = entry.get("target")
        return str(target) if target is not None else None
    if not isinstance(entry, str):
        return None
    parts = entry.split(":")
    if kind == "devices":
        return parts[1] if len(parts) > 1 else parts[0]
    return parts[0] if len(parts) == 1 else parts[1]


def _unique(entries: list[Any], kind: str) -> list[Any]:
    seq: list[Any] = []
    at: dict[str, int] = {}
    for entry in entries:
        key = _target(entry, kind)
        if key is not None and key in at:
            seq[at[key]] = entry
        else:
            seq.append(entry)
            if key is not None:
                at[key] = len(seq) - 1
    return seq


def _strip(value: Any, base: Any) -> tuple[Any, Any]:
    """Apply the tags of one file: (its value without tags, the earlier model without what they reset)."""
    if isinstance(value, Override):
        return _strip(value.value, None)[0], None
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        earlier = dict(base) if isinstance(base, dict) else base
        for key, item in value.items():
            if isinstance(item, Reset):
                if isinstance(earlier, dict):
                    earlier.pop(key, None)
                continue
            inner = earlier.get(key) if isinstance(earlier, dict) else None
            out[key], stripped = _strip(item, inner)
            if isinstance(earlier, dict) and key in earlier:
                if stripped is None:
                    earlier.pop(key)
                else:
                    earlier[key] = stripped
        return out, earlier
    if isinstance(value, list):
        return [_strip(item, None)[0] for item in value if not isinstance(item, Reset)], base
    return value, base


def merge(base: Any, over: Any, path: tuple[str, ...], dedup: bool) -> Any:
    """`over` merged onto `base` by Compose's rules (untagged values; see `merge_file` for tags)."""
    in_service = len(path) >= 3 and path[0] == "services"
    if in_service and (path[2:] in (("command",), ("entrypoint",)) or path[2:] == ("healthcheck", "test")):
        return over
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = (merge(base[key], value, (*path, str(key)), dedup)
                           if key in base and not str(key).startswith("x-") else value)
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return base + [item for item in over if not (dedup and item in base)]
    return over


def merge_file(model: dict[str, Any], data: dict[str, Any], dedup: bool) -> dict[str, Any]:
    """One more file merged onto the model: its tags applied, then Compose's rules, then unicity."""
    stripped, earlier = _strip(copy.deepcopy(data), model)
    merged = merge(earlier if isinstance(earlier, dict) else {}, stripped, (), dedup)
    services = merged.get("services")
    if isinstance(services, dict):  # unicity holds inside one file too
        for service in services.values():
            if isinstance(service, dict):
                for kind in ("volumes", "devices") if dedup else ("volumes",):
                    if isinstance(service.get(kind), list):
                        service[kind] = _unique(service[kind], kind)
    return merged if isinstance(merged, dict) else {}


# --- loading: files, extends, include ------------------------------------------------------------


def rebase(path: str, base: str) -> str:
    """A relative host path of a file in directory BASE, made relative to the project root."""
    if not path.startswith(".") or not base:
        return path
    joined = posixpath.normpath(posixpath.join(base, path))
    return joined if joined == ".." or joined.startswith("../") else f"./{joined}".removesuffix("/.")


def _rebase_service(service: dict[str, Any], base: str) -> None:
    volumes = service.get("volumes")
    if isinstance(volumes, list):
        for i, entry in enumerate(volumes):
            if isinstance(entry, str) and ":" in entry:
                source, _, rest = entry.partition(":")
                volumes[i] = f"{rebase(source, base)}:{rest}"
            elif isinstance(entry, dict) and entry.get("type") == "bind" and isinstance(entry.get("source"), str):
                volumes[i] = {**entry, "source": rebase(entry["source"], base)}


def _rebase(data: dict[str, Any], base: str) -> None:
    if not base:
        return
    services = data.get("services")
    for service in services.values() if isinstance(services, dict) else []:
        if isinstance(service, dict):
            _rebase_service(service, base)
    for kind in ("secrets", "configs"):
        section = data.get(kind)
        for item in section.values() if isinstance(section, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("file"), str):
                item["file"] = rebase(item["file"], base)


class _Loader:
    def __init__(self, read: Reader, dedup: bool) -> None:
        self.read = read
        self.dedup = dedup
        self.undecided: dict[str, str] = {}
        self.loads = 0

    def file(self, relative: str, base: str, chain: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """A compose file (project-relative path) with its extends and includes applied; its relative
        paths rebased from BASE (the directory they are relative to) onto the project root."""
        if relative in chain or len(chain) > MAX_EXTENDS:
            raise UsageError(f"{relative}: compose files include or extend each other in a loop")
        self.loads += 1
        if self.loads > MAX_LOADS:
            raise UsageError(f"{relative}: more than {MAX_LOADS} compose files through include/extends")
        content = self.read(relative)
        if content is None:
            return None
        data = parse(content, relative)
        _rebase(data, base)
        here = posixpath.dirname(relative)
        services = data.get("services")
        if isinstance(services, dict):
            for name in list(services):
                if isinstance(services[name], dict) and "extends" in services[name]:
                    services[name] = self.extends(data, name, relative, (*chain, relative), ())
        includes = data.pop("include", None)
        for entry in includes if isinstance(includes, list) else ([] if includes is None else [includes]):
            paths = entry.get("path") if isinstance(entry, dict) else entry
            for path in paths if isinstance(paths, list) else [paths]:
                target = _join(here, path)
                included = None if target is None else self.file(target, posixpath.dirname(target),
                                                                  (*chain, relative))
                if included is None:
                    self.undecided[""] = f"include {str(path)!r:.80} is not a file inside the project"
                    continue
                for kind in ("services", "volumes", "secrets", "configs"):
                    section = included.get(kind)
                    mine = data.setdefault(kind, {})
                    if isinstance(section, dict) and isinstance(mine, dict):
                        for key, value in section.items():
                            mine.setdefault(key, value)  # a clash is an error in Compose: this file's wins
        return data

    def extends(self, data: dict[str, Any], name: str, relative: str, chain: tuple[str, ...],
                seen: tuple[str, ...]) -> Any:
        """Service NAME of DATA (the file RELATIVE) with what it `extends` merged under it."""
        service = data["services"][name]
        spec = service.get("extends")
        spec = {"service": spec} if isinstance(spec, str) else spec
        own = {key: value for key, value in service.items() if key != "extends"}
        if not isinstance(spec, dict) or not isinstance(spec.get("service"), str):
            self.undecided[name] = f"extends {str(spec)!r:.80} cannot be read"
            return own
        parent_name = spec["service"]
        if "file" in spec:
            target = _join(posixpath.dirname(relative), spec["file"])
            other = None if target is None else self.file(target, posixpath.dirname(target), chain)
            if other is None:
                self.undecided[name] = f"extends file {str(spec['file'])!r:.80} is not a file inside the project"
                return own
            parents = other.get("services")
            parent = parents.get(parent_name) if isinstance(parents, dict) else None
        else:
            if parent_name in (*seen, name):
                raise UsageError(f"{relative}: service {name} extends itself (through {parent_name})")
            if len(seen) > MAX_EXTENDS:
                raise UsageError(f"{relative}: service {name}: extends is nested deeper than {MAX_EXTENDS}")
            parents = data.get("services")
            parent = parents.get(parent_name) if isinstance(parents, dict) else None
            if isinstance(parent, dict) and "extends" in parent:
                parent = self.extends(data, parent_name, relative, chain, (*seen, name))
        if not isinstance(parent, dict):
            self.undecided[name] = f"extends service {parent_name!r:.60}, which is not defined"
            return own
        merged = merge_file({"services": {name: parent}}, {"services": {name: own}}, self.dedup)
        return merged["services"][name]


def _join(directory: str, path: Any) -> str | None:
    """A path named inside a compose file, relative to the project root; None when outside it."""
    if not isinstance(path, str) or not path or "$" in path or path.startswith(("/", "~")):
        return None
    joined = posixpath.normpath(posixpath.join(directory, path))
    return None if joined == ".." or joined.startswith("../") else joined


def load(read: Reader, names: Sequence[str]) -> ComposeModel:
    """The model of the compose files NAMES (project-relative, in `-f` order), read through READ."""
    base = posixpath.dirname(names[0]) if names else ""
    variants: list[dict[str, Any]] = []
    undecided: dict[str, str] = {}
    for dedup in (True, False):
        loader = _Loader(read, dedup)
        model: dict[str, Any] = {}
        for relative in names:
            data = loader.file(relative, base)
            if data is None:
                raise UsageError(f"{relative}: no such compose file in the project")
            model = merge_file(model, data, dedup)
        variants.append(model)
        undecided.update(loader.undecided)
    return ComposeModel("+".join(names), variants, undecided)
