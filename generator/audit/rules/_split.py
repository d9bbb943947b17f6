"""How HC070 splits a single-stage build into a build stage and a runtime stage, and when it must not.

The split is planned from the Dockerfile alone, so it is only planned where the file says everything
the runtime needs: the build produces named binaries (`go build -o PATH`, `rustc -o PATH`) or
pip-installs into an official slim python image (whose site-packages path the tag gives), every
`RUN` only installs packages or builds (so the runtime loses nothing but the build's own files), and
the image starts one of those binaries. Anything else gets a reason instead of a plan, shown in the
finding. The build stage keeps every instruction up to the last `RUN`; the runtime stage is inserted
after it and gets the binaries, the packages that are not compilers, the `ENV`s, the working
directory and the image settings (`EXPOSE`, `CMD`, ... are moved into it). Packages are installed
again in the runtime stage, so they must be pinned: an unpinned second install may get another
version than the build's (and is what hadolint's DL3008 reports).
"""

from __future__ import annotations

import re

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.rules._support import image_name, image_tag
from generator.core.record import record as dataclass

# Debian releases by codename, as the official images tag them (`golang:1.27-bookworm`,
# `rust:1.90-trixie`); source: https://www.debian.org/releases/ and the tag lists of
# https://hub.docker.com/_/golang and https://hub.docker.com/_/rust.
DEBIAN_RELEASES = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
# distroless publishes its static image for these Debian releases
# (https://github.com/GoogleContainerTools/distroless: static-debian12, static-debian13).
DISTROLESS_STATIC = {release: f"gcr.io/distroless/static-debian{release}:nonroot" for release in ("12", "13")}
# Toolchain images built on a Debian release (buildpack-deps), with ca-certificates installed.
DEBIAN_TOOLCHAIN_IMAGES = ("golang", "rust")
# Images whose packages a runtime stage can reinstall with apt-get; `debian` also has `-slim` tags.
APT_BASE_IMAGES = ("debian", "ubuntu")
# The working directory an image starts in when the Dockerfile sets none (the official golang
# Dockerfile ends with `WORKDIR $GOPATH`, GOPATH=/go): a runtime on another image must set it again.
IMAGE_WORKDIRS = {"golang": "/go"}
DEFAULT_PATH_DIRS = frozenset({"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
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
SHELL_SYNTAX_RE = re.compile(r"[$`|&;<>(){}\[\]*?~'\"\\]")
MOVED = frozenset({"EXPOSE", "LABEL", "MAINTAINER", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL"})
UNSUPPORTED = frozenset({"ONBUILD", "SHELL", "VOLUME"})
TOOLCHAIN_PACKAGE_RE = re.compile(
    r"(?:build-essential|gcc(?:-\d+)?|g\+\+(?:-\d+)?|cpp|clang(?:-\d+)?|make|cmake|golang(?:-[\d.]+)?(?:-go)?"
    r"|rustc|cargo|libc6?-dev|linux-libc-dev|pkg-config|pkgconf|python3?(?:\.\d+)?-dev)(?:=\S*)?")
# SDKs whose output needs a runtime package (a JRE, the .NET runtime) the Dockerfile does not name.
SDK_PACKAGE_RE = re.compile(r"(?:openjdk-\d+-jdk(?:-headless)?|default-jdk(?:-headless)?|maven|gradle"
                            r"|dotnet-sdk[\w.-]*|mono-complete)(?:=\S*)?")
# Programs the toolchain packages bring: an image that starts one of them needs the build stage.
TOOLCHAIN_PROGRAMS = frozenset({"gcc", "g++", "cc", "c++", "cpp", "clang", "make", "cmake", "go", "rustc", "cargo",
                                "pkg-config"})
PIP_RE = re.compile(r"pip3?(?:\.\d+)?")
PYTHON_RE = re.compile(r"python3?(?:\.\d+)?")
# pip options that install somewhere else than the interpreter's site-packages, or link the source.
PIP_ELSEWHERE = ("--user", "--target", "-t", "--prefix", "--root", "-e", "--editable", "--src")


@dataclass(frozen=True)
class SplitPlan:
    build_name: str  # the build stage's name (added to its FROM unless it has one)
    name_missing: bool
    runtime: str  # the runtime stage's image reference
    artefacts: tuple[str, ...]  # absolute paths the build writes, copied to the same paths
    replayed: tuple[str, ...]  # COPY/ADD from the build context repeated in the runtime stage
    packages: tuple[str, ...]  # packages the original installed that are not compilers
    copy_ca_bundle: bool
    path_dirs: tuple[str, ...]  # artefact directories the runtime must put on PATH
    env: tuple[str, ...]  # the build stage's ENV instructions, repeated in the runtime stage
    settings: tuple[str, ...]  # its final WORKDIR and USER, repeated after the COPYs
    moved: tuple[int, ...]  # instructions moved from the build stage into the runtime stage
    split_after: int  # the last RUN: the runtime stage starts after it


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


def plan_split(parsed: ParsedDockerfile) -> SplitPlan:
    """The split of a single-stage file; raises NoSplit with the reason it is not planned."""
    stage = parsed.stages[0]
    members = parsed.stage_instructions(stage)
    runs = [i for i in members if i.keyword == "RUN"]
    if not runs:
        raise NoSplit("no RUN builds anything")
    last_run = runs[-1]
    scan = _Scan()
    written, ref = _base_ref(parsed)
    scan.workdir = IMAGE_WORKDIRS.get(image_name(ref).rsplit("/", 1)[-1].lower())
    moved: list[int] = []
    stage_args: set[str] = set()
    for instruction in members:
        if instruction.index > last_run.index:
            break  # what follows the last RUN is in the runtime stage already
        if instruction.keyword in UNSUPPORTED:
            raise NoSplit(f"{instruction.keyword} at line {instruction.start_line} would need reviewing by hand")
        if instruction.keyword == "RUN":
            _scan_run(parsed, instruction, scan)
        elif instruction.keyword == "ENV":
            _scan_env(parsed, instruction, scan)
        elif instruction.keyword == "WORKDIR":
            scan.workdir = _resolve(scan.workdir, instruction.value[0] if instruction.value else "", instruction)
        elif instruction.keyword == "USER":
            scan.user = instruction.value[0] if instruction.value else None
        elif instruction.keyword in ("COPY", "ADD"):
            _scan_copy(parsed, instruction, scan)
        elif instruction.keyword == "ARG":
            stage_args.update(word.split("=", 1)[0] for word in instruction.value)
        elif instruction.keyword in MOVED:
            moved.append(instruction.index)
    for instruction in members:
        if instruction.index > last_run.index or instruction.index in moved:
            used = set(VARIABLE_RE.findall(" ".join((*instruction.value, *instruction.flags)))) & stage_args
            if used:
                raise NoSplit(f"{instruction.keyword} at line {instruction.start_line} uses the build argument "
                              f"{sorted(used)[0]}, which the runtime stage would not declare")
    if not scan.artefacts and not scan.pip:
        raise NoSplit("no `go build -o PATH` or compiler `-o PATH` names the binary to ship")
    scan.static = scan.go_builds > 0 and scan.static_builds == scan.go_builds
    if scan.user is not None and not re.fullmatch(r"\d+(:\d+)?", scan.user):
        raise NoSplit(f"USER {scan.user} is a name the runtime image would not know")
    runtime, copy_ca = _runtime_image(written, ref, scan, members)
    from_flags = parsed.instructions[stage.from_instruction].flags
    runtime = " ".join((*from_flags, runtime))  # the original image's platform
    path_dirs = _check_programs(parsed, members, scan, runtime)
    settings = [f"WORKDIR {scan.workdir}"] if scan.workdir is not None else []
    if scan.user is not None:
        settings.append(f"USER {scan.user}")
    if scan.pip and scan.copy_problem:
        raise NoSplit(scan.copy_problem)
    return SplitPlan(
        build_name=stage.name or "build", name_missing=stage.name is None, runtime=runtime,
        artefacts=tuple(dict.fromkeys(scan.artefacts)), replayed=tuple(scan.copies) if scan.pip else (),
        packages=tuple(dict.fromkeys(scan.packages)), copy_ca_bundle=copy_ca, path_dirs=path_dirs,
        env=tuple(scan.carried_env), settings=tuple(settings), moved=tuple(moved), split_after=last_run.index)


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
        assignments = []
        while words and ASSIGNMENT_RE.match(words[0]):
            assignments.append(words.pop(0))
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


def _global_arg(parsed: ParsedDockerfile, name: str) -> str | None:
    value = None
    for instruction in parsed.instructions:
        if instruction.stage != -1 or instruction.keyword != "ARG":
            continue
        for word in instruction.value:
            key, sep, default = word.partition("=")
            if key == name:
                value = default.strip("'\"") if sep else None
    return value


def _base_ref(parsed: ParsedDockerfile) -> tuple[str, str]:
    """The base image as written, and as a literal reference (a global ARG's default)."""
    written = parsed.stages[0].base
    ref = written
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", written)
    if match:
        ref = _global_arg(parsed, match.group(1)) or ""
    if not ref or "$" in ref:
        raise NoSplit(f"the base image {written} is not a literal reference")
    return written, ref


def _runtime_image(written: str, ref: str, scan: _Scan, members: list[Instruction]) -> tuple[str, bool]:
    """The runtime image and whether the CA bundle must be copied from the build stage."""
    name = image_name(ref)
    short = name.rsplit("/", 1)[-1].lower()
    tag = (image_tag(ref) or "").lower()
    if scan.pip:
        return _python_runtime(ref, short, tag, written, scan), False
    if short in DEBIAN_TOOLCHAIN_IMAGES:
        if scan.workdir is None:
            raise NoSplit(f"no WORKDIR: {ref}'s working directory is not known, and the runtime image's may differ")
        if written != ref:
            raise NoSplit(f"the base image is the build argument {written}: a runtime image chosen from its default "
                          "would not follow it")
        release = next((number for codename, number in DEBIAN_RELEASES.items() if codename in tag.split("-")), None)
        if release is None:
            raise NoSplit(f"the tag of {ref} does not name the Debian release the binary is linked against")
        mirror = name[:len(name) - len(short)]
        if scan.static and not scan.packages and _exec_ready(members) and release in DISTROLESS_STATIC:
            registry = mirror.removesuffix("library/")
            return ("" if registry in ("", "docker.io/") else registry) + DISTROLESS_STATIC[release], False
        return f"{mirror}debian:{release}-slim", True
    if short in APT_BASE_IMAGES:
        if short == "debian" and written == ref and "@" not in ref and tag and "slim" not in tag:
            return f"{name}:{tag}-slim", False
        return written, False
    raise NoSplit(f"no runtime image is known for {ref}")


def _python_runtime(ref: str, short: str, tag: str, written: str, scan: _Scan) -> str:
    """The same slim python image: what pip installed is copied into it (site-packages and the
    console scripts in /usr/local/bin, where the official images put them)."""
    if short != "python":
        raise NoSplit(f"pip installs into {ref}'s own directories, which only the official python image fixes")
    version = re.match(r"(\d+\.\d+)(?:\.\d+)?(?:-|$)", tag)
    if version is None:
        raise NoSplit(f"the tag of {ref} does not name the Python version (the site-packages path)")
    if "slim" not in tag:
        raise NoSplit(f"{ref} is the full image: extensions built against its -dev libraries may not load on -slim; "
                      "start from a -slim tag")
    scan.artefacts += [f"/usr/local/lib/python{version.group(1)}/site-packages", "/usr/local/bin"]
    return written


def _exec_ready(members: list[Instruction]) -> bool:
    """CMD / ENTRYPOINT / HEALTHCHECK all in exec form: they start without a shell."""
    return all(i.json or (i.keyword == "HEALTHCHECK" and [w.upper() for w in i.value] == ["NONE"])
               for i in members if i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"))


def _program(instruction: Instruction) -> str:
    """The program a CMD / ENTRYPOINT / HEALTHCHECK starts (shell form: its first word)."""
    if instruction.keyword == "HEALTHCHECK":
        words = list(instruction.value)
        if words and words[0].upper() == "CMD":
            words = words[1:]
        if not words:
            return ""
        first = words[0] if instruction.json else words[0].split()[0] if words[0].split() else ""
        return first
    if instruction.json:
        return instruction.value[0] if instruction.value else ""
    text = " ".join(instruction.value)
    if SHELL_SYNTAX_RE.search(text.split(None, 1)[0] if text.split() else ""):
        return ""
    return text.split()[0] if text.split() else ""


def _check_programs(parsed: ParsedDockerfile, members: list[Instruction], scan: _Scan,
                    runtime: str) -> tuple[str, ...]:
    """Every program the image starts must be a shipped binary (or, for a HEALTHCHECK, a reinstalled
    package's command); returns the artefact directories a bare program name needs on PATH."""
    import posixpath

    final = {i.keyword: i for i in members if i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK")}
    start = final.get("ENTRYPOINT") or final.get("CMD")
    if start is None:
        raise NoSplit("no CMD or ENTRYPOINT: the runtime image's default command would start instead")
    workdir = IMAGE_WORKDIRS.get(image_name(_base_ref(parsed)[1]).rsplit("/", 1)[-1].lower())
    for instruction in members:
        if instruction.keyword == "WORKDIR":
            try:
                workdir = _resolve(workdir, instruction.value[0] if instruction.value else "", instruction)
            except NoSplit:
                workdir = None
    path_dirs: list[str] = []
    checks = [start] + ([final["HEALTHCHECK"]] if "HEALTHCHECK" in final else [])
    for instruction in checks:
        if instruction.keyword == "HEALTHCHECK" and instruction.value and instruction.value[0].upper() == "NONE":
            continue
        program = _program(instruction)
        if not program:
            raise NoSplit(f"{instruction.keyword} at line {instruction.start_line} runs a shell command line")
        if instruction.keyword == "HEALTHCHECK" and program in scan.packages and "distroless" not in runtime:
            continue
        if "/" in program and scan.pip:
            continue  # the application's files are copied again from the build context
        if "/" in program:
            target = _resolve(workdir, program, instruction) if workdir or program.startswith("/") else ""
            if target not in scan.artefacts:
                raise NoSplit(f"{instruction.keyword} at line {instruction.start_line} runs {program}, which is "
                              "not a binary the build names")
            continue
        owners = [a for a in scan.artefacts if posixpath.basename(a) == program]
        if not owners and scan.pip and program not in TOOLCHAIN_PROGRAMS:
            continue  # the python image's own programs, pip's console scripts, reinstalled packages
        if not owners:
            raise NoSplit(f"{instruction.keyword} at line {instruction.start_line} runs `{program}`, which is not "
                          "a binary the build names")
        directory = posixpath.dirname(owners[0])
        if directory not in DEFAULT_PATH_DIRS and directory not in scan.env_path.split(":"):
            path_dirs.append(directory)
    return tuple(dict.fromkeys(path_dirs))
