"""How RUN commands use the shell: pipefail, `cd` instead of WORKDIR, one-command RUNs in a row."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile, Stage
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import (
    STATEFUL,
    chain_last,
    chain_value,
    command_end,
    command_start,
    family,
    image_of,
    insert_after,
    insert_before,
    of_kind,
    posix_shell,
    unquoted_positions,
    workdir_path,
)
from generator.core.imageref import image_name

SHELLS = {"debian": '["/bin/bash", "-o", "pipefail", "-c"]', "rhel": '["/bin/bash", "-o", "pipefail", "-c"]',
          "alpine": '["/bin/ash", "-eo", "pipefail", "-c"]'}
# Bare distribution images set no WORKDIR: their working directory is "/".
BARE_DISTROS = ("debian", "ubuntu", "alpine", "centos", "fedora", "rockylinux", "almalinux", "amazonlinux",
                "busybox", "oraclelinux")
LEADING_CD_RE = re.compile(r"cd[ \t]+(/[\w./+@-]*)[ \t]*&&[ \t]*")


def has_pipe(command: str) -> bool:
    """A `|` outside quotes that is not part of `||`."""
    if "|" not in command:
        return False
    paired = -1  # the second `|` of a `||`
    for i in unquoted_positions(command):
        if command[i] == "|" and i != paired:
            if command[i + 1:i + 2] != "|":
                return True
            paired = i + 1
    return False


SHELLS_ONLY = frozenset({"SHELL"})
WORKDIRS = frozenset({"WORKDIR"})


def _shell_pipefail(instruction: Instruction) -> bool:
    return "pipefail" in " ".join(instruction.value)


def _first_unguarded_pipe(parsed: ParsedDockerfile, stage: Stage) -> tuple[Instruction | None, bool]:
    """The stage's first shell-form RUN with a pipe that runs without pipefail, and whether a SHELL
    instruction (without pipefail) comes before it in the stage or the stages it is built on."""
    parent = parsed.parent_stage(stage)
    # (a SHELL with pipefail, any SHELL) in the stages it is built on
    inherited = chain_value(parsed, "pipefail shells", parent, lambda s: (
        any(_shell_pipefail(i) for i in of_kind(parsed, s, SHELLS_ONLY)), bool(of_kind(parsed, s, SHELLS_ONLY))),
        lambda older, own: (older[0] or own[0], older[1] or own[1])) if parent is not None else (False, False)
    if inherited[0]:
        return None, True
    shell_seen = inherited[1]
    for instruction in parsed.stage_instructions(stage):
        if instruction.keyword == "SHELL":
            if _shell_pipefail(instruction):
                return None, True
            shell_seen = True
        elif instruction.keyword == "RUN" and not instruction.json and has_pipe(" ".join(instruction.value)):
            return instruction, shell_seen
    return None, shell_seen


def check_pipefail(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that a `RUN` whose command uses a pipe runs with `pipefail` set (through `SHELL`).

    Why is this bad?
    `/bin/sh -c 'curl … | tar x'` succeeds when `curl` fails, because only the last command's status
    counts: the build goes on with a half-downloaded or empty result instead of stopping.

    Example:
    ```dockerfile
    FROM debian:12-slim
    RUN curl -fsSL https://example.com/tool.tar.gz | tar -xz -C /opt
    ```

    Use instead:
    ```dockerfile
    FROM debian:12-slim
    SHELL ["/bin/bash", "-o", "pipefail", "-c"]
    RUN curl -fsSL https://example.com/tool.tar.gz | tar -xz -C /opt
    ```

    Fix safety:
    Needs review. It changes failure behaviour on purpose: a failing command on the left of a pipe
    now fails the build. The `SHELL` goes right before the stage's first piping `RUN` and also
    applies to later shell-form `RUN`, `CMD` and `ENTRYPOINT` in the stage (bash instead of
    `/bin/sh`). bash is used on Debian/Ubuntu and RHEL-family bases, busybox `ash` on Alpine;
    stages with another `SHELL` or an unknown base are only reported.
    """
    for stage in parsed.stages:
        run, _ = _first_unguarded_pipe(parsed, stage)
        if run is not None:
            yield PIPEFAIL.violation(run.start_line, instruction=run.index)


def fix_pipefail(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    stage = parsed.stages[run.stage]
    found, shell_seen = _first_unguarded_pipe(parsed, stage)
    shell = SHELLS.get(family(parsed, stage) or "")
    if found is not run or shell_seen or shell is None:
        return None
    return Fix((insert_before(parsed, run, [f"SHELL {shell}"]),), FixSafety.NEEDS_REVIEW, f"SHELL {shell}")


def check_cd(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `cd` in `RUN` commands.

    Why is this bad?
    The directory change is invisible to the instructions that follow and easy to lose when the
    command is edited; `WORKDIR` states where the build works and fails clearly if it is wrong.

    Example:
    ```dockerfile
    WORKDIR /app
    RUN cd /tmp && tar -xzf app.tar.gz
    ```

    Use instead:
    ```dockerfile
    WORKDIR /app
    WORKDIR /tmp
    RUN tar -xzf app.tar.gz
    WORKDIR /app
    ```

    Fix safety:
    Needs review. Only a leading `cd /absolute/path && …` becomes a `WORKDIR` (which also creates
    the directory, where `cd` would have failed). The working directory is set back afterwards when
    the previous one is known (an earlier absolute `WORKDIR`, or `/` on a bare distribution image);
    when the next instruction that depends on it is an absolute `WORKDIR`, nothing is restored.
    Otherwise (and in Windows or PowerShell stages) the `cd` is only reported.
    """
    for run in parsed.instructions:
        if run.keyword == "RUN" and not run.json and re.search(r"(?:^|[\s;&|(])cd(?:\s|$)", run.command):
            yield CD.violation(run.start_line, instruction=run.index)


def _previous_workdir(parsed: ParsedDockerfile, stage: Stage, before: int) -> str | None:
    workdir = chain_last(parsed, stage, WORKDIRS, before)
    if workdir is not None:
        path = workdir_path(workdir)
        return path if path.startswith("/") and "$" not in path else None
    name = image_name(image_of(parsed, stage)).lower().removeprefix("docker.io/").removeprefix("library/")
    return "/" if name in BARE_DISTROS else None


def _restore_needed(parsed: ParsedDockerfile, stage: Stage, after: int) -> bool:
    """False when the next instruction that depends on the working directory is an absolute WORKDIR."""
    members = parsed.stage_instructions(stage)
    for instruction in members[max(0, after - stage.from_instruction):]:  # a stage's indexes are consecutive
        if instruction.index <= after or instruction.keyword in ("ENV", "ARG", "LABEL", "EXPOSE", "USER",
                                                                   "STOPSIGNAL", "MAINTAINER", "SHELL", "VOLUME"):
            continue
        return not (instruction.keyword == "WORKDIR" and workdir_path(instruction).startswith("/")
                    and "$" not in workdir_path(instruction))
    return True


def fix_cd(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    start = command_start(parsed, run)
    if start is None or run.heredocs or not posix_shell(parsed, run.stage):
        return None
    match = LEADING_CD_RE.match(parsed.text, start)
    if match is None or parsed.text.find("\n", start, match.end()) >= 0:
        return None
    stage = parsed.stages[run.stage]
    path = match.group(1)
    lines = [f"WORKDIR {path}"]
    edits = [insert_before(parsed, run, lines), Edit(match.start(), match.end(), "")]
    if _restore_needed(parsed, stage, run.index):
        previous = _previous_workdir(parsed, stage, run.index)
        if previous is None:
            return None
        edits.append(insert_after(parsed, run, [f"WORKDIR {previous}"]))
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, f"cd {path} -> WORKDIR {path}")


MAX_MERGED = 32  # one-command RUNs merged into one at most


def _single_command(run: Instruction) -> bool:
    from generator.audit.rules.packages import segments

    return len(segments(" ".join(run.value))) == 1 and "\n" not in " ".join(run.value)


def _consecutive_pairs(parsed: ParsedDockerfile) -> dict[int, tuple[Instruction, int]]:
    """Shell-form, flag-free, heredoc-free one-command RUNs that follow each other with only blank lines
    between: by the index of the second of each pair, the first and how many RUNs of the run of such
    RUNs come before the second (found once per parse)."""
    return parsed.remember("consecutive runs", lambda: dict(_find_pairs(parsed)))


def _find_pairs(parsed: ParsedDockerfile) -> Iterator[tuple[int, tuple[Instruction, int]]]:
    from generator.audit.rules.packages_apk_yum import yum_cache_kept
    from generator.audit.rules.packages_apt import apt_lists_kept

    # An install whose cache cleanup is still missing gets it appended by HC042/HC044; left alone here.
    cleanup = {run.index for run in (*apt_lists_kept(parsed), *yum_cache_kept(parsed))}
    for stage in parsed.stages:
        members = parsed.stage_instructions(stage)
        position = 0
        for first, second in itertools.pairwise(members):
            if not all(i.keyword == "RUN" and not i.json and not i.flags and not i.heredocs and _single_command(i)
                       and i.index not in cleanup for i in (first, second)):
                position = 0
                continue
            if parsed.text[first.end:second.start].strip():
                position = 0
                continue  # a comment between them: they were kept apart on purpose
            position += 1
            yield second.index, (first, position)


def check_consecutive_runs(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `RUN` instructions that each run one command and follow each other directly.

    Why is this bad?
    Every `RUN` is a layer: files deleted in a later one still ship in the earlier one, and the
    image gets bigger and slower to pull than the same commands in one `RUN`.

    Example:
    ```dockerfile
    RUN pip install --no-cache-dir -r requirements.txt
    RUN python manage.py collectstatic --noinput
    ```

    Use instead:
    ```dockerfile
    RUN pip install --no-cache-dir -r requirements.txt && \\
        python manage.py collectstatic --noinput
    ```

    Fix safety:
    Needs review: every command still runs, in order, and the build still stops at the first that
    fails; but the layers (and what the build cache reuses) change. RUNs with flags, heredocs or
    exec form, RUNs separated by a comment, installs that still lack their cache cleanup (HC042,
    HC044 add it) and a first command that changes shell state (`cd`, `export`, `set`, …) are not
    merged; nor are RUNs of a Windows or PowerShell stage (no `&&` there). At most 32 RUNs become one.
    """
    for second in sorted(_consecutive_pairs(parsed)):
        yield CONSECUTIVE_RUNS.violation(parsed.instructions[second].start_line, instruction=second)


def fix_consecutive_runs(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    second = parsed.instructions[violation.instruction]
    first = parsed.instructions[second.index - 1]
    words = " ".join(first.value).split()
    pair = _consecutive_pairs(parsed).get(second.index)
    if not words or words[0] in STATEFUL or pair is None or pair[0] is not first:
        return None
    if pair[1] % MAX_MERGED == 0:
        return None  # a new RUN every MAX_MERGED: one huge RUN would be a long instruction to read (and parse)
    if not posix_shell(parsed, first.stage):
        return None  # `&&` is no operator in Windows PowerShell
    end, start = command_end(parsed, first), command_start(parsed, second)
    body = parsed.text[first.start:end].rstrip() if end is not None else ""
    if end is None or start is None or body.endswith(("&&", "||", "|", "&", ";")):
        return None
    joined = f" && {parsed.escape}{parsed.newline}    "
    return Fix((Edit(end, start, joined),), FixSafety.NEEDS_REVIEW, "merged consecutive RUNs")


PIPEFAIL = Rule("HC053", "pipe-without-pipefail", Severity.WARNING, "RUN uses a pipe without pipefail", None,
                "DL4006", check_pipefail, fix_pipefail, FixSafety.NEEDS_REVIEW)
CD = Rule("HC054", "cd-in-run", Severity.WARNING, "cd used in RUN instead of WORKDIR", None, "DL3003", check_cd,
          fix_cd, FixSafety.NEEDS_REVIEW)
CONSECUTIVE_RUNS = Rule("HC055", "consecutive-runs", Severity.INFO, "consecutive one-command RUNs", None, "DL3059",
                        check_consecutive_runs, fix_consecutive_runs, FixSafety.NEEDS_REVIEW)
RULES = (PIPEFAIL, CD, CONSECUTIVE_RUNS)
