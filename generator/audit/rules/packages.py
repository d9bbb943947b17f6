"""What the package-manager rules share (packages_apt, packages_apk_yum, packages_lang): the simple
commands of a RUN, which tool and verb a command runs, and edits that add a flag after the verb or
a cleanup after the command."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety
from generator.audit.rules._support import append_edit, comment_free

SEGMENT_SPLIT_RE = re.compile(r"&&|\|\||;|\|")
CONTINUATION_RE = re.compile(r"\\\r?\n")
WRAPPERS = frozenset({"sudo", "env", "exec", "command"})


class Words(list[str]):
    """The words of one simple command, with the program it runs (basename, "" for none) and its
    first operand (the verb: `install`): found once, since every package rule asks each command of
    each RUN whether it runs its tool with its verb."""

    __slots__ = ("program", "verb")

    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        rest = [w for w in words if "=" not in w or w.startswith("-")]  # env assignments, anywhere
        rest = rest[next((i for i, w in enumerate(rest) if w not in WRAPPERS), len(rest)):]  # then wrappers
        if len(rest) >= 2 and rest[0] in ("python", "python3") and rest[1:3] == ["-m", "pip"]:
            rest = rest[2:]
        self.program = rest[0].rsplit("/", 1)[-1] if rest else ""
        self.verb = next((w for w in rest[1:] if not w.startswith("-")), "")


@functools.lru_cache(maxsize=1 << 16)
def segments(command: str) -> list[Words]:
    """Simple commands of a shell command line, as word lists (quotes are not interpreted). A
    newline ends a command too: BuildKit has already joined continuation lines of a shell-form
    command, so newlines left are those of heredoc scripts (whose own continuations are joined here).
    Cached: a dozen rules ask for the same RUN's commands (callers must not change the lists)."""
    joined = CONTINUATION_RE.sub(" ", command) if "\n" in command else command
    return [Words(words) for part in SEGMENT_SPLIT_RE.split(joined.replace("\n", ";")) if (words := part.split())]



def _invokes(words: list[str], tool: tuple[str, ...], verb: tuple[str, ...]) -> bool:
    """`words` runs `tool … verb` (e.g. apt-get -q install), skipping env assignments, sudo and options."""
    command = words if isinstance(words, Words) else Words(words)
    return command.program in tool and bool(command.verb) and command.verb in verb


def _sep(parsed: ParsedDockerfile) -> str:
    return rf"(?:[ \t]|{re.escape(parsed.escape)}\r?\n|\r?\n)+"


def _insert_after_verb(parsed: ParsedDockerfile, instruction: Instruction, tool: str, verb: str, flag: str,
                       present: tuple[str, ...]) -> Fix | None:
    """Insert ` flag` after every `tool [options] verb` in the instruction whose simple command (from
    the tool on) contains none of the PRESENT strings."""
    source = comment_free(parsed, instruction)
    sep = _sep(parsed)
    ends = SegmentEnds(source)
    found = [[m.start() for m in re.finditer(re.escape(text), source)] for text in present]
    edits = []
    for match in re.finditer(rf"(?<![\w/.-]){tool}((?:{sep}-[\w=.:/-]+)*){sep}{verb}(?![\w-])", source):
        end = ends.after(match.end())
        if not any(_occurs(starts, len(text), match.start(), end) for starts, text in zip(found, present, strict=True)):
            edits.append(Edit.insert(instruction.start + match.end(), f" {flag}"))
    return Fix(tuple(edits), SAFETY[flag], f"added {flag}") if edits else None


def _occurs(starts: list[int], length: int, begin: int, end: int) -> bool:
    """One of the occurrences (sorted STARTS of a string of LENGTH) lies within [BEGIN, END)."""
    position = bisect.bisect_left(starts, begin)
    return position < len(starts) and starts[position] + length <= end


class SegmentEnds:
    """Where the simple command that goes on at an offset ends (`&&`, `||`, `;`, `|` or the end),
    for many offsets of one text: its separators are found once, where a search from each offset would
    read the rest of a long command again every time. Offsets must follow a word character."""

    def __init__(self, source: str) -> None:
        self.length = len(source)
        self.starts = [m.start() for m in SEGMENT_SPLIT_RE.finditer(source)]

    def after(self, start: int) -> int:
        position = bisect.bisect_left(self.starts, start)
        return self.starts[position] if position < len(self.starts) else self.length


def _runs(parsed: ParsedDockerfile) -> Iterator[Instruction]:
    yield from (i for i in parsed.instructions if i.keyword == "RUN")


def _cache_mount(instruction: Instruction, target: str) -> bool:
    return any("type=cache" in f and target in f for f in instruction.flags)


def _append(parsed: ParsedDockerfile, run: Instruction, command: str, note: str) -> Fix | None:
    edit = append_edit(parsed, run, command)
    return Fix((edit,), FixSafety.SAFE, note) if edit else None


SAFETY = {"--no-install-recommends": FixSafety.NEEDS_REVIEW, "--no-cache": FixSafety.SAFE,
          "--no-cache-dir": FixSafety.SAFE}
