"""Image references: parse `[registry/]path[:tag][@digest]` and put them back together.

`hardcase check` reads image names through this module, so it uses `core.record`, not dataclasses.
"""

from __future__ import annotations

import re

from generator.core.errors import UsageError
from generator.core.mirror import split_registry
from generator.core.record import record as dataclass
from generator.core.record import replace

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
PATH_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class ImageRef:
    name: str  # as written, without tag or digest (e.g. "python", "127.0.0.1:5000/library/python")
    tag: str | None
    digest: str | None

    @property
    def registry(self) -> str:
        return split_registry(self.name)[0]

    @property
    def repository(self) -> str:
        return split_registry(self.name)[1]

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.registry == "docker.io" else self.registry

    def with_digest(self, digest: str) -> ImageRef:
        return replace(self, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse(text: str) -> ImageRef:
    rest, _, digest = text.partition("@")
    if digest and not DIGEST_RE.match(digest):
        raise UsageError(f"image reference {text!r}: digest must be sha256:<64 hex>")
    name, tag = rest, None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1:]
        if not TAG_RE.match(tag):
            raise UsageError(f"image reference {text!r}: invalid tag")
    _, path = split_registry(name)
    if not name or not PATH_RE.match(path):
        raise UsageError(f"image reference {text!r}: invalid name")
    return ImageRef(name=name, tag=tag, digest=digest or None)


def image_name(ref: str) -> str:
    rest = ref.split("@", 1)[0]
    slash, colon = rest.rfind("/"), rest.rfind(":")
    return rest[:colon] if colon > slash else rest


def image_tag(ref: str) -> str | None:
    rest = ref.split("@", 1)[0]
    slash, colon = rest.rfind("/"), rest.rfind(":")
    return rest[colon + 1:] if colon > slash else None
