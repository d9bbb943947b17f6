"""Presets: named, versioned sets of answers kept as YAML files in `presets/`.

A preset is just an answers layer with a name and a description; it is validated like any other
answers, so a broken preset fails the same way a broken answers file does.

Search order for a name: `--presets-dir`, then `HARDCASE_PRESETS_DIR`, then the `presets/` of a
custom template, then the built-ins. The first file with the name wins, so an org can replace a
built-in preset without forking hardcase.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.core.errors import UsageError
from generator.core.resources import presets_dir
from generator.core.yamlio import load_yaml_file

ALLOWED_KEYS = {"description", "answers"}
PRESETS_ENV = "HARDCASE_PRESETS_DIR"


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    answers: dict[str, Any]
    path: Path

    @property
    def language(self) -> str:
        return str(self.answers.get("language", ""))


def _load(path: Path, name: str) -> Preset:
    raw = load_yaml_file(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("answers"), dict):
        raise UsageError(f"preset {name}: expected a mapping with an 'answers' mapping ({path})")
    extra = sorted(set(raw) - ALLOWED_KEYS)
    if extra:
        raise UsageError(f"preset {name}: unknown key '{extra[0]}' ({path})")
    return Preset(name=name, description=str(raw.get("description", "")), answers=dict(raw["answers"]), path=path)


def search_path(presets_dir_flag: Path | None = None, template_presets: Path | None = None) -> list[Path]:
    """Directories searched for presets, first match wins (see the module docstring)."""
    org = os.environ.get(PRESETS_ENV)
    dirs = [d for d in (presets_dir_flag, Path(org) if org else None) if d is not None]
    if template_presets is not None and template_presets.is_dir():
        dirs.append(template_presets)
    for directory in dirs:
        if not directory.is_dir():
            raise UsageError(f"presets directory {directory}: no such directory")
    return [*dirs, presets_dir()]


def in_directory(directory: Path) -> list[Preset]:
    return [_load(path, path.stem) for path in sorted(directory.glob("*.yaml"))]


def available(presets_dir_flag: Path | None = None, template_presets: Path | None = None) -> list[Preset]:
    """Every preset on the search path, shadowed names left out."""
    found: dict[str, Preset] = {}
    for directory in search_path(presets_dir_flag, template_presets):
        for path in sorted(directory.glob("*.yaml")):
            if path.stem not in found:
                found[path.stem] = _load(path, path.stem)
    return sorted(found.values(), key=lambda preset: preset.name)


def find(name_or_file: str, presets_dir_flag: Path | None = None, template_presets: Path | None = None) -> Preset:
    """A preset by name, or a preset file by path (anything with a '/' or a .yaml/.yml suffix)."""
    candidate = Path(name_or_file)
    if "/" in name_or_file or candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise UsageError(f"preset file {name_or_file}: no such file")
        return _load(candidate, candidate.stem)
    dirs = search_path(presets_dir_flag, template_presets)
    for directory in dirs:
        path = directory / f"{name_or_file}.yaml"
        if path.is_file():
            return _load(path, name_or_file)
    names = ", ".join(sorted({p.stem for d in dirs for p in d.glob("*.yaml")}))
    raise UsageError(f"unknown preset '{name_or_file}' (available: {names})")
