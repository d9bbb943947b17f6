"""What build steps run and fetch: ADD, sudo, world-writable modes (downloads in RUN: `downloads`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import (
    chain_last,
    command_start,
    comment_free,
    effective_user,
    keyword_end,
    runs_as_root,
    unquote,
)

URL_RE = re.compile(r"^(?:https?|ftp)://|^git@|\.git(?:#.*)?$", re.IGNORECASE)
ARCHIVE_RE = re.compile(r"\.(?:tar|tgz|tbz2?|txz|tar\.(?:gz|bz2|xz|zst|lz4)|gz|bz2|xz)$", re.IGNORECASE)
# A destination that names a file: a last path component with an extension, no variable, no trailing slash.
FILE_DESTINATION_RE = re.compile(r"(?:^|/)[\w-]+\.[A-Za-z0-9]{1,5}$")
def _add_sources(words: tuple[str, ...]) -> tuple[str, ...]:
    return words[:-1] if len(words) > 1 else ()


def check_add_local(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `ADD` of local files or directories that are not archives.

    Why is this bad?
    `ADD` also fetches URLs and unpacks archives; for plain files `COPY` says exactly what happens
    and nothing more (CIS Docker Benchmark 4.9).

    Example:
    ```dockerfile
    ADD app.py /app/
    ```

    Use instead:
    ```dockerfile
    COPY app.py /app/
    ```

    Fix safety:
    Safe. Only `ADD` with local, non-archive sources (and no `ADD`-only flags) becomes `COPY`;
    local archives (which `ADD` unpacks) are reported instead. Needs review for one source named by
    a variable (`ADD ${JAR_FILE} app.jar`): it becomes `COPY` only when the destination is a single
    file with a non-archive extension, since the variable could still name an archive that `ADD`
    would have unpacked; other sources with variables are reported only. A relative destination
    stays `ADD` unless a `WORKDIR` of the stage says where it goes (where it lands is the base
    image's business otherwise).
    """
    for instruction in parsed.instructions:
        if instruction.keyword != "ADD" or instruction.heredocs:
            continue
        sources = _add_sources(instruction.value)
        if sources and not any(URL_RE.search(s) for s in sources):
            archive = [s for s in sources if ARCHIVE_RE.search(s)]
            detail = f"{archive[0]} is unpacked by ADD; COPY it and unpack explicitly" if archive else ""
            yield ADD_LOCAL.violation(instruction.start_line, detail, instruction=instruction.index)


def fix_add_local(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    sources = _add_sources(instruction.value)
    if any(ARCHIVE_RE.search(s) for s in sources):
        return None
    if any(f.split("=", 1)[0] in ("--checksum", "--keep-git-dir", "--unpack") for f in instruction.flags):
        return None
    if instruction.stage < 0 or not _destination_is_placed(parsed, instruction):
        return None
    safety = FixSafety.SAFE
    if any("$" in s for s in sources):
        # The variable could name an archive, which ADD would unpack: only when the destination is
        # one file whose name says it is no directory to unpack into (`app.jar`, not `/opt/` or `/app`).
        destination = instruction.value[-1]
        if len(sources) != 1 or not FILE_DESTINATION_RE.search(destination) or ARCHIVE_RE.search(destination):
            return None
        safety = FixSafety.NEEDS_REVIEW
    end = keyword_end(parsed, instruction)
    keyword = parsed.text[end - 3:end]
    return Fix((Edit(end - 3, end, "COPY" if keyword.isupper() else "copy"),), safety, "ADD -> COPY")


WORKDIRS = frozenset({"WORKDIR"})


def _destination_is_placed(parsed: ParsedDockerfile, instruction: Instruction) -> bool:
    """The destination is absolute, or a WORKDIR of the stage (or a stage it builds on) says where a
    relative one goes. Otherwise it lands in the base image's working directory, whatever that is,
    and as COPY it is a new finding (hadolint DL3045)."""
    destination = unquote(instruction.value[-1])
    if destination.startswith(("/", "$")) or re.match(r"^[A-Za-z]:[\\/]", destination):
        return True
    return chain_last(parsed, parsed.stages[instruction.stage], WORKDIRS, before=instruction.index) is not None


def check_add_remote(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `ADD` of a URL or a git repository without `--checksum`.

    Why is this bad?
    The build trusts whatever the server returns at build time: a compromised or changed download
    goes into the image unnoticed (CIS Docker Benchmark 4.9).

    Example:
    ```dockerfile
    ADD https://example.com/tool.tar.gz /opt/
    ```

    Use instead:
    ```dockerfile
    ADD --checksum=sha256:4f6b… https://example.com/tool.tar.gz /opt/
    ```

    Fix safety:
    Not fixable: the checksum of the intended file is not known to hardcase. Verify the file once,
    then add `--checksum=sha256:…` (or download with curl and check it with `sha256sum -c`).
    """
    for instruction in parsed.instructions:
        if instruction.keyword != "ADD" or any(f.startswith("--checksum") for f in instruction.flags):
            continue
        remote = [s for s in _add_sources(instruction.value) if URL_RE.search(s)]
        if remote:
            yield ADD_REMOTE.violation(instruction.start_line, remote[0], instruction=instruction.index)


# `sudo` where the shell runs it as a command (not `apt-get install sudo`, not `echo sudo`).
SUDO_COMMAND_RE = re.compile(
    r"(?:^|&&|\|\||[;|(\n`]|\$\()[ \t]*(?:(?:exec|command|env|time|nohup)[ \t]+|[A-Za-z_]\w*=\S*[ \t]+)*"
    r"(sudo)(?=\s|$)")
# `sudo` and what may be dropped with it: nothing, or only `-E`/`--preserve-env` (the environment is kept anyway).
# (`sudo sudo CMD` loses both at once: one a pass would leave some after the last pass; a `sudo`
# with no command after it, only an operator, stays: `RUN && …` would not run.)
SUDO_PREFIX_RE = re.compile(r"(?:sudo[ \t]+(?:(?:-E|--preserve-env)[ \t]+)*)+(?=[^\s\-&|;<>()#])")
INSTALL_TOOLS = ("apt-get", "apt", "apk", "yum", "dnf", "microdnf")


def _installs_sudo(command: str) -> bool:
    from generator.audit.rules.packages import _invokes, segments

    return any(_invokes(words, INSTALL_TOOLS, ("install", "add")) and "sudo" in words[1:]
               for words in segments(command))


def check_sudo(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `sudo` in `RUN`: run as a command, or installed as a package.

    Why is this bad?
    Build steps already run as root until a `USER` says otherwise; `sudo` in an image means a sudo
    binary and sudoers rules that a process inside can use to become root again.

    Example:
    ```dockerfile
    RUN sudo apt-get install -y curl
    ```

    Use instead:
    ```dockerfile
    RUN apt-get install -y curl
    ```

    Fix safety:
    Needs review. Plain `sudo CMD` prefixes are removed where the step runs as root anyway, and so
    is `sudo -E CMD` (`--preserve-env`: the command keeps the environment it has without sudo);
    `sudo` with other options, or after a non-root `USER`, is reported only (switch to `USER root`
    for that step). A `sudo` package in an install list is reported, never removed: every command
    of the `RUN` still runs as written, and something later may need it.
    """
    for run in parsed.instructions:
        if run.keyword != "RUN":
            continue
        if SUDO_COMMAND_RE.search(run.command):
            yield SUDO.violation(run.start_line, instruction=run.index)
        elif _installs_sudo(run.command):
            yield SUDO.violation(run.start_line, "the sudo package is installed", instruction=run.index)


def fix_sudo(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    if run.stage < 0 or not runs_as_root(effective_user(parsed, parsed.stages[run.stage], before=run.index)):
        return None
    begin = command_start(parsed, run)
    if begin is None:
        return None
    source = comment_free(parsed, run)
    continuation = re.compile(rf"{re.escape(parsed.escape)}\r?\n")
    # The same command positions as in the check, found in the source (continuations become spaces).
    flat = continuation.sub(lambda m: " " * len(m.group(0)), source[begin - run.start:])
    edits = []
    for use in SUDO_COMMAND_RE.finditer(flat):
        prefix = SUDO_PREFIX_RE.match(flat, use.start(1))
        if prefix is None:
            return None  # sudo -u, -i, …: the step needs another user; only reported
        edits.append(Edit(begin + prefix.start(), begin + prefix.end(), ""))
    if not edits or len(edits) != len(SUDO_COMMAND_RE.findall(run.command)):
        return None  # the source and the command BuildKit runs disagree (comments inside continuations)
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "removed sudo")


CHMOD_777_RE = re.compile(r"\bchmod((?:[ \t]+-[A-Za-z]+)*)[ \t]+0?777(?=\s)")


def check_chmod_777(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `chmod 777` (and `chmod -R 777`) in `RUN`.

    Why is this bad?
    World-writable files let any user in the container, including a compromised non-root process,
    replace programs or data that others run.

    Example:
    ```dockerfile
    RUN chmod -R 777 /app
    ```

    Use instead:
    ```dockerfile
    RUN chmod -R 755 /app
    ```

    Fix safety:
    Needs review: `755` keeps read and execute for everyone and write for the owner only; a
    directory the application must write to should instead be owned by its user.
    """
    for run in parsed.instructions:
        if run.keyword == "RUN" and CHMOD_777_RE.search(run.command + " "):
            yield CHMOD_777.violation(run.start_line, instruction=run.index)


def fix_chmod_777(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    source = comment_free(parsed, run) + " "
    edits = []
    for match in CHMOD_777_RE.finditer(source):
        mode_start = match.end() - len(match.group(0).split()[-1])
        edits.append(Edit(run.start + mode_start, run.start + match.end(), "755"))
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "chmod 777 -> 755") if edits else None


ADD_LOCAL = Rule("HC020", "add-instead-of-copy", Severity.WARNING, "ADD used for local files", "4.9", "DL3020",
                 check_add_local, fix_add_local, FixSafety.SAFE)
ADD_REMOTE = Rule("HC021", "add-remote-without-checksum", Severity.ERROR, "ADD downloads without a checksum", "4.9",
                  None, check_add_remote)
SUDO = Rule("HC050", "sudo-in-run", Severity.WARNING, "sudo used in RUN", None, "DL3004", check_sudo, fix_sudo,
            FixSafety.NEEDS_REVIEW)
CHMOD_777 = Rule("HC051", "chmod-777", Severity.WARNING, "world-writable mode 777", None, None, check_chmod_777,
                 fix_chmod_777, FixSafety.NEEDS_REVIEW)
RULES = (ADD_LOCAL, ADD_REMOTE, SUDO, CHMOD_777)
