"""Build tools stay in a build stage: the image that ships carries only what runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.dockerfile import ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._split import CA_BUNDLE, plan_split
from generator.audit.rules._split_scan import NoSplit
from generator.audit.rules._support import insert_after, install_lists
from generator.core.imageref import image_name

TOOLCHAIN_PACKAGES_RE = re.compile(
    r"(?<![\w.-])(?:build-essential|gcc|g\+\+|clang|make|cmake|golang(?:-go)?|maven|gradle|openjdk-\d+-jdk(?:-headless)?"
    r"|default-jdk|cargo|rustc|dotnet-sdk[\w.-]*|python3?-dev|libc6?-dev|musl-dev|alpine-sdk)(?![\w.+-])")
TOOLCHAIN_IMAGES = ("golang", "maven", "gradle", "rust", "mcr.microsoft.com/dotnet/sdk", "openjdk", "eclipse-temurin",
                    "buildpack-deps", "gcc")


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
    Needs review. The fix splits the file where the Dockerfile names everything the runtime needs:
    the build writes named binaries (`go build -o PATH`, `gcc`/`rustc -o PATH`) or pip-installs
    into a slim official python image; every `RUN` up to the last only installs packages or
    builds; and the image starts one of those binaries (or, for pip, anything but a compiler). The
    build stage keeps every instruction up to the last `RUN`; the runtime stage gets the binaries
    (same paths, on `PATH` when started by name) or pip's `site-packages` and `/usr/local/bin`
    plus the application's `COPY`s again, the packages that are not compilers (reinstalled, so only
    when pinned to a version), the `ENV`s, `WORKDIR`, `USER` and image settings. Its image is
    `debian:N-slim` of the Debian release a golang/rust tag names (with the build image's CA
    bundle), distroless `static` when `CGO_ENABLED=0`, nothing is installed and everything starts
    in exec form, else the same base (`-slim` for debian). Files the program reads at run time
    that no `COPY` puts there, and files pip installs outside `site-packages` and `bin`, are not
    copied: add them by hand. Other files (a `-dev` package, an unpinned package, `go build`
    without `-o`, `cargo build`, a `RUN` that writes files, a JDK, npm, the full python image) are
    reported only, with the reason in the finding.
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
            for packages in install_lists(instruction.command):
                found.extend(TOOLCHAIN_PACKAGES_RE.findall(packages))
    if found:
        where = parsed.instructions[stage.from_instruction]
        detail = ", ".join(dict.fromkeys(found))
        try:
            plan_split(parsed)
        except NoSplit as reason:
            detail += f" (not split automatically: {reason})"
        yield SINGLE_STAGE_TOOLCHAIN.violation(where.start_line, detail, instruction=where.index)


def fix_single_stage_toolchain(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    try:
        plan = plan_split(parsed)
    except NoSplit:
        return None
    stage = parsed.stages[0]
    edits: list[Edit] = []
    if plan.name_missing:
        from_instruction = parsed.instructions[stage.from_instruction]
        edits.append(Edit.insert(from_instruction.start + len(parsed.source(from_instruction).rstrip()),
                                 f" AS {plan.build_name}"))
    moved: list[str] = []
    for index in plan.moved:
        instruction = parsed.instructions[index]
        start = parsed.comment_block_start(instruction)
        moved.extend(line.rstrip("\r") for line in parsed.text[start:instruction.end].rstrip("\r\n").split("\n"))
        edits.append(Edit(start, instruction.end, ""))
    lines = ["", f"FROM {plan.runtime}", *plan.env]
    if plan.packages:
        lines.append("RUN apt-get update && apt-get install -y --no-install-recommends "
                     f"{' '.join(plan.packages)} && rm -rf /var/lib/apt/lists/*")
    lines += [f"COPY --from={plan.build_name} {path} {path}" for path in plan.artefacts]
    if plan.copy_ca_bundle:
        lines.append(f"COPY --from={plan.build_name} {CA_BUNDLE} {CA_BUNDLE}")
    if plan.path_dirs:
        lines.append(f"ENV PATH={':'.join(plan.path_dirs)}:$PATH")
    lines += [*plan.replayed, *plan.settings, *moved]
    edits.append(insert_after(parsed, parsed.instructions[plan.split_after], lines))
    note = (f"split: build stage `{plan.build_name}`, runtime {plan.runtime} with {', '.join(plan.artefacts)}; "
            "copy files the program reads at run time by hand")
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, note, alone=True)


SINGLE_STAGE_TOOLCHAIN = Rule("HC070", "toolchain-in-final-image", Severity.WARNING,
                              "compilers/SDKs ship in the only stage", "4.3", None, check_single_stage_toolchain,
                              fix_single_stage_toolchain, FixSafety.NEEDS_REVIEW)
RULES = (SINGLE_STAGE_TOOLCHAIN,)
