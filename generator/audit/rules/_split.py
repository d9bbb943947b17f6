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

This module makes the plan: it walks the stage, chooses the runtime image, checks what the image
starts and says what moves where. Reading the build's commands (which programs only build, which
packages are toolchains, where `-o` writes) is `_split_scan`'s, which this module calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.rules._split_scan import (
    VARIABLE_RE,
    NoSplit,
    _resolve,
    _Scan,
    _scan_copy,
    _scan_env,
    _scan_run,
)
from generator.core.imageref import image_name, image_tag
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
SHELL_SYNTAX_RE = re.compile(r"[$`|&;<>(){}\[\]*?~'\"\\]")
MOVED = frozenset({"EXPOSE", "LABEL", "MAINTAINER", "CMD", "ENTRYPOINT", "HEALTHCHECK", "STOPSIGNAL"})
UNSUPPORTED = frozenset({"ONBUILD", "SHELL", "VOLUME"})
# Programs the toolchain packages bring: an image that starts one of them needs the build stage.
TOOLCHAIN_PROGRAMS = frozenset({"gcc", "g++", "cc", "c++", "cpp", "clang", "make", "cmake", "go", "rustc", "cargo",
                                "pkg-config"})


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


def _runtime_image(written: str, ref: str, scan: _Scan, members: Sequence[Instruction]) -> tuple[str, bool]:
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


def _exec_ready(members: Sequence[Instruction]) -> bool:
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


def _check_programs(parsed: ParsedDockerfile, members: Sequence[Instruction], scan: _Scan,
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
