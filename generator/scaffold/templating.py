"""Render a cookiecutter-format template into an in-memory plan, safely.

Why not cookiecutter's own `generate_files`: it renders with an unsandboxed Jinja environment and
re-renders answer values as templates, so an answer such as `{{ cycler.__init__.__globals__... }}`
would run code. Here answers are only ever *values* in the context; the template text is rendered
in a sandboxed environment with strict undefined variables, and every output path is confined to
the destination. The template format is cookiecutter's (cookiecutter.json, a `{{cookiecutter.*}}`
root directory, a `templates/` directory for includes, `_copy_without_render`), so plain
`cookiecutter` renders the same template.

A file that renders to only whitespace is left out of the plan: that is how a template says a file
belongs to another language or to `--with-app` (the template's post-generation hook does the same
for plain cookiecutter).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from generator.core.errors import ConflictError, UsageError


@dataclass(frozen=True)
class FileOp:
    path: PurePosixPath  # relative to the destination
    content: bytes
    mode: int = 0o644


PROJECT_PREFIX = "__project__"


def _bytecode_cache() -> Any:
    """Compiled templates cached per user, so a run does not recompile unchanged templates.

    Jinja keys the cache by template name and source checksum, so an edited template recompiles.
    """
    import os

    from jinja2 import FileSystemBytecodeCache

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hardcase" / "jinja"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(base))


def _environment(template_root: Path, project: Path) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        # Includes resolve in the template's `templates/` directory (cookiecutter's convention);
        # the project files themselves load under a prefix that no include can name by accident.
        loader=ChoiceLoader([
            FileSystemLoader(str(template_root / "templates")),
            PrefixLoader({PROJECT_PREFIX: FileSystemLoader(str(project))}),
        ]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
    )


def read_template_config(template_root: Path) -> dict[str, Any]:
    config_path = template_root / "cookiecutter.json"
    try:
        config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{template_root}: not a cookiecutter template (no cookiecutter.json)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{config_path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    return config


def _project_dir(template_root: Path) -> Path:
    candidates = [p for p in template_root.iterdir() if p.is_dir() and "cookiecutter" in p.name and "{{" in p.name]
    if len(candidates) != 1:
        raise UsageError(f"{template_root}: expected exactly one '{{{{cookiecutter.…}}}}' directory")
    return candidates[0]


def _safe_relative(rendered: str, source: Path) -> PurePosixPath:
    path = PurePosixPath(rendered)
    if path.is_absolute() or any(part in ("", ".", "..") for part in rendered.split("/")) or "\\" in rendered:
        raise ConflictError(f"template path {source.name!r} renders outside the destination: {rendered!r}")
    return path


def render(template_root: Path, context: dict[str, Any]) -> list[FileOp]:
    """The files the template produces for `context` (the `cookiecutter` namespace), in path order."""
    project = _project_dir(template_root)
    env = _environment(template_root, project)
    copy_raw = list(context.get("_copy_without_render", []))
    namespace = {"cookiecutter": context}
    plan: list[FileOp] = []
    for source in sorted(project.rglob("*")):
        if source.is_symlink():
            raise ConflictError(f"template contains a symlink, refusing: {source.relative_to(template_root)}")
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative_template = source.relative_to(project).as_posix()
        rendered_parts = [env.from_string(part).render(namespace) if "{" in part else part
                          for part in relative_template.split("/")]
        relative = _safe_relative("/".join(rendered_parts), source)
        raw = source.read_bytes()
        if any(fnmatch.fnmatch(relative_template, pattern) for pattern in copy_raw):
            content = raw
        else:
            template = env.get_template(f"{PROJECT_PREFIX}/{relative_template}")
            content = template.render(namespace).encode("utf-8")
        if not content.strip():
            continue
        mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
        plan.append(FileOp(path=relative, content=content, mode=mode))
    return plan
