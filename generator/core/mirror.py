"""Registry mirrors: map a public image reference onto an internal mirror.

Scheme (the one pull-through caches such as Harbor or Artifactory projects use):
Docker Hub official images go to MIRROR/library/NAME, other Docker Hub images to MIRROR/ORG/NAME,
images from any other registry to MIRROR/REGISTRY-HOST/PATH. Digests are content addresses, so a
true mirror serves the same digest; `hardcase pin --update` re-resolves them otherwise.
"""

from __future__ import annotations

DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


def split_registry(ref: str) -> tuple[str, str]:
    """(registry host, repository path with tag/digest) for a reference, Docker Hub made explicit."""
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = "docker.io", ref
    if host in DOCKER_HUB_HOSTS:
        host = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    return host, path


def apply(ref: str, mirror: str) -> str:
    if not mirror:
        return ref
    host, path = split_registry(ref)
    mirror = mirror.rstrip("/")
    if ref.startswith(mirror + "/"):
        return ref
    if host == "docker.io":
        return f"{mirror}/{path}"
    return f"{mirror}/{host}/{path}"
