"""Where the shipped data lives, in a source checkout and in an installed wheel alike.

The wheel carries `templates/` and `presets/` inside the package (see pyproject's force-include);
a checkout keeps them at the project root, as the project layout asks.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # generator/, not generator/core/
DATA_DIR = PACKAGE_DIR / "data"


def _shipped(name: str) -> Path:
    inside = PACKAGE_DIR / name
    if inside.is_dir():
        return inside
    return PACKAGE_DIR.parent / name


def templates_dir() -> Path:
    return _shipped("templates")


def presets_dir() -> Path:
    return _shipped("presets")
