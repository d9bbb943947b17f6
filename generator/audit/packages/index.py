"""Online package versions, from where the packages themselves come from.

- apt: the Debian archive's `dists/RELEASE/main/binary-amd64/Packages.xz`, and the same file of
  RELEASE-updates and of RELEASE-security (on the security mirror, MIRROR + `-security` as on
  deb.debian.org): the highest version across the three is what `apt-get install` picks today.
  An Ubuntu release reads the same suites from the Ubuntu archive, in the four components an
  Ubuntu image's sources.list enables (main, universe, restricted, multiverse); RELEASE-security
  comes from security.ubuntu.com, or from the Ubuntu mirror given (mirrors carry the -security
  suites in the same tree), or from its own variable.
- pip: PyPI's JSON API (`/pypi/NAME/json`): the newest final, not yanked release whose
  `Requires-Python` admits the image's Python version; left unpinned when the tag does not say which.
- npm: the registry's package document: `dist-tags.latest`, what `npm install NAME` installs.

A failure (offline, HTTP error, unknown package) resolves nothing and says why; it never stops the
rest of `harden`.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from generator.audit.packages.versions import Request, Resolution, Resolver, is_ubuntu
from generator.core.errors import UsageError

DEBIAN_MIRROR = "http://deb.debian.org/debian"
UBUNTU_MIRROR, UBUNTU_SECURITY_MIRROR = "http://archive.ubuntu.com/ubuntu", "http://security.ubuntu.com/ubuntu"
UBUNTU_ENV, UBUNTU_SECURITY_ENV = "HARDCASE_UBUNTU_MIRROR", "HARDCASE_UBUNTU_SECURITY_MIRROR"
UBUNTU_COMPONENTS = ("main", "universe", "restricted", "multiverse")
PYPI_URL = "https://pypi.org/pypi"
NPM_REGISTRY = "https://registry.npmjs.org"
MIRROR_ENV, PYPI_ENV, NPM_ENV = "HARDCASE_DEBIAN_MIRROR", "HARDCASE_PYPI_URL", "HARDCASE_NPM_REGISTRY"
TIMEOUT = 30
PRERELEASE_RE = re.compile(r"(a|b|c|rc|alpha|beta|pre|preview|dev)\d*", re.IGNORECASE)


class FetchError(Exception):
    pass


def fetch(url: str, accept: str = "*/*", redirects: int = 5) -> bytes:
    """GET URL (http or https only), following redirects as PyPI's name normalisation needs."""
    import http.client

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: not an http(s) URL")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           headers={"Accept": accept, "User-Agent": "hardcase"})
        response = connection.getresponse()
        body = response.read()
        location = response.getheader("Location")
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"cannot reach {parts.scheme}://{parts.netloc} ({exc})") from None
    finally:
        connection.close()
    if response.status in (301, 302, 303, 307, 308) and location and redirects > 0:
        return fetch(urllib.parse.urljoin(url, location), accept, redirects - 1)
    if response.status != 200:
        raise FetchError(f"{url} answered HTTP {response.status}")
    return body


# --- apt ----------------------------------------------------------------------------------------

def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _lead(pattern: str, text: str) -> str:
    match = re.match(pattern, text)
    return match.group(0) if match else ""


def _compare_part(a: str, b: str) -> int:
    """dpkg's comparison of an upstream version or Debian revision (deb-version(7))."""
    while a or b:
        a_text, b_text = _lead(r"\D*", a), _lead(r"\D*", b)
        a, b = a[len(a_text):], b[len(b_text):]
        for x, y in zip(a_text + "\0" * (len(b_text) - len(a_text)), b_text + "\0" * (len(a_text) - len(b_text)),
                        strict=True):
            ox = 0 if x == "\0" else _order(x)
            oy = 0 if y == "\0" else _order(y)
            if ox != oy:
                return -1 if ox < oy else 1
        a_num, b_num = _lead(r"\d*", a), _lead(r"\d*", b)
        a, b = a[len(a_num):], b[len(b_num):]
        if int(a_num or 0) != int(b_num or 0):
            return -1 if int(a_num or 0) < int(b_num or 0) else 1
    return 0


def compare_debian(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg --compare-versions orders A and B."""
    def split(version: str) -> tuple[int, str, str]:
        epoch, _, rest = version.rpartition(":") if ":" in version else ("0", "", version)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), upstream, revision

    (ea, ua, ra), (eb, ub, rb) = split(a), split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


def parse_packages(text: str) -> dict[str, str]:
    """Package name -> highest version, from a Packages index (deb822 stanzas)."""
    versions: dict[str, str] = {}
    for stanza in re.split(r"\n\s*\n", text):
        name = re.search(r"^Package:\s*(\S+)", stanza, re.MULTILINE)
        version = re.search(r"^Version:\s*(\S+)", stanza, re.MULTILINE)
        if name and version:
            old = versions.get(name.group(1))
            if old is None or compare_debian(version.group(1), old) > 0:
                versions[name.group(1)] = version.group(1)
    return versions


def debian_suites(mirror: str, release: str) -> list[str]:
    base = mirror.rstrip("/")
    return [f"{base}/dists/{release}/main/binary-amd64/Packages.xz",
            f"{base}/dists/{release}-updates/main/binary-amd64/Packages.xz",
            f"{base}-security/dists/{release}-security/main/binary-amd64/Packages.xz"]


def ubuntu_suites(mirror: str, security: str, release: str) -> list[str]:
    suites = ((mirror, release), (mirror, f"{release}-updates"), (security, f"{release}-security"))
    return [f"{base.rstrip('/')}/dists/{suite}/{component}/binary-amd64/Packages.xz"
            for base, suite in suites for component in UBUNTU_COMPONENTS]


def apt_index(urls: list[str]) -> dict[str, str]:
    """Package name -> the highest version in any of the Packages.xz files at URLS."""
    versions: dict[str, str] = {}
    for url in urls:
        try:
            text = lzma.decompress(fetch(url)).decode("utf-8", "replace")
        except lzma.LZMAError:
            raise FetchError(f"{url} is not xz data") from None
        for name, version in parse_packages(text).items():
            if name not in versions or compare_debian(version, versions[name]) > 0:
                versions[name] = version
    return versions


# --- pip ----------------------------------------------------------------------------------------

def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+", 1)[0]))


def _pad(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


def _clause_holds(clause: str, python: tuple[int, ...]) -> bool:
    match = re.fullmatch(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([\w.*+!-]+)\s*", clause)
    if match is None:
        return True  # a clause this reader does not understand does not exclude the release
    op, text = match.groups()
    if text.endswith(".*"):
        prefix = _numbers(text[:-2])
        same = python[:len(prefix)] == prefix
        return same if op == "==" else (not same if op == "!=" else True)
    mine, theirs = _pad(python, _numbers(text))
    if op == "~=":
        base = _numbers(text)[:-1]
        return mine >= theirs and python[:len(base)] == base
    return {"==": mine == theirs, "===": mine == theirs, "!=": mine != theirs, "<=": mine <= theirs,
            ">=": mine >= theirs, "<": mine < theirs, ">": mine > theirs}[op]


def python_admits(requires: str | None, python: str) -> bool:
    """Some patch release of PYTHON ("3.12") satisfies the Requires-Python specifier."""
    if not requires or not python:
        return True
    major_minor = _numbers(python)[:2]
    return any(all(_clause_holds(clause, (*major_minor, patch)) for clause in requires.split(",") if clause.strip())
               for patch in (0, 99))


def pypi_choice(document: dict[str, Any], python: str) -> str | None:
    candidates = []
    for version, files in (document.get("releases") or {}).items():
        live = [f for f in files or [] if isinstance(f, dict) and not f.get("yanked")]
        if not live or PRERELEASE_RE.search(version.split("+", 1)[0].split(".post", 1)[0]):
            continue
        if all(python_admits(f.get("requires_python"), python) for f in live):
            candidates.append(version)
    return max(candidates, key=_numbers) if candidates else None


@dataclass
class OnlineResolver(Resolver):
    debian_mirror: str = DEBIAN_MIRROR
    pypi_url: str = PYPI_URL
    npm_registry: str = NPM_REGISTRY
    ubuntu_mirror: str = UBUNTU_MIRROR
    ubuntu_security_mirror: str = UBUNTU_SECURITY_MIRROR
    _apt: dict[str, dict[str, str] | str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, debian_mirror: str | None = None, ubuntu_mirror: str | None = None) -> OnlineResolver:
        """The indexes from the options and the environment; a URL that is not http(s) is a usage error."""
        ubuntu = ubuntu_mirror or os.environ.get(UBUNTU_ENV)
        urls = {"--debian-mirror" if debian_mirror else MIRROR_ENV: debian_mirror or os.environ.get(MIRROR_ENV),
                "--ubuntu-mirror" if ubuntu_mirror else UBUNTU_ENV: ubuntu,
                UBUNTU_SECURITY_ENV: os.environ.get(UBUNTU_SECURITY_ENV),
                PYPI_ENV: os.environ.get(PYPI_ENV), NPM_ENV: os.environ.get(NPM_ENV)}
        for name, url in urls.items():
            parts = urllib.parse.urlsplit(url or "http://default")
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UsageError(f"{name}: {str(url)[:80]!r} is not an http(s) URL")
        return cls(debian_mirror=debian_mirror or os.environ.get(MIRROR_ENV) or DEBIAN_MIRROR,
                   pypi_url=os.environ.get(PYPI_ENV) or PYPI_URL,
                   npm_registry=os.environ.get(NPM_ENV) or NPM_REGISTRY,
                   ubuntu_mirror=ubuntu or UBUNTU_MIRROR,
                   ubuntu_security_mirror=os.environ.get(UBUNTU_SECURITY_ENV) or ubuntu or UBUNTU_SECURITY_MIRROR)

    def lookup(self, request: Request) -> Resolution:
        try:
            if request.manager == "apt":
                return self._apt_version(request)
            if request.manager == "pip":
                return self._pip_version(request)
            if request.manager == "npm":
                return self._npm_version(request)
        except FetchError as exc:
            return Resolution(None, str(exc))
        return Resolution(None, f"{request.manager} is not resolved online")

    def _apt_version(self, request: Request) -> Resolution:
        release = request.context
        ubuntu = is_ubuntu(release)
        mirror = (self.ubuntu_mirror if ubuntu else self.debian_mirror).rstrip("/")
        if release not in self._apt:
            urls = (ubuntu_suites(self.ubuntu_mirror, self.ubuntu_security_mirror, release) if ubuntu
                    else debian_suites(self.debian_mirror, release))
            try:
                self._apt[release] = apt_index(urls)
            except FetchError as exc:
                self._apt[release] = str(exc)
        index = self._apt[release]
        if isinstance(index, str):
            return Resolution(None, index)
        version = index.get(request.name)
        source = f"{mirror} {release}"
        components = ", ".join(UBUNTU_COMPONENTS) if ubuntu else "main"
        return Resolution(version, source) if version else Resolution(None, f"not in {source} {components}")

    def _pip_version(self, request: Request) -> Resolution:
        if not request.context:
            # The newest release may not install on the image's interpreter (e.g. Python 2 on centos:7):
            # `pip install NAME` picks a compatible one, a pin would break the build.
            return Resolution(None, "the image's Python version is unknown (not an official python:X.Y image)")
        url = f"{self.pypi_url.rstrip('/')}/{urllib.parse.quote(request.name, safe='')}/json"
        try:
            document = json.loads(fetch(url, "application/json"))
        except ValueError:
            return Resolution(None, f"{url}: not JSON")
        version = pypi_choice(document if isinstance(document, dict) else {}, request.context)
        python = f" for Python {request.context}" if request.context else ""
        source = self.pypi_url.rstrip("/")
        return Resolution(version, source + python) if version else Resolution(None, f"no release{python} on {source}")

    def _npm_version(self, request: Request) -> Resolution:
        url = f"{self.npm_registry.rstrip('/')}/{urllib.parse.quote(request.name, safe='@')}"
        try:
            document = json.loads(fetch(url, "application/vnd.npm.install-v1+json"))
        except ValueError:
            return Resolution(None, f"{url}: not JSON")
        tags = document.get("dist-tags") if isinstance(document, dict) else None
        latest = tags.get("latest") if isinstance(tags, dict) else None
        source = self.npm_registry.rstrip("/")
        if not isinstance(latest, str):
            return Resolution(None, f"{source} has no dist-tags.latest for {request.name}")
        return Resolution(latest, source)
