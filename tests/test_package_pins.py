"""Package version pinning (HC048's fix): resolution from the package indexes and from a versions file.

A small in-process HTTP server on 127.0.0.1 plays the Debian mirror (Packages.xz of a release, its
-updates and its -security suites), the Ubuntu archive and security mirror (the same suites in four
components), PyPI's JSON API and the npm registry, so no test touches the
public internet. dpkg itself judges the Debian version ordering.
"""

from __future__ import annotations

import http.server
import json
import lzma
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from scaffold_support import assert_one_line_error, run_cli

from generator.audit.packages.index import OnlineResolver, compare_debian, pypi_choice, python_admits
from generator.audit.packages.versions import Request, apt_release, from_mapping, python_version, unavailable
from generator.core.errors import UsageError


def packages_xz(*stanzas: tuple[str, str]) -> bytes:
    text = "\n".join(f"Package: {name}\nVersion: {version}\nArchitecture: amd64\n" for name, version in stanzas)
    return lzma.compress(text.encode())


FLASK = {
    "info": {"name": "Flask", "version": "9.0.0rc1"},
    "releases": {
        "2.0.3": [{"requires_python": ">=3.6", "yanked": False}],
        "2.3.3": [{"requires_python": ">=3.8", "yanked": False}],
        "3.1.2": [{"requires_python": ">=3.9", "yanked": False}],
        "3.2.0": [{"requires_python": ">=3.9", "yanked": True}],
        "9.0.0rc1": [{"requires_python": ">=3.9", "yanked": False}],
        "3.0.0": [],
    },
}


UBUNTU_COMPONENTS = ("main", "universe", "restricted", "multiverse")
# Ubuntu's jammy: every suite and component answers; what a package's versions are, where.
JAMMY = {
    ("ubuntu", "jammy", "main"): [("curl", "7.81.0-1"), ("libc6", "2.35-0ubuntu3")],
    ("ubuntu", "jammy", "universe"): [("ripgrep", "13.0.0-2")],
    ("ubuntu", "jammy-updates", "main"): [("curl", "7.81.0-1ubuntu1.20"), ("libc6", "2.35-0ubuntu3.8")],
    ("ubuntu", "jammy-updates", "universe"): [("ripgrep", "13.0.0-2ubuntu0.1")],
    ("ubuntu", "jammy-updates", "multiverse"): [("unrar", "1:6.1.5-1ubuntu0.1")],
    ("ubuntu-security", "jammy-security", "main"): [("curl", "7.81.0-1ubuntu1.21"), ("curl", "7.81.0-1ubuntu1.3")],
    ("ubuntu-security", "jammy-security", "restricted"): [("nvidia-kernel-common-535", "535.247.01-0ubuntu0.22.04.1")],
}
JAMMY_ROUTES = {f"/{mirror}/dists/{suite}/{component}/binary-amd64/Packages.xz":
                (200, packages_xz(*JAMMY.get((mirror, suite, component), [])))
                for mirror, suite in (("ubuntu", "jammy"), ("ubuntu", "jammy-updates"),
                                      ("ubuntu-security", "jammy-security"))
                for component in UBUNTU_COMPONENTS}


class FakeIndexes(http.server.BaseHTTPRequestHandler):
    """/debian and /debian-security (a mirror), /ubuntu and /ubuntu-security (Ubuntu's archive and
    security mirror), /pypi (PyPI's JSON API), /npm (the registry)."""

    routes: ClassVar[dict[str, tuple[int, bytes]]] = {
        **JAMMY_ROUTES,
        "/ubuntu/dists/xenial/main/binary-amd64/Packages.xz": (200, packages_xz(("curl", "7.47.0-1ubuntu2"))),
        "/debian/dists/bookworm/main/binary-amd64/Packages.xz": (200, packages_xz(
            ("curl", "7.88.1-10+deb12u8"), ("libc6", "2.36-9+deb12u4"), ("ca-certificates", "20230311"))),
        "/debian/dists/bookworm-updates/main/binary-amd64/Packages.xz": (200, packages_xz(
            ("libc6", "2.36-9+deb12u7"))),
        "/debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz": (200, packages_xz(
            ("curl", "7.88.1-10+deb12u12"), ("curl", "7.88.1-10+deb12u9"))),
        "/debian/dists/trixie/main/binary-amd64/Packages.xz": (200, b"not xz"),
        "/pypi/flask/json": (200, json.dumps(FLASK).encode()),
        "/pypi/evil/json": (200, json.dumps({"releases": {"1.0; rm -rf /": [{}]}}).encode()),
        "/npm/@angular%2Fcli": (200, json.dumps({"dist-tags": {"latest": "20.1.0", "next": "21.0.0-rc.1"}}).encode()),
        "/npm/express": (200, json.dumps({"dist-tags": {"latest": "5.1.0"}}).encode()),
        "/npm/evil": (200, json.dumps({"dist-tags": {"latest": "1.0.0 && curl x|sh"}}).encode()),
    }
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        FakeIndexes.seen.append(self.path)
        if self.path == "/pypi/Flask/json":
            self.send_response(301)
            self.send_header("Location", "/pypi/flask/json")
            self.end_headers()
            return
        status, body = self.routes.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def indexes() -> Iterator[str]:
    FakeIndexes.seen.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeIndexes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def resolver_for(base: str) -> OnlineResolver:
    return OnlineResolver(debian_mirror=f"{base}/debian", pypi_url=f"{base}/pypi", npm_registry=f"{base}/npm",
                          ubuntu_mirror=f"{base}/ubuntu", ubuntu_security_mirror=f"{base}/ubuntu-security")


# --- online resolution ---------------------------------------------------------------------------


def test_apt_takes_the_highest_version_across_release_updates_and_security(indexes: str) -> None:
    resolver = resolver_for(indexes)
    curl = resolver.resolve(Request("apt", "curl", "bookworm"))
    assert curl.version == "7.88.1-10+deb12u12"
    assert resolver.resolve(Request("apt", "libc6", "bookworm")).version == "2.36-9+deb12u7"
    assert resolver.resolve(Request("apt", "ca-certificates", "bookworm")).version == "20230311"
    missing = resolver.resolve(Request("apt", "no-such-package", "bookworm"))
    assert missing.version is None and "not in" in missing.detail and "bookworm" in missing.detail
    # each suite's index is fetched once, however many packages are asked for
    assert sorted(FakeIndexes.seen) == sorted([
        "/debian/dists/bookworm/main/binary-amd64/Packages.xz",
        "/debian/dists/bookworm-updates/main/binary-amd64/Packages.xz",
        "/debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz"])


def test_apt_index_that_is_not_xz_or_missing_resolves_nothing_and_says_why(indexes: str) -> None:
    resolver = resolver_for(indexes)
    broken = resolver.resolve(Request("apt", "curl", "trixie"))
    assert broken.version is None and "not xz data" in broken.detail
    absent = resolver.resolve(Request("apt", "curl", "bullseye"))
    assert absent.version is None and "HTTP 404" in absent.detail


def test_ubuntu_apt_takes_the_highest_version_across_suites_and_components(indexes: str) -> None:
    resolver = resolver_for(indexes)
    assert resolver.resolve(Request("apt", "curl", "jammy")).version == "7.81.0-1ubuntu1.21"  # -security
    assert resolver.resolve(Request("apt", "libc6", "jammy")).version == "2.35-0ubuntu3.8"  # -updates
    assert resolver.resolve(Request("apt", "ripgrep", "jammy")).version == "13.0.0-2ubuntu0.1"  # universe
    assert resolver.resolve(Request("apt", "unrar", "jammy")).version == "1:6.1.5-1ubuntu0.1"  # multiverse
    assert resolver.resolve(Request("apt", "nvidia-kernel-common-535", "jammy")).version  # restricted
    curl = resolver.resolve(Request("apt", "curl", "jammy"))
    assert curl.detail == f"{indexes}/ubuntu jammy"
    missing = resolver.resolve(Request("apt", "no-such-package", "jammy"))
    assert missing.version is None and missing.detail == (
        f"not in {indexes}/ubuntu jammy main, universe, restricted, multiverse")
    # -security from the security mirror; each file fetched once; nothing from the Debian mirror
    assert sorted(FakeIndexes.seen) == sorted(JAMMY_ROUTES)


def test_ubuntu_release_with_a_missing_suite_resolves_nothing_and_says_why(indexes: str) -> None:
    resolver = resolver_for(indexes)
    xenial = resolver.resolve(Request("apt", "curl", "xenial"))  # the fake serves only xenial/main
    assert xenial.version is None and "xenial/universe" in xenial.detail and "HTTP 404" in xenial.detail


def test_ubuntu_security_mirror_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HARDCASE_UBUNTU_MIRROR", "HARDCASE_UBUNTU_SECURITY_MIRROR"):
        monkeypatch.delenv(name, raising=False)
    default = OnlineResolver.from_environment()
    assert (default.ubuntu_mirror, default.ubuntu_security_mirror) == (
        "http://archive.ubuntu.com/ubuntu", "http://security.ubuntu.com/ubuntu")
    mirrored = OnlineResolver.from_environment(ubuntu_mirror="http://mirror.local/ubuntu")
    assert (mirrored.ubuntu_mirror, mirrored.ubuntu_security_mirror) == ("http://mirror.local/ubuntu",) * 2
    monkeypatch.setenv("HARDCASE_UBUNTU_MIRROR", "http://env.local/ubuntu")
    monkeypatch.setenv("HARDCASE_UBUNTU_SECURITY_MIRROR", "https://sec.local/ubuntu")
    both = OnlineResolver.from_environment()
    assert (both.ubuntu_mirror, both.ubuntu_security_mirror) == ("http://env.local/ubuntu", "https://sec.local/ubuntu")
    assert OnlineResolver.from_environment(ubuntu_mirror="http://cli.local/ubuntu").ubuntu_mirror == (
        "http://cli.local/ubuntu")
    monkeypatch.setenv("HARDCASE_UBUNTU_SECURITY_MIRROR", "ftp://sec.local/ubuntu")
    with pytest.raises(UsageError, match="HARDCASE_UBUNTU_SECURITY_MIRROR"):
        OnlineResolver.from_environment()


def test_pip_takes_the_newest_final_release_the_python_version_admits(indexes: str) -> None:
    resolver = resolver_for(indexes)
    assert resolver.resolve(Request("pip", "flask", "3.12")).version == "3.1.2"
    assert resolver.resolve(Request("pip", "flask", "3.8")).version == "2.3.3"
    assert resolver.resolve(Request("pip", "flask", "3.6")).version == "2.0.3"
    assert resolver.resolve(Request("pip", "Flask", "3.12")).version == "3.1.2"  # through PyPI's redirect
    blind = resolver.resolve(Request("pip", "flask", ""))  # the newest may not install on the image's Python
    assert blind.version is None and "Python version is unknown" in blind.detail
    none = resolver.resolve(Request("pip", "flask", "2.7"))
    assert none.version is None and "Python 2.7" in none.detail
    unknown = resolver.resolve(Request("pip", "nope", "3.12"))
    assert unknown.version is None and "HTTP 404" in unknown.detail


def test_npm_takes_dist_tags_latest(indexes: str) -> None:
    resolver = resolver_for(indexes)
    assert resolver.resolve(Request("npm", "@angular/cli")).version == "20.1.0"
    assert resolver.resolve(Request("npm", "express")).version == "5.1.0"


def test_an_index_cannot_inject_shell_through_a_version(indexes: str) -> None:
    resolver = resolver_for(indexes)
    for request in (Request("npm", "evil"), Request("pip", "evil", "3.12")):
        answer = resolver.resolve(request)
        assert answer.version is None, answer


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_index_resolves_nothing_and_says_why() -> None:
    resolver = resolver_for(f"http://127.0.0.1:{closed_port()}")
    answer = resolver.resolve(Request("npm", "express"))
    assert answer.version is None and "cannot reach" in answer.detail
    apt = resolver.resolve(Request("apt", "curl", "bookworm"))
    assert apt.version is None and "cannot reach" in apt.detail


# --- version logic --------------------------------------------------------------------------------

DEBIAN_VERSIONS = ["1.0", "1.0~rc1", "1.0-1", "1.0-1+b1", "1:0.9", "1.0a", "1.0+dfsg", "1.0.1", "1.00",
                   "7.88.1-10+deb12u8", "7.88.1-10+deb12u12", "2:8.2+93", "20230311", "20250419~deb12u2", "1.0~~",
                   "0.9-0ubuntu1", "1.0-1~bpo12+1", "1.2.3-4.1", "1.2.3-4a"]


@pytest.mark.parametrize("a", DEBIAN_VERSIONS)
def test_debian_version_order_is_dpkgs(a: str) -> None:
    for b in DEBIAN_VERSIONS:
        expected = [op for op in ("lt", "eq", "gt")
                    if subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0]
        assert len(expected) == 1, (a, b, expected)
        assert compare_debian(a, b) == {"lt": -1, "eq": 0, "gt": 1}[expected[0]], (a, b)


def test_requires_python() -> None:
    assert python_admits(None, "3.6") and python_admits(">=3.6", "")
    assert python_admits(">=3.8", "3.12") and not python_admits(">=3.8", "3.6")
    assert python_admits(">=3.6, !=3.7.*", "3.8") and not python_admits(">=3.6, !=3.7.*", "3.7")
    assert python_admits("~=3.6", "3.11") and not python_admits("~=3.6", "4.0")
    assert python_admits(">=3.11.2", "3.11")  # some 3.11 release does
    assert not python_admits("<3", "3.12") and python_admits(">2.7,<4", "3.12")
    assert pypi_choice(FLASK, "3.10") == "3.1.2"
    assert pypi_choice({"releases": {"1.0a1": [{}], "1.0.dev3": [{}]}}, "3.12") is None


@pytest.mark.parametrize(("image", "release"), [
    ("python:3.11-slim-bookworm", "bookworm"), ("node:18-bullseye", "bullseye"), ("debian:12", "bookworm"),
    ("debian:12-slim", "bookworm"), ("debian:bookworm-20240110-slim", "bookworm"), ("debian:11.9", "bullseye"),
    ("127.0.0.1:5000/library/debian:12-slim", "bookworm"), ("golang:1.27-trixie", "trixie"),
    ("php:7.4-fpm", "bullseye"), ("ruby:2.3", "stretch"), ("rust:1.40", "buster"),
    ("python:3.11", None), ("node:latest", None), ("tomcat:7", None), ("python:${V}", None),
    ("ubuntu:22.04", "jammy"), ("ubuntu:16.04", "xenial"), ("ubuntu:xenial", "xenial"), ("ubuntu:14.04", "trusty"),
    ("ubuntu:jammy-20240111", "jammy"), ("127.0.0.1:5000/library/ubuntu:24.04", "noble"),
    ("eclipse-temurin:17-jammy", "jammy"), ("maven:3.9-eclipse-temurin-21-noble", "noble"),
    ("buildpack-deps:focal-curl", "focal"), ("ubuntu:latest", None), ("ubuntu", None), ("ubuntu:18.10", None),
    ("ubuntu:16.040", None), ("rabbitmq:3.13-ubuntu", None),
])
def test_apt_release_of_an_image(image: str, release: str | None) -> None:
    found, why = apt_release(image)
    assert found == release
    assert (why == "") == (release is not None)
    if image.startswith("ubuntu") and release is None:
        assert "names no Ubuntu release" in why


def test_releases_gone_from_their_archive() -> None:
    assert "archive.debian.org" in unavailable("buster") and unavailable("bookworm") == ""
    assert "left archive.ubuntu.com" in unavailable("trusty") and "old-releases" in unavailable("trusty")
    assert unavailable("xenial") == "" and unavailable("noble") == ""


def test_python_version_of_an_image() -> None:
    assert python_version("python:3.12-slim-bookworm") == "3.12"
    assert python_version("127.0.0.1:5000/library/python:3.11") == "3.11"
    assert python_version("python:latest") == "" and python_version("node:3.12") == ""


# --- the versions file ----------------------------------------------------------------------------


def test_versions_file_lookup() -> None:
    resolver = from_mapping({"apt": {"bookworm": {"curl": "7.88.1-10+deb12u12"}},
                             "pip": {"3.12": {"Flask": "3.1.2"}, "any": {"flask": "2.0.0", "zope.interface": "7.0"}},
                             "npm": {"@angular/cli": "20.1.0"}}, "versions.yaml")
    assert resolver.resolve(Request("apt", "curl", "bookworm")).version == "7.88.1-10+deb12u12"
    assert resolver.resolve(Request("apt", "curl", "bullseye")).version is None
    assert resolver.resolve(Request("pip", "flask", "3.12")).version == "3.1.2"
    assert resolver.resolve(Request("pip", "FLASK", "3.8")).version == "2.0.0"  # "any", PEP 503 names
    assert resolver.resolve(Request("pip", "zope-interface", "")).version == "7.0"
    assert resolver.resolve(Request("npm", "@angular/cli")).version == "20.1.0"
    missing = resolver.resolve(Request("npm", "express"))
    assert missing.version is None and "versions.yaml" in missing.detail


@pytest.mark.parametrize(("data", "mentions"), [
    (["curl"], "expected a mapping"),
    ({"apk": {}}, "expected a mapping"),
    ({"apt": ["curl"]}, "`apt` must be a mapping"),
    ({"apt": {"bookworm": ["curl"]}}, "apt.bookworm"),
    ({"apt": {"bookworm": {"curl": 7.88}}}, "quote it"),
    ({"apt": {"bookworm": {"curl": "7.88; rm -rf /"}}}, "not a apt version"),
    ({"npm": {"express": "$(id)"}}, "not a npm version"),
    ({"pip": {"any": {"flask; id": "1.0"}}}, "not a pip package name"),
])
def test_bad_versions_data_is_a_usage_error(data: object, mentions: str) -> None:
    with pytest.raises(UsageError, match=r"^versions\.yaml: ") as raised:
        from_mapping(data, "versions.yaml")
    assert mentions in str(raised.value) and "\n" not in str(raised.value)


# --- through the CLI ------------------------------------------------------------------------------

DOCKERFILE = (
    "FROM python:3.12-slim-bookworm\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \\\n"
    "    && rm -rf /var/lib/apt/lists/*\n"
    "RUN pip install --no-cache-dir flask && npm install -g @angular/cli\n"
    "RUN apk add --no-cache bash\n"
    "USER 10001\n"
)
PINNED = (
    "RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u12 "
    "ca-certificates=20230311 \\\n"
    "    && rm -rf /var/lib/apt/lists/*\n"
    "RUN pip install --no-cache-dir flask==3.1.2 && npm install -g @angular/cli@20.1.0\n"
)


@pytest.fixture
def dockerfile(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE, encoding="utf-8")
    return path


def test_harden_pin_packages_online(indexes: str, dockerfile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDCASE_PYPI_URL", f"{indexes}/pypi")
    monkeypatch.setenv("HARDCASE_NPM_REGISTRY", f"{indexes}/npm")
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--pin-packages", "--debian-mirror", f"{indexes}/debian",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert PINNED in result.stdout
    assert "RUN apk add --no-cache bash" in result.stdout
    report = json.loads(result.stderr)["files"][0]
    assert {(p["manager"], p["context"], p["package"], p["version"]) for p in report["package_versions"]} == {
        ("apt", "bookworm", "curl", "7.88.1-10+deb12u12"), ("apt", "bookworm", "ca-certificates", "20230311"),
        ("pip", "3.12", "flask", "3.1.2"), ("npm", "", "@angular/cli", "20.1.0")}
    assert all(p["source"].startswith(indexes) for p in report["package_versions"])
    left = [f for f in report["findings"] if f["rule"] == "HC048"]
    assert len(left) == 1 and "apk: bash" in left[0]["message"] and "by hand" in left[0]["message"]
    assert [f["rule"] for f in report["fixed"]].count("HC048") == 2


UBUNTU_DOCKERFILE = (
    "FROM ubuntu:22.04\n"
    "RUN apt-get update && apt-get install -y --no-install-recommends curl ripgrep \\\n"
    "    && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - \\\n"
    "    && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/*\n"
    "FROM ubuntu:14.04\n"
    "RUN apt-get install -y --no-install-recommends curl\n"
)


def test_harden_pin_packages_online_ubuntu(indexes: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An Ubuntu base resolves from the Ubuntu archive; a package installed after a command that adds
    an apt source (NodeSource's setup script) and a release gone from the archive stay unpinned."""
    monkeypatch.setenv("HARDCASE_UBUNTU_SECURITY_MIRROR", f"{indexes}/ubuntu-security")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(UBUNTU_DOCKERFILE, encoding="utf-8")
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--pin-packages", "--ubuntu-mirror", f"{indexes}/ubuntu",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert "install -y --no-install-recommends curl=7.81.0-1ubuntu1.21 ripgrep=13.0.0-2ubuntu0.1 " in result.stdout
    assert "install -y --no-install-recommends nodejs &&" in result.stdout
    report = json.loads(result.stderr)["files"][0]
    assert {(p["context"], p["package"], p["version"], p["source"]) for p in report["package_versions"]} == {
        ("jammy", "curl", "7.81.0-1ubuntu1.21", f"{indexes}/ubuntu jammy"),
        ("jammy", "ripgrep", "13.0.0-2ubuntu0.1", f"{indexes}/ubuntu jammy")}
    left = sorted(f["message"] for f in report["findings"] if f["rule"] == "HC048")
    assert len(left) == 2
    assert "curl (trusty has left archive.ubuntu.com" in left[0]
    source_line = next(n for n, line in enumerate(result.stdout.splitlines(), 1) if "apt-get update" in line)
    assert f"nodejs (line {source_line} adds an apt source that may provide it: pin it by hand)" in left[1]
    assert not [path for path in FakeIndexes.seen if "trusty" in path or path.startswith("/debian")]


def test_harden_package_versions_file_offline(dockerfile: Path, tmp_path: Path) -> None:
    versions = tmp_path / "versions.yaml"
    versions.write_text('apt:\n  bookworm:\n    curl: "7.88.1-10+deb12u12"\n    ca-certificates: "20230311"\n'
                        'pip:\n  any:\n    flask: "3.1.2"\nnpm:\n  "@angular/cli": "20.1.0"\n', encoding="utf-8")
    out = tmp_path / "Dockerfile.hardened"
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", versions, "-o", out,
                     "--format", "sarif")
    assert result.exit_code == 0, result.stderr
    assert PINNED in out.read_text(encoding="utf-8")
    run = json.loads(result.stdout)["runs"][0]
    pins = run["properties"]["hardcase/packageVersions"]
    assert {(p["package"], p["version"]) for p in pins} == {
        ("curl", "7.88.1-10+deb12u12"), ("ca-certificates", "20230311"), ("flask", "3.1.2"),
        ("@angular/cli", "20.1.0")}
    assert all(p["source"].startswith(str(versions)) for p in pins)
    text = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", versions)
    assert f"{dockerfile}: package version apt bookworm curl 7.88.1-10+deb12u12 (from {versions}" in text.stderr
    assert dockerfile.read_text(encoding="utf-8") == DOCKERFILE


def test_without_a_version_source_nothing_is_pinned(dockerfile: Path) -> None:
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--format", "json")
    assert "curl ca-certificates" in result.stdout and "flask &&" in result.stdout
    report = json.loads(result.stderr)["files"][0]
    assert "package_versions" not in report
    assert [(f["line"], f["fix"]) for f in report["findings"] if f["rule"] == "HC048"] == [
        (2, "needs-review"), (4, "needs-review"), (5, "needs-review")]
    assert not [f for f in report["fixed"] if f["rule"] == "HC048"]


@pytest.mark.parametrize("content", ["apt: [curl]\n", "npm:\n  express: 5.1\n", "a: b: c\n",
                                     "npm:\n  express: '5.1.0 && id'\n"])
def test_bad_versions_file_is_one_line_error(dockerfile: Path, tmp_path: Path, content: str) -> None:
    versions = tmp_path / "versions.yaml"
    versions.write_text(content, encoding="utf-8")
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", versions)
    assert_one_line_error(result, 2, mentions=str(versions))
    assert dockerfile.read_text(encoding="utf-8") == DOCKERFILE


@pytest.mark.parametrize(("argv", "mentions"), [
    (["--pin-packages"], "--unsafe-fixes"),
    (["--unsafe-fixes", "--package-versions", "missing.yaml"], "missing.yaml"),
    (["--unsafe-fixes", "--debian-mirror", "http://x"], "--debian-mirror"),
    (["--unsafe-fixes", "--pin-packages", "--debian-mirror", "ftp://mirror/debian"], "--debian-mirror"),
    (["--unsafe-fixes", "--pin-packages", "--debian-mirror", "file:///etc"], "not an http(s) URL"),
    (["--unsafe-fixes", "--ubuntu-mirror", "http://x"], "--ubuntu-mirror"),
    (["--unsafe-fixes", "--pin-packages", "--ubuntu-mirror", "ftp://mirror/ubuntu"], "--ubuntu-mirror"),
])
def test_pin_option_misuse_is_one_line_error(dockerfile: Path, argv: list[str], mentions: str) -> None:
    assert_one_line_error(run_cli("harden", dockerfile, *argv), 2, mentions=mentions)


# --- hadolint accepts what the fix writes ----------------------------------------------------------


def test_pinned_output_satisfies_hadolint(tmp_path: Path) -> None:
    """hadolint, the independent judge, reports the unpinned input of every HC048 fix case that
    pins something and no version-pin finding on its output."""
    from harden_support import rule_cases

    from tests.corpus_support import VERSION_PIN_RULES, hadolint_located

    cases = [c for c in rule_cases() if c.rule == "HC048" and c.kind == "fix" and c.expected != c.text]
    assert cases
    paths = []
    for number, case in enumerate(cases):
        for name, text in (("in", case.text), ("out", case.expected)):
            path = tmp_path / f"{number}-{name}" / "Dockerfile"
            path.parent.mkdir()
            path.write_text(text or "", encoding="utf-8")
            paths.append(path)
    found = hadolint_located(paths, tmp_path / "home")
    for path in paths:
        pins = [code for code, _line in found[str(path)] if code in VERSION_PIN_RULES]
        assert bool(pins) == (path.parent.name.endswith("-in")), (path.parent.name, pins, path.read_text())


def test_index_urls_from_the_environment_must_be_http(dockerfile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDCASE_NPM_REGISTRY", "file:///etc/passwd")
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--pin-packages")
    assert_one_line_error(result, 2, mentions="HARDCASE_NPM_REGISTRY")
