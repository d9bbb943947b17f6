"""Package version pins: every package a RUN installs names the version that was reviewed.

The check reads install commands (apt-get/apt, pip, npm, apk, gem, yum/dnf/microdnf) and needs no
index. The fix needs one: it pins only to versions a resolver found (`generator.audit.packages.versions`),
active during `hardcase harden --pin-packages` or `--package-versions FILE`; without one the finding
is only reported.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import comment_free, image_of
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from generator.audit.packages.versions import Request, Resolver

# The resolver of the running harden (None for `check`, and for harden without a version source).
ACTIVE: ContextVar[Resolver | None] = ContextVar("package_versions", default=None)


class active:  # used as `with active(resolver):`, like contextlib's helpers
    """Make RESOLVER the one HC048's check and fix consult, for the duration of a harden run.

    A class rather than `@contextmanager`: `check` imports this module and must not pay for contextlib.
    """

    def __init__(self, resolver: Resolver | None) -> None:
        self.resolver = resolver

    def __enter__(self) -> None:
        self.token = ACTIVE.set(self.resolver)

    def __exit__(self, *exc_info: object) -> None:
        ACTIVE.reset(self.token)

TOOL_HINT_RE = re.compile(r"apt|pip|npm|apk|gem|yum|dnf")
TOKEN_RE = re.compile(r"&&|\|\||[;|&()\n]|[^\s;&|()]+")
WRAPPERS = frozenset({"sudo", "env", "exec", "command", "nohup", "time"})
# manager -> (tools, install verbs, options that take the next word as their argument)
MANAGERS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    "apt": (frozenset({"apt-get", "apt"}), frozenset({"install"}),
            frozenset({"-o", "-t", "-c", "--option", "--target-release", "--config-file"})),
    "pip": (frozenset({"pip", "pip2", "pip3"}), frozenset({"install"}),
            frozenset({"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
                       "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
                       "--trusted-host", "--platform", "--python-version", "--implementation", "--abi", "--src",
                       "--upgrade-strategy", "--progress-bar", "--cache-dir", "--log", "--proxy", "--timeout",
                       "--retries", "--no-binary", "--only-binary"})),
    "npm": (frozenset({"npm"}), frozenset({"install", "i", "add"}),
            frozenset({"--prefix", "--registry", "--cache", "--tag", "-w", "--workspace", "--userconfig"})),
    "apk": (frozenset({"apk"}), frozenset({"add"}),
            frozenset({"-X", "--repository", "-t", "--virtual", "--root", "-p", "--arch", "--repositories-file",
                       "--keys-dir"})),
    "gem": (frozenset({"gem"}), frozenset({"install"}),
            frozenset({"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "-s", "--source",
                       "--platform"})),
    "yum": (frozenset({"yum", "dnf", "microdnf"}), frozenset({"install"}),
            frozenset({"-x", "--exclude", "--enablerepo", "--disablerepo", "--releasever", "--installroot", "-c",
                       "--config"})),
}
RESOLVABLE = ("apt", "pip", "npm")
UNRESOLVED_WHY = "hardcase resolves apt, pip and npm versions only: pin it by hand"
# The command line that fixes it: pins need review, so the resolver only runs with --unsafe-fixes.
PIN_HINT = "`harden --unsafe-fixes --pin-packages` resolves apt, pip and npm versions"
NAME_RES = {
    "apt": re.compile(r"(?P<name>[a-z0-9][a-z0-9+.-]+)"),
    "pip": re.compile(r"(?P<name>[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)(\[[A-Za-z0-9,._-]+\])?"),
    "npm": re.compile(r"(?P<name>(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*)"),
    "apk": re.compile(r"(?P<name>[A-Za-z0-9][\w.+-]*)"),
    "gem": re.compile(r"(?P<name>[A-Za-z0-9][\w.-]*)"),
    "yum": re.compile(r"(?P<name>[A-Za-z0-9][\w.+-]*)"),
}


def _pinned(manager: str, word: str) -> bool:
    """The operand names a version (or is not a registry package: a file, a URL, a path)."""
    if manager == "apt":
        return "=" in word or "/" in word or word.endswith(".deb")
    if manager == "pip":
        return any(c in word for c in "=<>~!@/:") or word.startswith(".") or word.endswith((".whl", ".zip", ".gz"))
    if manager == "npm":
        return "@" in word[1:] or ("/" in word and not word.startswith("@")) or ":" in word or word.startswith(".")
    if manager == "apk":
        return any(c in word for c in "=<>~") or "/" in word or word.endswith(".apk")
    if manager == "gem":
        return ":" in word or "/" in word or word.endswith(".gem")
    return re.search(r"-\d", word) is not None or "/" in word or word.endswith(".rpm")


@dataclass(frozen=True)
class Unpinned:
    """A package operand without a version: what it names and where it is (-1: exec form)."""
    manager: str
    word: str
    name: str
    start: int
    end: int


def _commands(source: str, escape: str, heredocs: bool) -> Iterator[list[tuple[str, int]]]:
    """The simple commands of a shell-form RUN (its source, comment lines blanked) as (word, offset)
    lists; a heredoc's newlines end commands, a shell-form RUN's are continuation lines."""
    command: list[tuple[str, int]] = []
    first, continued = True, False
    for match in TOKEN_RE.finditer(source):
        word = match.group(0)
        if word in (escape, "\\"):  # the Dockerfile's escape character, or a heredoc script's
            continued = True
            continue
        if word == "\n" and (continued or not heredocs):
            continued = False
            continue
        continued = False
        if first and (word.upper() == "RUN" or word.startswith("--")) and not command:
            continue  # the keyword and its flags
        first = False
        if word in ("&&", "||", ";", "|", "&", "(", ")", "\n"):
            if command:
                yield command
            command = []
        else:
            command.append((word, match.start()))
    if command:
        yield command


def unpinned(parsed: ParsedDockerfile, run: Instruction) -> list[Unpinned]:
    """The RUN's package operands without a version; exec form has no offsets (-1: reported only)."""
    if run.keyword != "RUN" or not TOOL_HINT_RE.search(parsed.source(run)):
        return []  # (every tool's name contains one of the hints: most RUNs install nothing)
    found = _unpinned_in(comment_free(parsed, run), parsed.escape, bool(run.heredocs), run.value if run.json else None)
    return [Unpinned(m, w, n, start + run.start if start >= 0 else start, end + run.start if start >= 0 else end)
            for m, w, n, start, end in found]


@functools.lru_cache(maxsize=1 << 14)
def _unpinned_in(source: str, escape: str, heredocs: bool, value: tuple[str, ...] | None
                 ) -> tuple[tuple[str, str, str, int, int], ...]:
    """unpinned() with offsets from the start of the instruction: the same RUN text gives the same
    answer, which `harden` asks for again on every pass (and `check` for each repeated RUN)."""
    found: list[Unpinned] = []
    commands = [[(word, -1) for word in value]] if value is not None else _commands(source, escape, heredocs)
    for command in commands:
        words = list(command)
        words = words[next((i for i, (w, _) in enumerate(words)
                            if w not in WRAPPERS and not re.match(r"^[A-Za-z_]\w*=", w)), len(words)):]
        if len(words) >= 3 and re.fullmatch(r"python[\d.]*", words[0][0]) and words[1][0] == "-m":
            words = words[2:]
        if not words:
            continue
        tool = words[0][0].rsplit("/", 1)[-1]
        tool = "pip" if re.fullmatch(r"pip[\d.]*", tool) else tool
        for manager, (tools, verbs, with_argument) in MANAGERS.items():
            if tool in tools:
                found.extend(_operands(manager, words[1:], verbs, with_argument))
    return tuple((p.manager, p.word, p.name, p.start, p.end) for p in found)


def _operands(manager: str, words: list[tuple[str, int]], verbs: frozenset[str],
              with_argument: frozenset[str]) -> Iterator[Unpinned]:
    operands: list[tuple[str, int]] = []
    skip = False
    options: set[str] = set()
    for word, offset in words:
        if skip:
            skip = False
        elif word.startswith("-"):
            options.add(word.split("=", 1)[0])
            skip = word in with_argument
        else:
            operands.append((word, offset))
    if not operands or operands[0][0] not in verbs:
        return
    if manager == "gem" and options & {"-v", "--version"}:
        return
    for word, offset in operands[1:]:
        if len(word) > 2 and word[0] == word[-1] and word[0] in "'\"":
            word, offset = word[1:-1], offset + 1 if offset >= 0 else offset  # the pin goes inside the quotes
        if any(c in word for c in "$\"'`*?{}\\") or ("[" in word and manager != "pip"):
            continue  # a variable, quoting or a glob: not judged
        match = NAME_RES[manager].fullmatch(word)
        if match is not None and not _pinned(manager, word):
            yield Unpinned(manager, word, match.group("name"), offset, offset + len(word))


def _with_arg_defaults(parsed: ParsedDockerfile, image: str) -> str:
    """The base image as a build without --build-arg sees it: global ARG defaults substituted."""
    if "$" not in image:
        return image
    defaults = parsed.remember("global arg defaults", lambda: _global_defaults(parsed))
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defaults.get(m.group(1) or m.group(2), m.group(0)), image)


def _global_defaults(parsed: ParsedDockerfile) -> dict[str, str]:
    defaults: dict[str, str] = {}
    for instruction in parsed.instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            for word in instruction.value:
                name, equals, default = word.partition("=")
                if equals:
                    defaults[name] = default.strip("\"'")
    return defaults


def _request(parsed: ParsedDockerfile, run: Instruction, package: Unpinned) -> tuple[Request | None, str]:
    """What to ask the resolver for a package, or why it cannot be asked."""
    from generator.audit.packages.versions import Request, apt_release, python_version, unavailable

    if package.manager not in RESOLVABLE:
        return None, UNRESOLVED_WHY
    image = _with_arg_defaults(parsed, image_of(parsed, parsed.stages[run.stage])) if run.stage >= 0 else ""
    if package.manager == "apt":
        release, why = apt_release(image)
        if release is None:
            return None, why
        if unavailable(release):
            return None, unavailable(release)
        source = _apt_source_line(parsed, run, package)
        if source is not None:
            return None, f"line {source} adds an apt source that may provide it: pin it by hand"
        return Request("apt", package.name, release), ""
    if package.manager == "pip":
        return Request("pip", package.name, python_version(image)), ""
    return Request("npm", package.name), ""


def _apt_source_line(parsed: ParsedDockerfile, run: Instruction, package: Unpinned) -> int | None:
    """The line of the stage's first instruction before the package that adds an apt source: the
    release's archive no longer says which version `apt-get install` picks."""
    from generator.audit.packages.versions import adds_apt_source

    def first_source(stage: int) -> Instruction | None:
        members = parsed.stage_instructions(parsed.stages[stage]) if stage >= 0 else \
            [i for i in parsed.instructions if i.stage < 0]
        return next((i for i in members if adds_apt_source(comment_free(parsed, i))), None)

    found = parsed.remember(("apt source", run.stage), lambda: first_source(run.stage))
    if found is None or found.index > run.index:
        return None
    if found is run and package.start >= 0:
        # In the RUN itself only what comes before the package counts: where the source is added,
        # found once per RUN (a longer prefix still adds it), not once per package.
        text = comment_free(parsed, run)
        cut = parsed.remember(("apt source in", run.index), lambda: _shortest_prefix(text, adds_apt_source))
        return run.start_line if package.start - run.start >= cut else None
    return found.start_line


def _shortest_prefix(text: str, test: Callable[[str], bool]) -> int:
    """The length of the shortest prefix of TEXT that passes TEST (which the whole text passes, and every
    longer prefix of a passing one), in log(len) tests."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high) // 2
        if test(text[:middle]):
            high = middle
        else:
            low = middle + 1
    return low


def check_package_pins(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that every package a `RUN` installs with apt-get/apt, pip, npm, apk, gem or yum/dnf
    names its version, as hadolint's DL3008, DL3013, DL3016, DL3018, DL3028 and DL3033 ask.

    Pinned means `pkg=1.2-3` (apt, apk), `pkg==1.2` (pip), `pkg@1.2.3` (npm), `pkg:1.2` or `-v`
    (gem), `pkg-1.2` (yum); files, URLs, paths, requirement files, globs and words with variables
    are not judged (hadolint reports variables and local `.rpm` files too).

    Why is this bad?
    Without a version every build installs whatever the index serves that day: the image that is
    tested is not the image that ships, and a compromised or broken release goes in unreviewed
    (CIS Docker Benchmark 4.7 asks for version pinning next to `update` instructions).

    Example:
    ```dockerfile
    FROM python:3.12-slim-bookworm
    RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
    RUN pip install --no-cache-dir flask
    ```

    Use instead:
    ```dockerfile
    FROM python:3.12-slim-bookworm
    RUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u12 \\
        && rm -rf /var/lib/apt/lists/*
    RUN pip install --no-cache-dir flask==3.1.2
    ```

    Fix safety:
    Needs review, and only with a version source: `hardcase harden --unsafe-fixes --pin-packages`
    resolves online — apt from the Debian archive (`dists/RELEASE/main/binary-amd64/Packages.xz`,
    with RELEASE-updates and RELEASE-security) or the Ubuntu archive (the same suites, components
    main, universe, restricted and multiverse) of the release the base image is built on (from
    its tag: `python:3.12-slim-bookworm`, `debian:12`, `ubuntu:22.04`, `eclipse-temurin:17-jammy`,
    or the tags listed in `generator/data/debian-releases.yaml`; a base image given as a global
    build argument is read with the argument's default), pip from PyPI's JSON API (the newest release whose
    `Requires-Python` admits the image's Python version when the tag says it), npm from the
    registry (`dist-tags.latest`); `--package-versions FILE` reads the versions from a YAML file
    instead, offline. apk, gem and yum/dnf packages, releases gone from the archive (Debian
    archive.debian.org, Ubuntu 14.04), apt packages installed after the stage adds an apt source
    (`sources.list`, `add-apt-repository`, NodeSource's setup script: that source may provide them),
    packages the source does not know and exec-form `RUN`s stay unpinned and the finding says why. A pin freezes the
    version: security updates then need a new pin, and an apt pin fails to build once the mirror
    drops that version.
    """
    resolver = ACTIVE.get()
    for run in parsed.instructions:
        if run.keyword != "RUN":
            continue
        packages = unpinned(parsed, run)
        if not packages:
            continue
        by_manager: dict[str, list[str]] = {}
        for package in packages:
            label = package.word
            if resolver is not None:
                why = _unresolved(parsed, run, package, resolver)
                label += f" ({why})" if why else ""
            by_manager.setdefault(package.manager, []).append(label)
        detail = "; ".join(f"{manager}: {', '.join(names)}" for manager, names in by_manager.items())
        if resolver is None and any(package.manager in RESOLVABLE for package in packages):
            detail += f" ({PIN_HINT})"
        yield PACKAGE_PINS.violation(run.start_line, detail, instruction=run.index)


def _unresolved(parsed: ParsedDockerfile, run: Instruction, package: Unpinned, resolver: Resolver) -> str:
    if package.start < 0 and package.manager in RESOLVABLE:
        return "exec form: pin it by hand"
    request, why = _request(parsed, run, package)
    if request is None:
        return why
    answer = resolver.resolve(request)
    return "" if answer.version is not None else answer.detail


def fix_package_pins(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    from generator.audit.packages.versions import spelled

    resolver = ACTIVE.get()
    if resolver is None:
        return None
    run = parsed.instructions[violation.instruction]
    edits, notes = [], []
    for package in unpinned(parsed, run):
        request, _why = _request(parsed, run, package)
        answer = resolver.resolve(request) if request is not None else None
        if request is None or answer is None or answer.version is None or package.start < 0:
            continue
        pinned = spelled(package.manager, package.word, answer.version)
        edits.append(Edit(package.start, package.end, pinned))
        notes.append(f"{pinned} (from {answer.detail})")
    if not edits:
        return None
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "pinned " + ", ".join(notes))


PACKAGE_PINS = Rule("HC048", "package-version-unpinned", Severity.INFO, "package installed without a version pin",
                    "4.7", "DL3008", check_package_pins, fix_package_pins, FixSafety.NEEDS_REVIEW)
RULES = (PACKAGE_PINS,)
