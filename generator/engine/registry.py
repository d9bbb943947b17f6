"""Resolve a tag to its manifest digest through the Registry HTTP API v2.

Anonymous bearer-token flow for public registries (Docker Hub, gcr.io, cgr.dev, ...); plain HTTP
only for loopback registries, as dockerd itself allows. The digest returned is what the registry
serves for the tag: the multi-arch index when there is one, so a pin works on every platform.

The registry's answers are not trusted. Its `WWW-Authenticate` challenge names the token service
(`realm`), which may be another host (Docker Hub's is auth.docker.io), so every URL hardcase is
sent to, realm or redirect, must be https (http only on loopback, and only when the registry itself
is a loopback one the user named), must not carry user:password, and must not be an internal IP
literal (loopback, private, link-local: cloud metadata) other than the registry's own address.
No file://, ftp:// or data: URL is ever opened: the opener has no handler for them. hardcase sends
no credentials of the user's (anonymous pulls only); the bearer token it is handed goes only to the
registry host that asked for it, never along a redirect to another host. Each response is bounded
in size, each socket operation by TIMEOUT, and one reference, all requests together, by DEADLINE.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any

from generator.core.errors import UsageError
from generator.core.imageref import DIGEST_RE, ImageRef

ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
TIMEOUT = 15.0  # seconds for one connect or read
DEADLINE = 60.0  # seconds for one reference, every request included
MAX_TOKEN_RESPONSE = 64 * 1024  # bytes: a token response is a small JSON object
MAX_REDIRECTS = 3
LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$")
TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{1,16384}$")  # RFC 6750 b64token: nothing that could break a header
UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")


class RegistryError(UsageError):
    pass


def _scheme(host: str) -> str:
    return "http" if LOOPBACK.match(host) else "https"


def _is_loopback_name(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_url(url: str, registry: str, what: str) -> None:
    """Refuse a URL a registry sent hardcase to (a token realm, a redirect) unless it is safe to follow.

    `registry` is the registry's host[:port] as the image reference names it.
    """
    refuse = f"registry {registry}: refusing the {what} {url[:200]!r}"
    if UNSAFE_URL.search(url):
        raise RegistryError(f"{refuse}: it contains spaces or control characters")
    parts = urllib.parse.urlsplit(url)
    scheme, hostname = parts.scheme.lower(), (parts.hostname or "").lower()
    loopback_registry = bool(LOOPBACK.match(registry))
    if not (scheme == "https" or (scheme == "http" and loopback_registry and _is_loopback_name(hostname))):
        raise RegistryError(f"{refuse}: only https (http only on loopback for a loopback registry)")
    if not hostname:
        raise RegistryError(f"{refuse}: no host")
    if parts.username is not None or parts.password is not None:
        raise RegistryError(f"{refuse}: it carries credentials")
    registry_hostname = (urllib.parse.urlsplit(f"//{registry}").hostname or "").lower()
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return  # a name: the DNS of the user's machine decides where it goes, as for `docker pull`
    if address.is_global or hostname == registry_hostname or (loopback_registry and address.is_loopback):
        return
    raise RegistryError(f"{refuse}: an internal address other than the registry's own")


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a few redirects, each checked like a realm; the Authorization header (sent unredirected)
    is put back only when the redirect stays on the registry's own scheme, host and port."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, registry: str) -> None:
        self.registry = registry

    def http_error_302(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                       headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:  # checked before urllib's own scheme test, so the refusal names the reason
            check_url(urllib.parse.urljoin(req.full_url, location), self.registry, "redirect to")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        check_url(newurl, self.registry, "redirect to")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is None:
            return None
        old_origin = urllib.parse.urlsplit(req.full_url)[:2]
        new_origin = urllib.parse.urlsplit(new.full_url)[:2]
        authorization = req.unredirected_hdrs.get("Authorization")
        if authorization and old_origin == new_origin:
            new.add_unredirected_header("Authorization", authorization)
        return new


def _opener(registry: str) -> urllib.request.OpenerDirector:
    """http and https only (no file, ftp or data handler), redirects checked, proxies as the environment says."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
                    urllib.request.HTTPDefaultErrorHandler(), _Redirects(registry),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _read_bounded(response: Any, limit: int, what: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise RegistryError(f"{what}: response larger than {limit} bytes")
    data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise RegistryError(f"{what}: response larger than {limit} bytes")
    return data


def _token(challenge: str, ref: ImageRef, registry: str) -> str | None:
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        return None
    realm = fields["realm"]
    check_url(realm, registry, "token realm")
    query = {"scope": fields.get("scope", f"repository:{ref.repository}:pull")}
    if "service" in fields:
        query["service"] = fields["service"]
    parts = urllib.parse.urlsplit(realm)
    joined = "&".join(q for q in (parts.query, urllib.parse.urlencode(query)) if q)
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, joined, ""))
    what = f"{ref}: token service {parts.hostname}"
    try:
        request = urllib.request.Request(url)  # noqa: S310 (checked: https, or loopback http)
        with _opener(registry).open(request, timeout=TIMEOUT) as response:
            data = _read_bounded(response, MAX_TOKEN_RESPONSE, what)
    except urllib.error.HTTPError as exc:
        raise RegistryError(f"{what} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise RegistryError(f"{what} unreachable ({getattr(exc, 'reason', exc)})") from None
    try:
        body = json.loads(data)
    except ValueError:
        raise RegistryError(f"{what} answered something other than JSON") from None
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    if token is None:
        return None
    if not isinstance(token, str) or not TOKEN.match(token):
        raise RegistryError(f"{what} answered a malformed token")
    return token


def _resolve(ref: ImageRef) -> str:
    host = ref.api_host
    reference = ref.tag or "latest"
    url = f"{_scheme(host)}://{host}/v2/{ref.repository}/manifests/{reference}"
    opener = _opener(host)
    token: str | None = None
    for _attempt in range(2):
        request = urllib.request.Request(url, method="HEAD", headers={"Accept": ACCEPT})  # noqa: S310 (https/loopback)
        if token:
            request.add_unredirected_header("Authorization", f"Bearer {token}")  # never to another host
        try:
            with opener.open(request, timeout=TIMEOUT) as response:
                digest = response.headers.get("Docker-Content-Digest", "")
                if not DIGEST_RE.match(digest):
                    raise RegistryError(f"{ref}: registry answered without a sha256 digest")
                return str(digest)
        except urllib.error.HTTPError as exc:
            challenge = exc.headers.get("WWW-Authenticate", "") if exc.headers else ""
            exc.close()
            if exc.code == 401 and token is None:
                token = _token(challenge, ref, host)
                if token:
                    continue
            if exc.code == 404:
                raise RegistryError(f"{ref}: not found in {host}") from None
            raise RegistryError(f"{ref}: registry {host} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{ref}: cannot reach registry {host} ({reason})") from None
    raise RegistryError(f"{ref}: registry {host} refused anonymous access")


def resolve_digest(ref: ImageRef) -> str:
    """The digest the registry serves for `ref`'s tag (or `latest`), within DEADLINE seconds.

    The requests run in a worker thread so that a registry trickling bytes (each read just within
    TIMEOUT) cannot hold `pin` forever; the thread is a daemon and dies with its socket or the process.
    """
    outcome: list[tuple[bool, Any]] = []

    def work() -> None:
        try:
            outcome.append((True, _resolve(ref)))
        except BaseException as exc:  # handed to the caller's thread as it is
            outcome.append((False, exc))

    worker = threading.Thread(target=work, name="hardcase-registry", daemon=True)
    worker.start()
    worker.join(DEADLINE)
    if not outcome:
        raise RegistryError(f"{ref}: registry {ref.api_host} did not answer within {DEADLINE:.0f} s")
    done, value = outcome[0]
    if not done:
        raise value
    return str(value)
