"""Presets: named, versioned sets of answers kept as YAML files in `presets/`.

A preset is just an answers layer with a name and a description; it is validated like any other
answers, so a broken preset fails the same way a broken answers file does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .resources import presets_dir
from .yamlio import load_yaml_file

ALLOWED_KEYS = {"description", "answers"}


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


def available() -> list[Preset]:
    return [_load(path, path.stem) for path in sorted(presets_dir().glob("*.yaml"))]


def find(name_or_file: str) -> Preset:
    """A preset by name, or a preset file by path (anything with a '/' or a .yaml/.yml suffix)."""
    candidate = Path(name_or_file)
    if "/" in name_or_file or candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise UsageError(f"preset file {name_or_file}: no such file")
        return _load(candidate, candidate.stem)
    path = presets_dir() / f"{name_or_file}.yaml"
    if not path.is_file():
        names = ", ".join(p.stem for p in sorted(presets_dir().glob("*.yaml")))
        raise UsageError(f"unknown preset '{name_or_file}' (available: {names})")
    return _load(path, name_or_file)
