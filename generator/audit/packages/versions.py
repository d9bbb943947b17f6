"""Package versions for HC048's fix: where they come from and which were used.

`harden` pins a package only to a version it resolved, never to a guess: from a YAML file the user
keeps (`--package-versions FILE`, offline) or from the package indexes themselves
(`--pin-packages`, see `generator.audit.packages.index`). The resolver is active for one harden
run (a context variable, `generator.audit.rules.pins.active`), so rules keep their plain
`fix(parsed, violation)` signature and `hardcase check` never resolves anything.

The file (what an air-gapped platform team keeps next to its mirror):

    apt:                   # Debian or Ubuntu release codename -> package -> version
      bookworm:
        curl: "7.88.1-10+deb12u12"
    pip:                   # Python version of the image ("3.12"), or "any" -> package -> version
      "3.12":
        flask: "3.1.2"
      any:
        requests: "2.32.5"
    npm:                   # package -> version
      express: "5.1.0"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from generator.core.errors import UsageError

MANAGERS = ("apt", "pip", "npm")
# What a version may look like once it is written into a RUN command: never shell syntax.
VERSION_RE = {
    "apt": re.compile(r"[0-9][A-Za-z0-9.+~:-]*"),
    "pip": re.compile(r"[0-9][A-Za-z0-9.+!-]*"),
    "npm": re.compile(r"[0-9][A-Za-z0-9.+-]*"),
}
NAME_RE = {
    "apt": re.compile(r"[a-z0-9][a-z0-9+.-]+"),
    "pip": re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?"),
    "npm": re.compile(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*"),
}
ANY_PYTHON = "any"


@dataclass(frozen=True)
class Request:
    """One package to pin: its manager, its name and what decides the version (apt: the Debian or
    Ubuntu release codename; pip: the image's Python version, "" when unknown; npm: "")."""
    manager: str
    name: str
    context: str = ""


@dataclass(frozen=True)
class Resolution:
    version: str | None
    detail: str  # where the version comes from, or why there is none


@dataclass(frozen=True)
class PackagePin:
    """A version written into the hardened file, for the report."""
    manager: str
    context: str
    package: str
    version: str
    source: str


def valid_version(manager: str, version: str) -> bool:
    pattern = VERSION_RE.get(manager)
    return pattern is not None and pattern.fullmatch(version) is not None


def spelled(manager: str, word: str, version: str) -> str:
    """The pinned operand as hadolint reads it: apt `pkg=1.2-3`, pip `pkg==1.2`, npm `pkg@1.2.3`."""
    return {"apt": f"{word}={version}", "pip": f"{word}=={version}", "npm": f"{word}@{version}"}[manager]


@dataclass
class Resolver:
    """Resolves each request once and remembers the answer (harden asks again on every pass)."""
    answers: dict[Request, Resolution] = field(default_factory=dict)

    def resolve(self, request: Request) -> Resolution:
        if request not in self.answers:
            answer = self.lookup(request)
            if answer.version is not None and not valid_version(request.manager, answer.version):
                answer = Resolution(None, f"{answer.detail} gave an unusable version {answer.version[:40]!r}")
            self.answers[request] = answer
        return self.answers[request]

    def lookup(self, request: Request) -> Resolution:
        raise NotImplementedError

    def pins_in(self, text: str) -> list[PackagePin]:
        """The resolved versions that the hardened text uses."""
        found = []
        for request, answer in sorted(self.answers.items(), key=lambda item: (item[0].manager, item[0].name)):
            if answer.version is not None and re.search(
                    rf"(?<![\w.@/-]){re.escape(request.name)}(\[[^\]\s]*\])?"
                    rf"{re.escape(spelled(request.manager, '', answer.version))}(?![\w.+~:-])", text):
                found.append(PackagePin(request.manager, request.context, request.name, answer.version, answer.detail))
        return found


@dataclass
class FileResolver(Resolver):
    """Versions from a package-versions YAML file: nothing is fetched."""
    origin: str = ""
    table: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    def lookup(self, request: Request) -> Resolution:
        contexts = self.table.get(request.manager, {})
        keys = [request.context] if request.manager == "apt" else [request.context, ANY_PYTHON, ""]
        for key in keys:
            version = contexts.get(key, {}).get(_key(request.manager, request.name))
            if version is not None:
                return Resolution(version, f"{self.origin} {request.manager}.{key}" if key else self.origin)
        if request.manager == "pip" and not request.context:
            return Resolution(None, f"the image's Python version is unknown and {self.origin} has no `pip.any` entry")
        where = f" for {request.context}" if request.context else ""
        return Resolution(None, f"not in {self.origin}{where}")


def _key(manager: str, name: str) -> str:
    """pip names compare normalised (PEP 503); apt and npm names are case-sensitive and exact."""
    return re.sub(r"[-_.]+", "-", name).lower() if manager == "pip" else name


def load_file(path: Path) -> FileResolver:
    """The resolver for a package-versions file. It is read through the safe reader only (no is_file()
    check first): a FIFO, device or directory is refused as "not a regular file" instead of blocking
    the read or being reported as missing, and a missing or unreadable file is one line naming why."""
    from generator.core.yamlio import load_yaml_file

    return from_mapping(load_yaml_file(path), str(path))


def from_mapping(data: object, origin: str) -> FileResolver:
    """A resolver for the versions in DATA (a package-versions file's content); bad data is a
    one-line UsageError naming ORIGIN."""
    if data is None:
        data = {}
    if not isinstance(data, dict) or not set(data) <= set(MANAGERS):
        raise UsageError(f"{origin}: expected a mapping with keys among {', '.join(MANAGERS)}")
    table: dict[str, dict[str, dict[str, str]]] = {}
    for manager, section in data.items():
        grouped = {"": section} if manager == "npm" else section
        if not isinstance(grouped, dict):
            raise UsageError(f"{origin}: `{manager}` must be a mapping")
        table[manager] = {}
        for context, packages in (grouped or {}).items():
            if not isinstance(packages, dict):
                raise UsageError(f"{origin}: `{manager}.{context}` must map package names to versions")
            table[manager][str(context)] = _packages(origin, manager, str(context), packages)
    return FileResolver(origin=origin, table=table)


def _packages(origin: str, manager: str, context: str, packages: dict[object, object]) -> dict[str, str]:
    where = f"{manager}.{context}" if context else manager
    checked: dict[str, str] = {}
    for name, version in packages.items():
        if not isinstance(name, str) or NAME_RE[manager].fullmatch(name) is None:
            raise UsageError(f"{origin}: `{where}`: {str(name)[:60]!r} is not a {manager} package name")
        if not isinstance(version, str):
            raise UsageError(f"{origin}: `{where}.{name}`: the version must be a string (quote it)")
        if not valid_version(manager, version):
            raise UsageError(f"{origin}: `{where}.{name}`: {version[:60]!r} is not a {manager} version")
        checked[_key(manager, name)] = version
    return checked


# --- which Debian or Ubuntu release an image is built on -------------------------------------------

_RELEASES: dict[str, object] = {}


def _release_data() -> dict[str, object]:
    if not _RELEASES:
        from generator.core.resources import DATA_DIR
        from generator.core.yamlio import load_data_file

        _RELEASES.update(load_data_file(DATA_DIR / "debian-releases.yaml"))
    return _RELEASES


def _table(key: str) -> dict[str, dict[str, str]]:
    table = _release_data()[key]
    assert isinstance(table, dict)
    return table


def is_ubuntu(codename: str) -> bool:
    """The release is Ubuntu's (resolved from the Ubuntu archive), not Debian's."""
    return codename in _table("ubuntu")


def unavailable(codename: str) -> str:
    """Why the release's archive cannot resolve its packages, or "" when it can."""
    if _table("releases").get(codename, {}).get("archived"):
        return f"{codename} is archived (archive.debian.org), not on the Debian mirror"
    gone = _table("ubuntu").get(codename, {}).get("gone")
    return f"{codename} has left archive.ubuntu.com ({gone})" if gone else ""


def adds_apt_source(text: str) -> bool:
    """TEXT (Dockerfile instructions) adds an apt source, which may then provide the packages."""
    patterns = _release_data()["apt_sources"]
    assert isinstance(patterns, list)
    return any(re.search(str(pattern), text) for pattern in patterns)


def apt_release(image: str) -> tuple[str | None, str]:
    """(codename, "") of the Debian or Ubuntu release an image is built on, or (None, why it is not known)."""
    from generator.core.imageref import image_name, image_tag

    debian, ubuntu, tags = _table("releases"), _table("ubuntu"), _release_data()["tags"]
    assert isinstance(tags, dict)
    name = image_name(image.lower()).rsplit("/", 1)[-1]
    tag = image_tag(image.lower()) or "latest"
    if "$" in image:
        return None, f"the base image {image} is a build argument"
    for part in re.split(r"[-.]", tag):
        if part in debian or part in ubuntu:
            return part, ""
    if name == "ubuntu":
        for codename, entry in ubuntu.items():
            if re.fullmatch(rf"{re.escape(entry['version'])}(\.\d+)?", tag):
                return codename, ""
        return None, f"the tag of {image} names no Ubuntu release (use a tag such as `:22.04` or `:jammy`)"
    if "ubuntu" in tag:
        return None, f"the tag of {image} names no Ubuntu release (use a tag such as `:…-jammy`)"
    if name == "debian":
        for codename, entry in debian.items():
            if re.fullmatch(rf"{entry['version']}(\.\d+)*(-slim)?", tag):
                return codename, ""
    for prefix, codename in tags.get(name, {}).items():
        if tag == prefix or tag.startswith(prefix + "-"):
            return str(codename), ""
    return None, f"the tag of {image} names no Debian release (use a tag such as `:…-bookworm`)"


def python_version(image: str) -> str:
    """"3.12" for an official python image whose tag says so, else ""."""
    from generator.core.imageref import image_name, image_tag

    if image_name(image.lower()).rsplit("/", 1)[-1] != "python":
        return ""
    match = re.match(r"(\d+)\.(\d+)", image_tag(image) or "")
    return f"{match.group(1)}.{match.group(2)}" if match else ""
