"""`hardcase pin`: resolve base image references to tag@digest and rewrite only those bytes.

Everything outside the image reference (comments, spacing, continuation lines, quoting, key
order) stays byte-identical: Dockerfiles are located with BuildKit's parser and edited by line
span; compose files are located with ruamel's position info and edited in the text.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.audit.dockerfile import line_offsets
from generator.core import imageref, mirror
from generator.core.errors import UsageError, file_kind, read_user_bytes
from generator.core.walk import files_below

DOCKERFILE_PATTERNS = ("Dockerfile", "*.Dockerfile", "Dockerfile.*")
COMPOSE_PATTERNS = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
                    "docker-compose.*.yml", "docker-compose.*.yaml", "compose.*.yaml", "compose.*.yml")
BACKUP_SUFFIX = ".hardcase.bak"


@dataclass(frozen=True)
class Reference:
    path: Path
    line: int  # 1-based
    offset: int  # character offset of the reference in the file text
    text: str  # the reference exactly as written

    @property
    def pinned(self) -> bool:
        return "@sha256:" in self.text


@dataclass(frozen=True)
class Change:
    ref: Reference
    new_text: str


def _kind(path: Path) -> str | None:
    name = path.name
    if name.endswith(BACKUP_SUFFIX):
        return None
    if any(fnmatch.fnmatch(name, p) for p in DOCKERFILE_PATTERNS):
        return "dockerfile"
    if any(fnmatch.fnmatch(name, p) for p in COMPOSE_PATTERNS):
        return "compose"
    return None


def discover(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(files_below(path, _kind))
        elif path.is_file():
            if _kind(path) is None:
                raise UsageError(f"{path}: not a Dockerfile or compose file")
            found.append(path)
        elif path.exists():
            raise UsageError(f"{path}: {file_kind(path.stat().st_mode)}, not a regular file; refusing to read it")
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def dockerfile_references(path: Path, text: str) -> list[Reference]:
    import dockerfile

    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise UsageError(f"{path}: cannot parse Dockerfile ({str(exc).splitlines()[0]})") from None
    offsets = line_offsets(text)
    stages: set[str] = set()
    refs: list[Reference] = []
    for command in commands:
        if command.cmd.upper() != "FROM" or not command.value:
            continue
        image = command.value[0]
        stage = command.value[2].lower() if len(command.value) >= 3 and command.value[1].upper() == "AS" else None
        if image.lower() in stages or image == "scratch" or "$" in image:
            if stage:
                stages.add(stage)
            continue
        if stage:
            stages.add(stage)
        start = offsets[command.start_line - 1]
        end = offsets[min(command.end_line, len(offsets) - 1)]
        span = text[start:end]
        keyword = span.upper().find("FROM")
        position = span.find(image, keyword + 4)
        if position < 0:
            continue
        refs.append(Reference(path, command.start_line, start + position, image))
    return refs


def compose_references(path: Path, text: str) -> list[Reference]:
    from generator.core.yamlio import bounded_yaml, load_bounded

    data = load_bounded(bounded_yaml("rt"), text, str(path))  # alias bombs and deep nesting refused
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return []
    offsets = line_offsets(text)
    refs = []
    for _, service in services.items():
        if not hasattr(service, "get") or not isinstance(service.get("image"), str):
            continue
        if "build" in service:
            continue  # the image is built here and only named by `image:`; there is nothing to pull
        line, column = service.lc.value("image")
        start = offsets[line] + column
        image = service["image"]
        quote = text[start] if text[start] in "'\"" else ""
        if text[start + len(quote): start + len(quote) + len(image)] != image:
            continue  # written with escapes or folded; leave it alone rather than guess
        refs.append(Reference(path, line + 1, start + len(quote), image))
    return refs


def read_text_exact(path: Path) -> str:
    """File text with line endings untouched (read_text would turn CRLF into LF)."""
    try:
        return read_user_bytes(str(path)).decode("utf-8")  # one line for an unreadable or non-regular file
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None


def references(path: Path) -> list[Reference]:
    text = read_text_exact(path)
    return dockerfile_references(path, text) if _kind(path) == "dockerfile" else compose_references(path, text)


def plan_changes(refs: list[Reference], update: bool, registry_mirror: str,
                 resolve: Callable[[imageref.ImageRef], str]) -> list[Change]:
    changes = []
    for ref in refs:
        if ref.pinned and not update and not registry_mirror:
            continue
        parsed = imageref.parse(ref.text)
        target = imageref.parse(mirror.apply(str(imageref.ImageRef(parsed.name, parsed.tag, None)), registry_mirror))
        digest = resolve(target)
        new_text = str(target.with_digest(digest))
        if new_text != ref.text:
            changes.append(Change(ref, new_text))
    return changes


def apply_changes(path: Path, changes: list[Change]) -> str:
    text = read_text_exact(path)
    for change in sorted(changes, key=lambda c: c.ref.offset, reverse=True):
        start = change.ref.offset
        end = start + len(change.ref.text)
        if text[start:end] != change.ref.text:
            raise UsageError(f"{path}:{change.ref.line}: file changed while pinning")
        text = text[:start] + change.new_text + text[end:]
    return text
