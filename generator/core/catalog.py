"""The base-image catalog: which images a stack builds on, and the digest each is pinned to.

Kept as data (`data/stacks.yaml`, `data/base-images.yaml`) so a digest bump is a one-line change
with its provenance beside it, and so policy and `pin` read the same facts the templates do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from generator.core.errors import UsageError
from generator.core.resources import DATA_DIR
from generator.core.yamlio import load_data_file

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# An org (or a test) can point hardcase at its own copy of the base-image catalog, e.g. one whose
# digests were bumped after a rebuild; `hardcase update` then rolls the new digests into projects.
CATALOG_ENV = "HARDCASE_CATALOG"


@dataclass(frozen=True)
class BaseImage:
    ref: str  # name:tag as published upstream
    digest: str
    source: str

    @property
    def pinned(self) -> str:
        return f"{self.ref}@{self.digest}"


@dataclass(frozen=True)
class StackImages:
    """The pair of images one language/version/flavour uses, and what the runtime image provides."""

    build: BaseImage
    runtime: BaseImage
    interpreter: str | None
    uid: int


@dataclass(frozen=True)
class Language:
    name: str
    frameworks: tuple[str, ...]
    default_framework: str
    default_port: int
    versions: tuple[str, ...]  # default first
    flavours: dict[str, tuple[str, ...]]  # version -> flavours, secure default first


FLAVOUR_ORDER = ("distroless", "chainguard", "slim")


def catalog_path() -> Path:
    configured = os.environ.get(CATALOG_ENV)
    return Path(configured) if configured else DATA_DIR / "base-images.yaml"


def images() -> dict[str, BaseImage]:
    """The catalog in effect now (re-read when HARDCASE_CATALOG points elsewhere)."""
    return _images(catalog_path())


@cache
def _images(path: Path) -> dict[str, BaseImage]:
    if not path.is_file():
        raise UsageError(f"base-image catalog {path}: no such file (check {CATALOG_ENV})")
    raw = load_data_file(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("images"), dict):
        raise UsageError(f"base-image catalog {path}: expected an 'images' mapping")
    result: dict[str, BaseImage] = {}
    for ref, entry in raw["images"].items():
        digest = entry.get("digest")
        if not isinstance(digest, str) or not DIGEST_RE.fullmatch(digest):
            raise UsageError(f"base-image catalog: {ref} has no valid sha256 digest")
        result[ref] = BaseImage(ref=ref, digest=digest, source=str(entry.get("source", "")))
    return result


@cache
def _stacks() -> dict[str, Any]:
    data: dict[str, Any] = load_data_file(DATA_DIR / "stacks.yaml")
    return data


@cache
def languages() -> dict[str, Language]:
    result: dict[str, Language] = {}
    for name, spec in _stacks().items():
        versions = sorted(spec["versions"], key=lambda v: not spec["versions"][v].get("default", False))
        flavours = {
            v: tuple(f for f in FLAVOUR_ORDER if f in spec["versions"][v]["flavours"]) for v in versions
        }
        result[name] = Language(
            name=name,
            frameworks=tuple(spec["frameworks"]),
            default_framework=spec["default_framework"],
            default_port=int(spec["default_port"]),
            versions=tuple(versions),
            flavours=flavours,
        )
    return result


def stack_images(language: str, version: str, flavour: str) -> StackImages:
    spec = _stacks()[language]["versions"][version]["flavours"][flavour]
    catalog = images()
    missing = [spec[role] for role in ("build", "runtime") if spec[role] not in catalog]
    if missing:
        raise UsageError(f"base-image catalog {catalog_path()}: no entry for {missing[0]}")
    return StackImages(
        build=catalog[spec["build"]],
        runtime=catalog[spec["runtime"]],
        interpreter=spec.get("interpreter"),
        uid=int(spec["uid"]),
    )
