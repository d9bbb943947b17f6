"""HC070's reading of the build stage: what each instruction up to the last `RUN` builds, installs,
sets or copies, collected into a `_Scan`, or `NoSplit` with the reason the file stays in one stage.

It is the half of the split that looks at commands (`go build -o`, compilers, `apt-get install`,
`pip install`, `cd`, redirections); `_split` takes what it collected and decides the runtime image,
the programs the image starts and the plan. Kept apart so that the command vocabulary (which
programs only build, which packages are toolchains) reads in one place.
"""

from __future__ import annotations

import re

from generator.audit.dockerfile import Instruction, ParsedDockerfile

# Commands whose only effect on the image is what the build stage keeps to itself (downloaded
# packages, the toolchain's caches, the binaries that are copied out).
COMPILERS = frozenset({"rustc", "gcc", "g++", "cc", "c++", "clang", "clang++"})  # `-o PATH` names the binary
BUILD_COMMANDS = frozenset({"apt-get", "apt", "go", "cd", "mkdir", "rm", "true", "set", "export"}) | COMPILERS
# Why a build tool's output cannot be located from the Dockerfile alone.
UNLOCATED = {
    "cargo": "cargo names its binaries after Cargo.toml, which the Dockerfile does not show",
    "npm": "npm's node_modules and build output are not named by the Dockerfile",
    "yarn": "yarn's node_modules and build output are not named by the Dockerfile",
    "mvn": "Maven names the jar after pom.xml, and the runtime needs a JRE the Dockerfile does not name",
    "gradle": "Gradle names the jar after its build script, and the runtime needs a JRE",
    "javac": "the runtime needs a JRE the Dockerfile does not name",
    "dotnet": "the runtime needs the .NET runtime image, and the output depends on the project file",
    "bundle": "bundler installs gems into directories the runtime stage would have to mirror",
    "gem": "gem installs into directories the runtime stage would have to mirror",
    "composer": "composer's vendor directory is not named by the Dockerfile",
}
APT_ACTIONS = frozenset({"update", "install", "clean", "autoremove"})
GO_ACTIONS = frozenset({"build", "vet", "test", "mod", "get", "generate", "version", "env", "fmt"})
REDIRECT_RE = re.compile(r"\d*>>?\s*(\S*)")
SEGMENT_SPLIT_RE = re.compile(r"&&|\|\||[;|\n]")
ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
VARIABLE_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
TOOLCHAIN_PACKAGE_RE = re.compile(
    r"(?:build-essential|gcc(?:-\d+)?|g\+\+(?:-\d+)?|cpp|clang(?:-\d+)?|make|cmake|golang(?:-[\d.]+)?(?:-go)?"
    r"|rustc|cargo|libc6?-dev|linux-libc-dev|pkg-config|pkgconf|python3?(?:\.\d+)?-dev)(?:=\S*)?")
# SDKs whose output needs a runtime package (a JRE, the .NET runtime) the Dockerfile does not name.
SDK_PACKAGE_RE = re.compile(r"(?:openjdk-\d+-jdk(?:-headless)?|default-jdk(?:-headless)?|maven|gradle"
                            r"|dotnet-sdk[\w.-]*|mono-complete)(?:=\S*)?")
PIP_RE = re.compile(r"pip3?(?:\.\d+)?")
PYTHON_RE = re.compile(r"python3?(?:\.\d+)?")
# pip options that install somewhere else than the interpreter's site-packages, or link the source.
PIP_ELSEWHERE = ("--user", "--target", "-t", "--prefix", "--root", "-e", "--editable", "--src")


class NoSplit(Exception):
    """Why a file is kept in one stage (the message goes into the finding)."""


class _Scan:
    """What the build stage's instructions say, collected in file order."""

    def __init__(self) -> None:
        self.workdir: str | None = None
        self.user: str | None = None
        self.env_names: set[str] = {"PATH", "HOME"}
        self.env_path = ""  # the last ENV PATH value of the stage
        self.carried_env: list[str] = []
        self.artefacts: list[str] = []
        self.pip = False  # pip installs into the official python image's site-packages
        self.copies: list[str] = []  # COPY/ADD lines from the build context, with absolute destinations
        self.copy_problem = ""  # why one of them cannot be repeated in the runtime stage
        self.packages: list[str] = []
        self.static = False  # CGO_ENABLED=0 in the environment of every go build
        self.go_builds = 0
        self.static_builds = 0


def _resolve(current: str | None, path: str, instruction: Instruction) -> str:
    """An absolute path for PATH seen from the directory CURRENT (None: the base image's, unknown)."""
    import posixpath

    if not path or "$" in path:
        raise NoSplit(f"the path {path!r} at line {instruction.start_line} is not a literal")
    if not path.startswith("/"):
        if current is None:
            raise NoSplit(f"the relative path {path!r} at line {instruction.start_line} depends on the base "
                          "image's working directory")
        path = posixpath.join(current, path)
    return posixpath.normpath(path)


def _scan_env(parsed: ParsedDockerfile, instruction: Instruction, scan: _Scan) -> None:
    words = instruction.value
    for value in words[1::2]:
        for name in VARIABLE_RE.findall(value):
            if name not in scan.env_names:
                raise NoSplit(f"ENV at line {instruction.start_line} uses ${name}, which the runtime stage "
                              "would not have")
    for name, value in zip(words[0::2], words[1::2], strict=False):
        scan.env_names.add(name)
        if name == "PATH":
            scan.env_path = value
        if name == "CGO_ENABLED":
            scan.static = value.strip("'\"") == "0"
    scan.carried_env.append(parsed.source(instruction).rstrip("\r\n"))


def _scan_copy(parsed: ParsedDockerfile, instruction: Instruction, scan: _Scan) -> None:
    """The application's files: a pip-installed app needs them again in the runtime stage."""
    words = instruction.value
    line = instruction.start_line
    if instruction.heredocs or any(f.startswith("--from") for f in instruction.flags):
        scan.copy_problem = scan.copy_problem or f"{instruction.keyword} at line {line} is not from the build context"
    elif len(words) < 2 or not words[-1].startswith("/") or "$" in " ".join(words):
        scan.copy_problem = scan.copy_problem or (f"{instruction.keyword} at line {line} needs an absolute, literal "
                                                  "destination to be repeated in the runtime stage")
    elif any(re.match(r"[a-z]+://|git@", w) for w in words[:-1]):
        scan.copy_problem = scan.copy_problem or f"ADD at line {line} downloads: it would be fetched twice"
    else:
        scan.copies.append(parsed.source(instruction).rstrip("\r\n"))


def _scan_pip(words: list[str], run: Instruction, scan: _Scan) -> None:
    if PYTHON_RE.fullmatch(words[0]):
        words = words[2:]  # python -m pip ...
    action = next((w for w in words[1:] if not w.startswith("-")), "")
    if action != "install":
        raise NoSplit(f"RUN at line {run.start_line} runs `pip {action}`")
    elsewhere = [w for w in words if w.split("=", 1)[0] in PIP_ELSEWHERE]
    if elsewhere:
        raise NoSplit(f"RUN at line {run.start_line} runs `pip install {elsewhere[0]}`, which installs outside "
                      "site-packages")
    scan.pip = True


def _scan_run(parsed: ParsedDockerfile, run: Instruction, scan: _Scan) -> None:
    if run.heredocs:
        raise NoSplit(f"the heredoc RUN at line {run.start_line} would need reviewing by hand")
    command = " ".join(run.value)
    if any(target not in ("/dev/null", "") and not target.startswith("&")
           for target in REDIRECT_RE.findall(command)):
        raise NoSplit(f"RUN at line {run.start_line} redirects into files the runtime stage would not get")
    cwd: str | None = scan.workdir
    static = scan.static  # `export CGO_ENABLED=0` lasts for this RUN only
    for segment in SEGMENT_SPLIT_RE.split(command):
        words = segment.split()
        leading = next((i for i, w in enumerate(words) if not ASSIGNMENT_RE.match(w)), len(words))
        assignments, words = words[:leading], words[leading:]
        if not words:
            continue
        program = words[0]
        if PIP_RE.fullmatch(program) or (PYTHON_RE.fullmatch(program) and words[1:3] == ["-m", "pip"]):
            _scan_pip(words, run, scan)
            continue
        if program in UNLOCATED:
            raise NoSplit(f"RUN at line {run.start_line} runs `{program}`: {UNLOCATED[program]}")
        if program not in BUILD_COMMANDS:
            raise NoSplit(f"RUN at line {run.start_line} runs `{program}`, whose changes the runtime stage "
                          "would not get")
        if program == "export":
            assignments.extend(words[1:])
        if program == "cd":
            cwd = _resolve(cwd, words[1], run) if len(words) == 2 else None
        elif program in ("apt-get", "apt"):
            _scan_apt(words, run, scan)
        elif program == "go":
            _scan_go(words, assignments, cwd, run, scan)
        elif program in COMPILERS:
            scan.artefacts.append(_output(words, cwd, run))
        for assignment in assignments:
            name, _, value = assignment.partition("=")
            if name == "CGO_ENABLED" and program == "export":
                scan.static = value == "0"
    scan.static = static


def _scan_apt(words: list[str], run: Instruction, scan: _Scan) -> None:
    action = next((w for w in words[1:] if not w.startswith("-")), "")
    if action not in APT_ACTIONS:
        raise NoSplit(f"RUN at line {run.start_line} runs `{words[0]} {action}`, which changes the base image's "
                      "packages")
    if action != "install":
        return
    for word in words[words.index("install") + 1:]:
        if word.startswith("-"):
            continue
        if "$" in word:
            raise NoSplit(f"RUN at line {run.start_line} installs packages named by a variable")
        if TOOLCHAIN_PACKAGE_RE.fullmatch(word):
            continue
        if SDK_PACKAGE_RE.fullmatch(word):
            raise NoSplit(f"{word.split('=', 1)[0]} is installed: what it builds needs a runtime (a JRE, .NET) the "
                          "Dockerfile does not name")
        if word.split("=", 1)[0].endswith("-dev"):
            raise NoSplit(f"{word.split('=', 1)[0]} is installed: the runtime would need its library package, "
                          "which the Dockerfile does not name")
        if "=" not in word:
            raise NoSplit(f"{word} is installed without a version: the runtime stage would install it again "
                          f"unpinned (pin it as {word}=VERSION to split)")
        scan.packages.append(word)


def _scan_go(words: list[str], assignments: list[str], cwd: str | None, run: Instruction, scan: _Scan) -> None:
    action = words[1] if len(words) > 1 else ""
    if action not in GO_ACTIONS:
        raise NoSplit(f"RUN at line {run.start_line} runs `go {action}`, whose output path the Dockerfile "
                      "does not name")
    if action != "build":
        return
    scan.artefacts.append(_output(words, cwd, run))
    scan.go_builds += 1
    inline = [a.partition("=")[2] for a in assignments if a.startswith("CGO_ENABLED=")]
    if (inline[-1] == "0") if inline else scan.static:
        scan.static_builds += 1


def _output(words: list[str], cwd: str | None, run: Instruction) -> str:
    """The `-o PATH` of a go build / rustc command as an absolute path."""
    for index, word in enumerate(words):
        if word == "-o" and index + 1 < len(words):
            path = words[index + 1]
        elif word.startswith("-o="):
            path = word[3:]
        else:
            continue
        if path.endswith("/") or not path.strip("./"):
            raise NoSplit(f"`{words[0]} -o {path}` at line {run.start_line} names a directory, not a binary")
        if not re.fullmatch(r"[\w./+-]+", path):
            raise NoSplit(f"the output path {path!r} at line {run.start_line} is not a plain path")
        return _resolve(cwd, path, run)
    raise NoSplit(f"`{' '.join(words[:2])}` at line {run.start_line} has no -o: the binary's name is not in the "
                  "Dockerfile")
