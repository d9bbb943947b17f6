"""Resolve a tag to its manifest digest through the Registry HTTP API v2.

Anonymous bearer-token flow for public registries (Docker Hub, gcr.io, cgr.dev, ...); plain HTTP
only for loopback registries, as dockerd itself allows. The digest returned is what the registry
serves for the tag: the multi-arch index when there is one, so a pin works on every platform.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from generator.core.errors import UsageError
from generator.core.imageref import DIGEST_RE, ImageRef

ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
TIMEOUT = 15
LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$")


class RegistryError(UsageError):
    pass


def _scheme(host: str) -> str:
    return "http" if LOOPBACK.match(host) else "https"


def _token(challenge: str, repository: str) -> str | None:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        return None
    query = {"scope": fields.get("scope", f"repository:{repository}:pull")}
    if "service" in fields:
        query["service"] = fields["service"]
    url = f"{fields['realm']}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (realm is https from the registry)
        body = json.load(response)
    token = body.get("token") or body.get("access_token")
    return str(token) if token else None


def resolve_digest(ref: ImageRef) -> str:
    """The digest the registry serves for `ref`'s tag (or `latest`)."""
    host = ref.api_host
    reference = ref.tag or "latest"
    url = f"{_scheme(host)}://{host}/v2/{ref.repository}/manifests/{reference}"
    headers = {"Accept": ACCEPT}
    for _attempt in range(2):
        request = urllib.request.Request(url, method="HEAD", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                digest = response.headers.get("Docker-Content-Digest", "")
                if not DIGEST_RE.match(digest):
                    raise RegistryError(f"{ref}: registry answered without a sha256 digest")
                return str(digest)
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "")
            if exc.code == 401 and "Authorization" not in headers:
                token = _token(challenge, ref.repository)
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                    continue
            if exc.code == 404:
                raise RegistryError(f"{ref}: not found in {host}") from None
            raise RegistryError(f"{ref}: registry {host} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{ref}: cannot reach registry {host} ({reason})") from None
    raise RegistryError(f"{ref}: registry {host} refused anonymous access")
