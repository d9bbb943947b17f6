"""What hardcase knows about common service images (`data/images.yaml`), and matching an image
reference to it whatever registry, mirror or `library/` prefix it is pulled through."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from generator.core.resources import DATA_DIR
from generator.core.yamlio import load_data_file

IMAGES_FILE = DATA_DIR / "images.yaml"


@dataclass(frozen=True)
class ImageInfo:
    kind: str  # the entry's key: postgres, redis, nginx, ...
    role: str  # backend | frontend
    user: str
    starts_as: str
    root_caps: tuple[str, ...]
    user_caps: tuple[str, ...]
    tmpfs: tuple[str, ...]
    data: tuple[str, ...]
    healthcheck: tuple[str, ...] | None
    file_env: frozenset[str]
    ports: tuple[int, ...]
    limits: dict[str, Any]


def _info(kind: str, entry: dict[str, Any]) -> ImageInfo:
    health = entry.get("healthcheck")
    return ImageInfo(
        kind=kind, role=entry["role"], user=str(entry["user"]), starts_as=str(entry["starts_as"]),
        root_caps=tuple(entry.get("root_caps") or ()), user_caps=tuple(entry.get("user_caps") or ()),
        tmpfs=tuple(entry.get("tmpfs") or ()), data=tuple(entry.get("data") or ()),
        healthcheck=tuple(str(word) for word in health) if health else None,
        file_env=frozenset(entry.get("file_env") or ()), ports=tuple(int(p) for p in entry.get("ports") or ()),
        limits=dict(entry.get("limits") or {}))


@cache
def _data() -> dict[str, Any]:
    data = load_data_file(IMAGES_FILE)
    assert isinstance(data, dict)
    return data


@cache
def _by_name() -> dict[str, ImageInfo]:
    found: dict[str, ImageInfo] = {}
    for kind, entry in _data()["images"].items():
        info = _info(kind, entry)
        for name in entry["names"]:
            found[name] = info
    return found


def default_limits() -> dict[str, Any]:
    return dict(_data()["default_limits"])


def default_ulimits() -> dict[str, int]:
    return dict(_data()["default_ulimits"])


def repository(image: str) -> str:
    """`127.0.0.1:5000/library/postgres:15-bookworm@sha256:…` → `postgres`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    parts = name.lower().split("/")
    if len(parts) > 1 and (re.search(r"[.:]", parts[0]) or parts[0] == "localhost"):
        parts = parts[1:]  # registry host (or mirror)
    while len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def lookup(image: object) -> ImageInfo | None:
    """The knowledge for an image reference; None for an unknown image, a variable or no image."""
    if not isinstance(image, str) or "$" in image:
        return None
    name = repository(image)
    found = _by_name().get(name)
    if found is None and "/" in name:
        # A mirror's path prefix (`mirror.example.com/dockerhub/library/redis`): the rest must still name
        # the official namespace or a full repository, so `bitnami/redis` is not mistaken for redis.
        parts = name.split("/")
        for start in range(1, len(parts) - 1):
            rest = parts[start:]
            candidate = "/".join(rest[1:]) if rest[0] == "library" else "/".join(rest)
            if candidate in _by_name():
                return _by_name()[candidate]
    return found
