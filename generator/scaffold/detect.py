"""Guess language and framework from the source already in DIR, to offer them as defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:200_000]
    except OSError:
        return ""


def _python_framework(text: str) -> str | None:
    lowered = text.lower()
    if re.search(r"(^|[^a-z])fastapi([^a-z]|$)", lowered):
        return "fastapi"
    if re.search(r"(^|[^a-z])flask([^a-z]|$)", lowered):
        return "flask"
    return None


def _dependencies(text: str) -> set[str]:
    """The dependency names of a package.json; nothing when it is not the shape npm writes.

    Detection only offers defaults, so a manifest of any other shape (a top-level array,
    `"dependencies": 5`, JSON nested deeper than the parser's recursion limit) is ignored, never an error.
    """
    try:
        manifest = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return set()
    if not isinstance(manifest, dict):
        return set()
    dependencies = manifest.get("dependencies")
    return set(dependencies) if isinstance(dependencies, dict) else set()


def detect(directory: Path) -> dict[str, str]:
    """Answers implied by the files in `directory`; empty when nothing is recognised."""
    if not directory.is_dir():
        return {}
    if (directory / "go.mod").is_file():
        return {"language": "go", "framework": "stdlib"}
    package_json = directory / "package.json"
    if package_json.is_file():
        found = {"language": "node"}
        if "express" in _dependencies(_read(package_json)):
            found["framework"] = "express"
        return found
    for marker in ("pyproject.toml", "requirements.txt", "setup.py", "Pipfile"):
        if (directory / marker).is_file():
            found = {"language": "python"}
            framework = _python_framework(_read(directory / marker))
            if framework:
                found["framework"] = framework
            return found
    return {}
