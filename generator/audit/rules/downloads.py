"""What RUN downloads: scripts piped straight into a shell, wget's progress output.

Both read long commands in linear time: each download or wget is matched once, and what follows it
in its simple command is looked up in lists made once per command, not read again from every match.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from generator.audit.dockerfile import ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import HEREDOC_SCRIPT_RE, command_start, comment_free, family, image_of
from generator.core.imageref import image_name, image_tag

# A download piped into a shell (any arguments) or an interpreter reading its program from stdin (no
# arguments, `-` or `--`). Two linear steps: a download up to the next `|`, `;` or `&` (matches never
# overlap; one pattern would rescan the rest of the command from every `curl`), then what the pipe feeds.
DOWNLOAD_RE = re.compile(r"\b(?:curl|wget)\b[^|;&]*")
PIPED_SHELL_RE = re.compile(
    r"\|\s*(?:sudo\s+(?:-[A-Za-z]+\s+|--preserve-env\S*\s+)*)?(?:env\s+)?"
    r"(?:/(?:usr/)?(?:local/)?bin/)?"
    r"(?:(?:ba|z|da|k)?sh\b|(?:python[\d.]*|php[\d.]*|perl|ruby|node)(?=[ \t]*(?:$|--?(?:\s|$)|[;&|)\n])))")


def pipes_to_shell(command: str) -> bool:
    """A download (curl, wget) piped straight into a shell or an interpreter reading its program from stdin."""
    return any(PIPED_SHELL_RE.match(command, download.end()) for download in DOWNLOAD_RE.finditer(command))



def check_pipe_to_shell(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for downloads piped straight into a shell or an interpreter that runs what it reads
    (`curl … | sh`, `wget -O- … | sudo -E bash -`, `curl … | python3 -`, `| php`, `| perl`, `| ruby`).

    Why is this bad?
    The script is executed as root without being verified; whoever controls the server (or the
    network path) controls the build.

    Example:
    ```dockerfile
    RUN curl -fsSL https://example.com/install.sh | sh
    ```

    Use instead:
    ```dockerfile
    RUN curl -fsSLo /tmp/install.sh https://example.com/install.sh \\
     && echo "4f6b…  /tmp/install.sh" | sha256sum -c - && sh /tmp/install.sh
    ```

    Fix safety:
    Not fixable: the expected checksum is not known to hardcase.
    """
    for run in parsed.instructions:
        if run.keyword == "RUN" and pipes_to_shell(run.command):
            yield PIPE_TO_SHELL.violation(run.start_line, instruction=run.index)


WGET_RE = re.compile(r"(?<![\w/.-])wget(?=[ \t])")
# Words before a command name that still leave it in command position.
COMMAND_POSITION_RE = re.compile(
    r"(?:^|&&|\|\||[;|(\n])[ \t]*(?:(?:sudo|exec|command|env|time)[ \t]+|[A-Za-z_]\w*=\S*[ \t]+)*$")
WGET_QUIET_RE = re.compile(r"^(?:--progress\b|--quiet$|--no-verbose$|-nv$|-[a-zA-Z]*q)")
WORD_QUIET_RE = re.compile(WGET_QUIET_RE.pattern[1:])  # for match(text, start, end): `^` holds only at 0


def _wget_quiet(words: list[str]) -> bool:
    return any(WGET_QUIET_RE.match(w) for w in words)


def _wget_segments(command: str) -> Iterator[list[str]]:
    from generator.audit.rules.packages import segments

    for words in segments(command):
        rest = [w for w in words if "=" not in w or w.startswith("-")]
        rest = rest[next((i for i, w in enumerate(rest) if w not in ("sudo", "env", "exec", "command", "time")),
                         len(rest)):]  # one slice: dropping one word at a time is quadratic in the words
        if rest and rest[0].rsplit("/", 1)[-1] == "wget":
            yield rest


def _command_position(source: str, offset: int, at: int, continuation: re.Pattern[str]) -> bool:
    """The word at AT is in command position: after the start (OFFSET), an operator, or only wrapper
    words and assignments. Read from at most 512 characters back (linear in a long command with many
    matches; a longer run of assignments counts as no command position)."""
    start = max(offset, at - 512)
    before = continuation.sub(" ", source[start:at])
    return COMMAND_POSITION_RE.search(before if start == offset else "\0" + before) is not None


def check_wget_progress(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `wget` in `RUN` is called with `--progress=dot:giga` (or `-q`, `-nv`).

    Why is this bad?
    Without a terminal, wget's progress bar prints a line for every fraction of a percent: a large
    download floods the build log with thousands of lines and hides the errors that matter.

    Example:
    ```dockerfile
    RUN wget https://example.com/tool.tar.gz
    ```

    Use instead:
    ```dockerfile
    RUN wget --progress=dot:giga https://example.com/tool.tar.gz
    ```

    Fix safety:
    Safe: `--progress=dot:giga` only changes how GNU wget reports progress (errors are still
    printed, unlike with `-q`). Applied on Debian/Ubuntu images and RHEL-family images up to
    version 9, which ship GNU wget 1.x; busybox wget (Alpine) does not know the option and newer
    Fedora/RHEL ship wget2, so those are reported only.
    """
    for run in parsed.instructions:
        if run.keyword == "RUN" and not run.json and any(not _wget_quiet(w) for w in _wget_segments(run.command)):
            yield WGET_PROGRESS.violation(run.start_line, instruction=run.index)


def _gnu_wget(parsed: ParsedDockerfile, stage: int) -> bool:
    kind = family(parsed, parsed.stages[stage])
    if kind == "debian":
        return True
    if kind != "rhel":
        return False
    ref = image_of(parsed, parsed.stages[stage]).lower()
    version = re.search(r"\d+", f"{image_name(ref).rsplit('/', 1)[-1]} {image_tag(ref) or ''}")
    return version is not None and int(version.group(0)) <= 9


def fix_wget_progress(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    from generator.audit.rules.packages import SegmentEnds

    run = parsed.instructions[violation.instruction]
    if run.stage < 0 or not _gnu_wget(parsed, run.stage):
        return None
    if run.heredocs and not (len(run.value) == 1 and HEREDOC_SCRIPT_RE.fullmatch(run.value[0].strip())):
        return None
    begin = command_start(parsed, run)
    if begin is None:
        return None
    source = comment_free(parsed, run)
    offset = begin - run.start
    if run.heredocs:  # the script starts on the line after `RUN <<EOF`
        offset = source.find("\n", offset) + 1 or len(source)
    continuation = re.compile(rf"{re.escape(parsed.escape)}\r?\n")
    # The rest of each wget command is read from lists made once (continuations blanked to the same
    # length), not by rereading the rest of a long command from every wget.
    flat = continuation.sub(lambda m: " " * len(m.group(0)), source)
    ends = SegmentEnds(flat)
    lines = [m.start() for m in re.finditer(r"(?<!\\)\n", source)] if run.heredocs else []
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", flat)]
    quiet = [(start, end) for start, end in words if WORD_QUIET_RE.match(flat, start, end)]
    edits = []
    for match in WGET_RE.finditer(source, offset):
        if not _command_position(source, offset, match.start(), continuation):
            continue
        end = ends.after(match.end())
        if lines:  # a heredoc script's command ends with its line
            line = bisect.bisect_left(lines, match.end())
            end = min(end, lines[line] if line < len(lines) else end)
        first = bisect.bisect_left(quiet, (match.end(), -1))
        crossing = bisect.bisect_left(words, (end, -1)) - 1  # a word the end cuts short counts as cut
        if not ((first < len(quiet) and quiet[first][1] <= end) or (
                crossing >= 0 and words[crossing][0] >= match.end() and words[crossing][1] > end
                and WORD_QUIET_RE.match(flat, words[crossing][0], end))):
            edits.append(Edit.insert(run.start + match.end(), " --progress=dot:giga"))
    return Fix(tuple(edits), FixSafety.SAFE, "added --progress=dot:giga") if edits else None


PIPE_TO_SHELL = Rule("HC052", "download-piped-to-shell", Severity.WARNING, "download piped into a shell", None, None,
                     check_pipe_to_shell)
WGET_PROGRESS = Rule("HC056", "wget-progress-bar", Severity.STYLE, "wget without --progress=dot:giga", None, "DL3047",
                     check_wget_progress, fix_wget_progress, FixSafety.SAFE)
RULES = (PIPE_TO_SHELL, WGET_PROGRESS)
