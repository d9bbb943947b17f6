"""What rules need to know about a stage (base image, distro family, user) and how they edit text.

Edits are placed by span: inserted instructions go on their own lines, in the file's newline style,
before the comment block that belongs to the instruction they precede.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile, Stage
from generator.audit.model import Edit
from generator.core.imageref import image_name, image_tag

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

ROOT_NAMES = frozenset({"root", "0"})
DEBIAN_HINTS = ("debian", "ubuntu", "python", "node", "golang", "ruby", "php", "openjdk", "eclipse-temurin",
                "maven", "gradle", "rust", "buildpack-deps", "nginx", "httpd", "postgres", "mcr.microsoft.com/dotnet",
                "amazoncorretto:", "perl", "elixir", "erlang", "haskell", "julia", "r-base", "swift", "tomcat")
RHEL_HINTS = ("centos", "rhel", "redhat", "ubi", "fedora", "rockylinux", "almalinux", "amazonlinux", "oraclelinux")
# Windows-only images: Server Core, Nano Server and the .NET Framework / ASP.NET / IIS images built
# on them (https://hub.docker.com/r/microsoft/windows-servercore, mcr.microsoft.com/dotnet/framework).
# Tags name the Windows variant of multi-OS images (`python:3.12-windowsservercore-ltsc2022`).
WINDOWS_IMAGE_RE = re.compile(
    r"(?:^|/)microsoft/(?:aspnet|iis|dotnet-framework|windowsservercore|nanoserver)(?:[:@]|$)"
    r"|^mcr\.microsoft\.com/(?:windows|dotnet/framework)(?:[/:@]|$)|servercore|nanoserver|ltsc20\d\d")
WINDOWS_SHELLS = ("powershell", "pwsh", "cmd")
POSIX_SHELLS = ("sh", "bash", "ash", "dash", "zsh", "ksh")
FAMILY_BY_TOOL = (("apt-get", "debian"), ("apt ", "debian"), ("apk ", "alpine"), ("microdnf", "rhel"),
                  ("dnf ", "rhel"), ("yum ", "rhel"))

# Shell builtins whose effect on later commands would leak into a merged RUN (or a moved one).
STATEFUL = frozenset({"cd", "export", "set", "source", ".", "umask", "unset", "alias", "shopt", "pushd", "popd",
                      "ulimit", "trap", "exec", "eval", "readonly", "declare", "typeset", "local", "exit", "return"})



def words(command: str) -> list[str]:
    return command.split()


def image_of(parsed: ParsedDockerfile, stage: Stage) -> str:
    """The image a stage finally builds on, following `FROM earlier-stage` links."""
    return chain_value(parsed, "image", stage, lambda s: s.base, lambda parent, own: parent)


# Facts about a stage and the stages it is built on are computed once, for every stage, walking the
# stages in order (a parent always comes first): asking the chain again for each instruction would
# make rules quadratic in the file (one stage of many RUNs, or many stages built on each other).
def chain_value(parsed: ParsedDockerfile, key: str, stage: Stage, own: Callable[[Stage], T],
                combine: Callable[[T, T], T]) -> T:
    """`own(stage)` combined along the stage's chain: `combine(value of the parent's chain, own)`."""
    def every_stage() -> list[T]:
        values: list[T] = []
        for current in parsed.stages:
            parent = parsed.parent_stage(current)
            mine = own(current)
            values.append(combine(values[parent.index], mine) if parent is not None else mine)
        return values

    return parsed.remember(("chain", key), every_stage)[stage.index]


def of_kind(parsed: ParsedDockerfile, stage: Stage, keywords: frozenset[str]) -> tuple[Instruction, ...]:
    """The stage's own instructions of these kinds, in order."""
    return parsed.remember(("kind", stage.index, keywords),
                           lambda: tuple(i for i in parsed.stage_instructions(stage) if i.keyword in keywords))


def chain_first(parsed: ParsedDockerfile, key: str, stage: Stage,
                test: Callable[[Instruction], bool]) -> Instruction | None:
    """The first instruction passing TEST in the stage's chain (oldest stage first); KEY names the test."""
    return chain_value(parsed, f"first {key}", stage, lambda s: next(filter(test, parsed.stage_instructions(s)), None),
                       lambda parent, own: parent if parent is not None else own)


def first_before(parsed: ParsedDockerfile, key: str, stage: Stage, test: Callable[[Instruction], bool],
                 before: int) -> bool:
    """Some instruction of the stage's chain before index BEFORE passes TEST (the parents' all come before)."""
    parent = parsed.parent_stage(stage)
    if parent is not None and chain_first(parsed, key, parent, test) is not None:
        return True
    own = chain_value(parsed, f"own {key}", stage, lambda s: next(filter(test, parsed.stage_instructions(s)), None),
                      lambda parent, own: own)
    return own is not None and own.index < before


def chain_last(parsed: ParsedDockerfile, stage: Stage, keywords: frozenset[str],
               before: int | None = None) -> Instruction | None:
    """The last instruction of these kinds in the stage's chain, before index BEFORE when given."""
    own = of_kind(parsed, stage, keywords)
    if before is not None:
        own = own[:bisect.bisect_left(own, before, key=lambda i: i.index)]
    if own:
        return own[-1]
    parent = parsed.parent_stage(stage)
    if parent is None:
        return None
    return chain_value(parsed, f"last {sorted(keywords)}", parent,
                       lambda s: (of_kind(parsed, s, keywords) or (None,))[-1],
                       lambda parent, own: own if own is not None else parent)


def nonroot_by_default(ref: str) -> bool:
    lowered = ref.lower()
    return ("distroless" in lowered and "nonroot" in lowered) or lowered.startswith("cgr.dev/chainguard/")


def has_shell(ref: str) -> bool:
    lowered = ref.lower()
    if lowered == "scratch":
        return False
    if "distroless" in lowered:
        return "debug" in (image_tag(lowered) or "")
    return not (lowered.startswith("cgr.dev/chainguard/") and "-dev" not in lowered)


SHELLS_ONLY = frozenset({"SHELL"})
RUNS_ONLY = frozenset({"RUN"})


def is_windows(parsed: ParsedDockerfile, stage: Stage) -> bool:
    """A Windows container: its base image is a Windows one, or the stage (or one it builds on) sets a
    Windows shell. Linux-only fixes (users, setuid bits, POSIX shell syntax) do not apply to it."""
    if WINDOWS_IMAGE_RE.search(image_of(parsed, stage).lower()):
        return True
    return chain_value(parsed, "windows shell", stage, lambda s: any(
        i.json and i.value and i.value[0].replace("\\", "/").rsplit("/", 1)[-1].lower().removesuffix(".exe")
        in WINDOWS_SHELLS for i in of_kind(parsed, s, SHELLS_ONLY)), lambda parent, own: parent or own)


def posix_shell(parsed: ParsedDockerfile, stage: int) -> bool:
    """Shell-form commands of the stage go to a POSIX shell: what fixes that write `&&`, `export`
    or `$(…)` into a RUN need (PowerShell and cmd understand none of it the same way)."""
    if stage < 0 or is_windows(parsed, parsed.stages[stage]):
        return False
    return chain_value(parsed, "posix shell", parsed.stages[stage], lambda s: all(
        i.json and bool(i.value) and i.value[0].rsplit("/", 1)[-1] in POSIX_SHELLS
        for i in of_kind(parsed, s, SHELLS_ONLY)), lambda parent, own: parent and own)


def _package_tool(parsed: ParsedDockerfile, stage: Stage) -> str | None:
    """The family of the first package manager a RUN of the stage calls."""
    for instruction in of_kind(parsed, stage, RUNS_ONLY):
        command = instruction.command + " "
        for tool, name in FAMILY_BY_TOOL:
            if re.search(rf"(^|[\s;&|(]){re.escape(tool)}", command):
                return name
    return None


def family(parsed: ParsedDockerfile, stage: Stage) -> str | None:
    """debian, alpine, rhel or windows: a Windows image first, then the Linux package manager the
    stage uses, else the image name."""
    if is_windows(parsed, stage):
        return "windows"
    tool = chain_value(parsed, "package tool", stage, lambda s: _package_tool(parsed, s),
                       lambda parent, own: parent if parent is not None else own)
    if tool is not None:
        return tool
    ref = image_of(parsed, stage).lower()
    if not has_shell(ref):
        return None
    if "alpine" in ref:
        return "alpine"
    if any(hint in image_name(ref) for hint in RHEL_HINTS):
        return "rhel"
    if any(hint in ref for hint in DEBIAN_HINTS):
        return "debian"
    return None


def unquoted_positions(text: str) -> Iterator[int]:
    """Offsets of the characters of a shell command that are outside single and double quotes and
    not escaped by a backslash: where `|`, `$NAME` and the like mean what they say to the shell."""
    quote = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                i += 1
        elif char in "'\"":
            quote = char
        elif char == "\\":
            i += 1
        else:
            yield i
        i += 1


INSTALL_TOOL_RE = re.compile(r"(?:apt-get|apt|apk|yum|dnf|microdnf)\b")
INSTALL_VERB_RE = re.compile(r"\b(?:install|add)\b")


def install_lists(command: str) -> list[str]:
    """What follows the last `install`/`add` of each simple command (split at `&`, `;`, `|`) that
    runs a package manager before it: `re.findall(r"(?:apt-get|…)\b[^&;|]*\b(?:install|add)\b([^&;|]*)")`,
    one command at a time (that pattern backtracks over the rest of the command from every tool name)."""
    found = []
    for command_text in re.split(r"[&;|]", command):
        tool = INSTALL_TOOL_RE.search(command_text)
        verb = next(reversed(list(INSTALL_VERB_RE.finditer(command_text))), None)  # the last one
        if tool is not None and verb is not None and verb.start() >= tool.end():
            found.append(command_text[verb.end():])
    return found


def unquote(word: str) -> str:
    """A Dockerfile word without the one pair of quotes around it (`WORKDIR "/app"` means /app)."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    return word


def workdir_path(instruction: Instruction) -> str:
    return unquote(instruction.value[0]) if instruction.value else ""


def user_of(instruction: Instruction) -> str:
    return (instruction.value[0] if instruction.value else "").split(":", 1)[0]


USERS_ONLY = frozenset({"USER"})


def effective_user(parsed: ParsedDockerfile, stage: Stage, before: int | None = None) -> str:
    """The user a stage runs as at an instruction (or at its end); "" when the base decides."""
    last = chain_last(parsed, stage, USERS_ONLY, before)
    if last is not None:
        return user_of(last)
    return "65532" if nonroot_by_default(image_of(parsed, stage)) else "root"


def runs_as_root(user: str) -> bool:
    return user in ROOT_NAMES


def comment_free(parsed: ParsedDockerfile, instruction: Instruction) -> str:
    """The instruction's source with comment lines inside continuations blanked (same length)."""
    lines = parsed.source(instruction).splitlines(keepends=True)
    kept = [lines[0]] + [" " * len(line.rstrip("\r\n")) + line[len(line.rstrip("\r\n")):]
                         if line.lstrip().startswith("#") else line for line in lines[1:]]
    return "".join(kept)


def command_end(parsed: ParsedDockerfile, instruction: Instruction) -> int | None:
    """Offset just past the last character of a shell-form command, where `&& more` can go.

    None when appending is unsafe: exec form, heredocs, or a `#` on the last line (it could be a
    shell comment that would swallow what is appended).
    """
    if instruction.json or instruction.heredocs:
        return None
    source = parsed.source(instruction)
    body = source.rstrip()
    last_line = body[body.rfind("\n") + 1:]
    if "#" in last_line or body.endswith(parsed.escape):
        return None
    return instruction.start + len(body)


def command_start(parsed: ParsedDockerfile, instruction: Instruction) -> int | None:
    """Offset of the shell command after RUN and its flags, on the instruction's first line."""
    source = parsed.source(instruction)
    first = source.split("\n", 1)[0]
    position = keyword_end(parsed, instruction) - instruction.start
    for flag in instruction.flags:
        found = first.find(flag, position)
        if found < 0:
            return None
        position = found + len(flag)
    rest = first[position:]
    stripped = rest.lstrip(" \t")
    if stripped.rstrip() == parsed.escape:  # `RUN \` with the command on the next lines
        offset = len(first) + 1
        for line in source[offset:].split("\n"):
            if line.strip() and not line.lstrip().startswith("#"):
                return instruction.start + offset + len(line) - len(line.lstrip())
            offset += len(line) + 1
        return None
    if not stripped.strip() or stripped.startswith(parsed.escape):
        return None
    return instruction.start + position + len(rest) - len(stripped)


HEREDOC_SCRIPT_RE = re.compile(r"<<-?([\"']?)([A-Za-z_][\w-]*)\1")
SCRIPT_SHEBANG_RE = re.compile(r"#!\s*(?:/usr)?/bin/(?:env\s+)?(?:ba|da|a)?sh\b")


def heredoc_script_end(parsed: ParsedDockerfile, run: Instruction) -> int | None:
    """Offset just past the last command of a RUN whose whole command is one heredoc script
    (`RUN <<EOF` … `EOF`), where `&& more` can go; None when that is not certain: the heredoc feeds
    another program (`RUN python3 <<EOF`), the script is not a shell script, or its last line is
    empty, a comment, continued or ends with an operator."""
    if run.json or len(run.heredocs) != 1 or run.keyword != "RUN" or len(run.value) != 1:
        return None
    if HEREDOC_SCRIPT_RE.fullmatch(run.value[0].strip()) is None:
        return None
    body = run.heredocs[0]
    first = body.lstrip().split("\n", 1)[0]
    if first.startswith("#!") and not SCRIPT_SHEBANG_RE.match(first):
        return None
    lines = parsed.source(run).rstrip("\r\n").split("\n")
    script = lines[1:-1]  # between `RUN <<EOF` and the terminator
    while script and not script[-1].strip():
        script.pop()
    if not script:
        return None
    last = script[-1].rstrip("\r").rstrip()
    if "#" in last or last.endswith(("\\", "&&", "||", "|", "&", ";", "{", "(", "do", "then", "else", "in")):
        return None
    return run.start + sum(len(line) + 1 for line in lines[:1 + len(script) - 1]) + len(last)


def append_edit(parsed: ParsedDockerfile, run: Instruction, command: str) -> Edit | None:
    """`&& command` (or `; ` after a trailing `;`) at the end of a shell-form RUN, or of a RUN's
    heredoc script, when that is unambiguous."""
    if run.heredocs:
        script_end = heredoc_script_end(parsed, run)
        return Edit.insert(script_end, f" && {command}") if script_end is not None else None
    end = command_end(parsed, run)
    if end is None or run.keyword != "RUN":
        return None
    body = parsed.text[run.start:end].rstrip()
    if body.endswith(("&&", "||", "|", "&")):
        return None
    return Edit.insert(end, f" {command}" if body.endswith(";") else f" && {command}")


def last_of(parsed: ParsedDockerfile, stage: Stage, kinds: frozenset[str]) -> Instruction:
    """The stage's last instruction of one of these kinds (its FROM when there is none)."""
    found = parsed.instructions[stage.from_instruction]
    for instruction in parsed.stage_instructions(stage):
        if instruction.keyword in kinds:
            found = instruction
    return found


def keyword_end(parsed: ParsedDockerfile, instruction: Instruction) -> int:
    source = parsed.source(instruction)
    offset = len(source) - len(source.lstrip())
    return instruction.start + offset + len(source.lstrip().split(None, 1)[0])


def insert_before(parsed: ParsedDockerfile, instruction: Instruction, lines: list[str]) -> Edit:
    nl = parsed.newline
    return Edit.insert(parsed.comment_block_start(instruction), "".join(line + nl for line in lines))


def insert_after(parsed: ParsedDockerfile, instruction: Instruction, lines: list[str]) -> Edit:
    nl = parsed.newline
    lead = "" if parsed.text.endswith("\n", 0, instruction.end) else nl
    if instruction.heredocs:
        lead += nl  # hadolint's parser wants a blank line after a heredoc's terminator; BuildKit accepts both
    return Edit.insert(instruction.end, lead + "".join(line + nl for line in lines))


def replace_instruction(parsed: ParsedDockerfile, instruction: Instruction, lines: list[str]) -> Edit:
    """Replace an instruction's whole span (its text up to and including its last newline)."""
    nl = parsed.newline
    tail = nl if parsed.text.endswith("\n", 0, instruction.end) else ""
    return Edit(instruction.start, instruction.end, nl.join(lines) + tail if lines else "")


def runtime_insertion(parsed: ParsedDockerfile, stage: Stage, after: frozenset[str]) -> tuple[Instruction, bool]:
    """Where runtime settings go: before the first CMD/ENTRYPOINT/HEALTHCHECK that follows the last
    instruction of a kind in `after` (True: insert before it), else right after that instruction."""
    members = parsed.stage_instructions(stage)
    anchor = parsed.instructions[stage.from_instruction]
    for instruction in members:
        if instruction.keyword in after:
            anchor = instruction
    for instruction in members:
        if instruction.index > anchor.index and instruction.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK"):
            return instruction, True
    return anchor, False


def insert_at_runtime(parsed: ParsedDockerfile, stage: Stage, after: frozenset[str], lines: list[str]) -> Edit:
    target, before = runtime_insertion(parsed, stage, after)
    return insert_before(parsed, target, lines) if before else insert_after(parsed, target, lines)


def shell_runs(parsed: ParsedDockerfile, stage: Stage) -> list[Instruction]:
    return [i for i in parsed.stage_instructions(stage) if i.keyword == "RUN"]
