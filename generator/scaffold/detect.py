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


def detect(directory: Path) -> dict[str, str]:
    """Answers implied by the files in `directory`; empty when nothing is recognised."""
    if not directory.is_dir():
        return {}
    if (directory / "go.mod").is_file():
        return {"language": "go", "framework": "stdlib"}
    package_json = directory / "package.json"
    if package_json.is_file():
        found = {"language": "node"}
        try:
            manifest = json.loads(_read(package_json) or "{}")
        except json.JSONDecodeError:
            manifest = {}
        if isinstance(manifest, dict) and "express" in (manifest.get("dependencies") or {}):
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
