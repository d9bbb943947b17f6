"""Who the image runs as: a numeric non-root user in the final stage, no setuid/setgid binaries."""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import (
    append_edit,
    effective_user,
    family,
    has_shell,
    image_of,
    insert_after,
    insert_at_runtime,
    is_windows,
    last_of,
    nonroot_by_default,
    runs_as_root,
    shell_runs,
)

APP_UID = 10001
DISTROLESS_UID = 65532
CREATE_USER = {
    "debian": "groupadd --system --gid {uid} {name} && useradd --system --uid {uid} --gid {uid} --no-create-home "
              "--home-dir /nonexistent --shell /usr/sbin/nologin {name}",
    "rhel": "groupadd --system --gid {uid} {name} && useradd --system --uid {uid} --gid {uid} --no-create-home "
            "--home-dir /nonexistent --shell /sbin/nologin {name}",
    "alpine": "addgroup -S -g {uid} {name} && adduser -S -D -H -h /nonexistent -s /sbin/nologin -u {uid} "
              "-G {name} {name}",
}
STRIP_SETID = "find / -xdev -perm /6000 -type f -exec chmod a-s {} +"
BUILD_STEPS = frozenset({"RUN", "COPY", "ADD"})


def check_root_user(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that the final stage ends with a non-root `USER` (or builds on an image that is non-root
    by default, such as distroless `:nonroot`).

    Why is this bad?
    A process running as root in a container is root on the host's kernel: any container escape or
    writable host mount becomes a host compromise (CIS Docker Benchmark 4.1).

    Example:
    ```dockerfile
    FROM debian:12-slim
    COPY app /app
    CMD ["/app"]
    ```

    Use instead:
    ```dockerfile
    FROM debian:12-slim
    COPY app /app
    RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid 10001 ... app
    USER 10001:10001
    CMD ["/app"]
    ```

    Fix safety:
    Needs review. The fix creates user and group 10001 with the distro's own tools (numeric
    `USER 65532:65532` and no creation on images without a shell), hands only the declared `VOLUME`
    directories to it, and switches user after the last build step. An application that writes
    elsewhere, or binds a port below 1024, has to be adapted. Windows images are reported only: the
    unprivileged account there is `ContainerUser`, and services such as IIS need the administrator.
    """
    stage = parsed.final_stage
    user = effective_user(parsed, stage)
    if not runs_as_root(user):
        return
    users = [i for i in parsed.stage_instructions(stage) if i.keyword == "USER"]
    where = users[-1] if users else parsed.instructions[stage.from_instruction]
    detail = "the last USER is root" if users else "no USER in the final stage"
    if is_windows(parsed, stage):
        detail += " (Windows image: `USER ContainerUser` where the application allows it)"
    yield ROOT_USER.violation(where.start_line, detail, instruction=where.index)


USER_TOOL_RE = re.compile(r"(?:useradd|adduser|groupadd|addgroup)\b")
USER_NAME_RE = re.compile(r"[a-z_][a-z0-9_-]*")


def _user_name(parsed: ParsedDockerfile) -> str:
    """A user name no RUN creates: `app`, unless a `useradd`/`adduser`/`groupadd`/`addgroup` command
    ends with it (the last word of a simple command). Read one command at a time: linear."""
    runs = " ".join(i.command for i in parsed.instructions if i.keyword == "RUN")
    taken = set()
    for command in re.split(r"[&;|]", runs):
        words = command.split()
        if len(words) < 2 or not USER_NAME_RE.fullmatch(words[-1]):
            continue
        name_start = command.rstrip().rfind(words[-1])
        if USER_TOOL_RE.search(command, 0, name_start - 1):
            taken.add(words[-1])
    return "app" if "app" not in taken else f"app{APP_UID}"


def _volumes(parsed: ParsedDockerfile) -> list[str]:
    paths: list[str] = []
    for instruction in parsed.stage_instructions(parsed.final_stage):
        if instruction.keyword == "VOLUME":
            words = instruction.value if instruction.json else " ".join(instruction.value).split()
            paths.extend(w for w in words if w.startswith("/") and re.fullmatch(r"[\w./-]+", w))
    return paths


def fix_root_user(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    stage = parsed.final_stage
    if is_windows(parsed, stage):
        return None  # no uid 10001, no useradd; whether ContainerUser suffices depends on the app (IIS needs admin)
    image = image_of(parsed, stage)
    lines: list[str] = []
    if nonroot_by_default(image) or not has_shell(image):
        uid = DISTROLESS_UID
    else:
        uid = APP_UID
        distro = family(parsed, stage)
        if distro is not None:
            name = _user_name(parsed)
            command = CREATE_USER[distro].format(uid=uid, name=name)
            volumes = _volumes(parsed)
            if volumes:
                command += f" && mkdir -p {' '.join(volumes)} && chown {uid}:{uid} {' '.join(volumes)}"
            lines.append(f"RUN {command}")
    lines.append(f"USER {uid}:{uid}")
    edits = []
    anchor = last_of(parsed, stage, BUILD_STEPS | {"USER"})
    appended = _append_as_root(parsed, anchor, lines[0][4:]) if len(lines) == 2 else None
    if appended is not None:  # one RUN less: the user is created in the last build step
        edits.append(appended)
        lines = lines[1:]
    edits.append(insert_at_runtime(parsed, stage, BUILD_STEPS | {"USER"}, lines))
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, f"run as {uid}:{uid}")


def _append_as_root(parsed: ParsedDockerfile, run: Instruction, command: str) -> Edit | None:
    """Append to the stage's last RUN when it runs as root, rather than adding another RUN layer."""
    if run.keyword != "RUN" or not runs_as_root(effective_user(parsed, parsed.final_stage, before=run.index)):
        return None
    return append_edit(parsed, run, command)


def check_setid_bits(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that the final stage of an image with a shell strips setuid and setgid bits from its
    files.

    Why is this bad?
    setuid/setgid binaries (`su`, `passwd`, `mount`, …) are the classic way back to root for a
    process that was started as a non-root user (CIS Docker Benchmark 4.8).

    Example:
    ```dockerfile
    FROM debian:12-slim
    USER 10001:10001
    ```

    Use instead:
    ```dockerfile
    FROM debian:12-slim
    RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +
    USER 10001:10001
    ```

    Fix safety:
    Safe. The `RUN` is added as root after the last build step, so every file the build installs is
    covered; the application itself does not run setuid helpers. Images without a shell are not
    checked (there is nothing to run `find` with, and distroless images ship none), nor are Windows
    images (which have no setuid bits).
    """
    stage = parsed.final_stage
    if not has_shell(image_of(parsed, stage)) or is_windows(parsed, stage):
        return
    if any("chmod a-s" in i.command or "-perm /6000" in i.command or "chmod u-s" in i.command
           for i in shell_runs(parsed, stage)):
        return
    where = parsed.instructions[stage.from_instruction]
    yield SETID_BITS.violation(where.start_line, instruction=where.index)


def fix_setid_bits(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    stage = parsed.final_stage
    anchor = last_of(parsed, stage, BUILD_STEPS)
    if not runs_as_root(effective_user(parsed, stage, before=anchor.index + 1)):
        return None  # chmod would fail as a non-root user; only flag it
    edit = _append_as_root(parsed, anchor, STRIP_SETID) or insert_after(parsed, anchor, [f"RUN {STRIP_SETID}"])
    return Fix((edit,), FixSafety.SAFE, "strip setuid/setgid bits")


ROOT_USER = Rule("HC001", "root-user", Severity.ERROR, "container runs as root", "4.1", "DL3002",
                 check_root_user, fix_root_user, FixSafety.NEEDS_REVIEW)
SETID_BITS = Rule("HC002", "setuid-setgid-bits", Severity.WARNING, "setuid/setgid bits are not stripped in the final "
                  "stage", "4.8", None, check_setid_bits, fix_setid_bits, FixSafety.SAFE)
RULES = (ROOT_USER, SETID_BITS)
