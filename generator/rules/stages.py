"""Build tools stay in a build stage: the image that ships carries only what runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..dockerfile import ParsedDockerfile
from . import Rule, Severity, Violation
from ._support import image_name

TOOLCHAIN_PACKAGES_RE = re.compile(
    r"(?<![\w.-])(?:build-essential|gcc|g\+\+|clang|make|cmake|golang(?:-go)?|maven|gradle|openjdk-\d+-jdk"
    r"|default-jdk|cargo|rustc|dotnet-sdk[\w.-]*|python3?-dev|libc6?-dev|musl-dev|alpine-sdk)(?![\w.+-])")
TOOLCHAIN_IMAGES = ("golang", "maven", "gradle", "rust", "mcr.microsoft.com/dotnet/sdk", "openjdk", "eclipse-temurin",
                    "buildpack-deps", "gcc")
INSTALL_RE = re.compile(r"(?:apt-get|apt|apk|yum|dnf|microdnf)\b[^&;|]*\b(?:install|add)\b([^&;|]*)")


def check_single_stage_toolchain(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for a single-stage build whose image installs or builds on a compiler or SDK (gcc,
    build-essential, Go, Maven, Gradle, Rust, the .NET SDK, a JDK, `*-dev` headers).

    Why is this bad?
    Compilers and SDKs in the shipped image are hundreds of megabytes of code an attacker can use
    (to build exploits in place) and that must be patched, without the application needing them to
    run (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    FROM golang:1.27-bookworm
    COPY . /src
    RUN cd /src && go build -o /app .
    CMD ["/app"]
    ```

    Use instead:
    ```dockerfile
    FROM golang:1.27-bookworm AS build
    COPY . /src
    RUN cd /src && CGO_ENABLED=0 go build -o /app .
    FROM gcr.io/distroless/static-debian12:nonroot
    COPY --from=build /app /app
    CMD ["/app"]
    ```

    Fix safety:
    Not fixable automatically: which files the application needs at run time cannot be read from the
    Dockerfile alone. Split the build by hand into a build stage and a minimal runtime stage.
    """
    if len(parsed.stages) != 1:
        return
    stage = parsed.stages[0]
    base = image_name(stage.base).lower()
    tag = (stage.base.split("@")[0].rsplit(":", 1)[-1] if ":" in stage.base.split("/")[-1] else "").lower()
    toolchain_image = any(base == t or base.endswith("/" + t) for t in TOOLCHAIN_IMAGES) and "jre" not in tag
    found = [base] if toolchain_image else []
    for instruction in parsed.stage_instructions(stage):
        if instruction.keyword == "RUN":
            for packages in INSTALL_RE.findall(instruction.command):
                found.extend(TOOLCHAIN_PACKAGES_RE.findall(packages))
    if found:
        where = parsed.instructions[stage.from_instruction]
        yield SINGLE_STAGE_TOOLCHAIN.violation(where.start_line, ", ".join(dict.fromkeys(found)),
                                               instruction=where.index)


SINGLE_STAGE_TOOLCHAIN = Rule("HC070", "toolchain-in-final-image", Severity.WARNING,
                              "compilers/SDKs ship in the only stage", "4.3", None, check_single_stage_toolchain)
RULES = (SINGLE_STAGE_TOOLCHAIN,)
