"""What the package-manager rules share (packages_apt, packages_apk_yum, packages_lang): the simple
commands of a RUN, which tool and verb a command runs, and edits that add a flag after the verb or
a cleanup after the command."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety
from generator.audit.rules._support import append_edit, comment_free

SEGMENT_SPLIT_RE = re.compile(r"&&|\|\||;|\|")


def segments(command: str) -> list[list[str]]:
    """Simple commands of a shell command line, as word lists (quotes are not interpreted). A
    newline ends a command too: BuildKit has already joined continuation lines of a shell-form
    command, so newlines left are those of heredoc scripts (whose own continuations are joined here)."""
    joined = re.sub(r"\\\r?\n", " ", command)
    return [part.split() for part in SEGMENT_SPLIT_RE.split(joined.replace("\n", ";")) if part.split()]


def _invokes(words: list[str], tool: tuple[str, ...], verb: tuple[str, ...]) -> bool:
    """`words` runs `tool … verb` (e.g. apt-get -q install), skipping env assignments, sudo and options."""
    rest = [w for w in words if "=" not in w or w.startswith("-")]
    while rest and rest[0] in ("sudo", "env", "exec", "command"):
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] in ("python", "python3") and rest[1:3] == ["-m", "pip"]:
        rest = rest[2:]
    if not rest or rest[0].rsplit("/", 1)[-1] not in tool:
        return False
    operands = [w for w in rest[1:] if not w.startswith("-")]
    return bool(operands) and operands[0] in verb


def _sep(parsed: ParsedDockerfile) -> str:
    return rf"(?:[ \t]|{re.escape(parsed.escape)}\r?\n|\r?\n)+"


def _insert_after_verb(parsed: ParsedDockerfile, instruction: Instruction, tool: str, verb: str, flag: str,
                       present: Callable[[str], bool]) -> Fix | None:
    """Insert ` flag` after every `tool [options] verb` in the instruction that lacks it."""
    source = comment_free(parsed, instruction)
    sep = _sep(parsed)
    edits = []
    for match in re.finditer(rf"(?<![\w/.-]){tool}((?:{sep}-[\w=.:/-]+)*){sep}{verb}(?![\w-])", source):
        tail = SEGMENT_SPLIT_RE.split(source[match.end():], maxsplit=1)[0]
        if not present(match.group(0) + tail):
            edits.append(Edit.insert(instruction.start + match.end(), f" {flag}"))
    return Fix(tuple(edits), SAFETY[flag], f"added {flag}") if edits else None


def _runs(parsed: ParsedDockerfile) -> Iterator[Instruction]:
    yield from (i for i in parsed.instructions if i.keyword == "RUN")


def _cache_mount(instruction: Instruction, target: str) -> bool:
    return any("type=cache" in f and target in f for f in instruction.flags)


def _append(parsed: ParsedDockerfile, run: Instruction, command: str, note: str) -> Fix | None:
    edit = append_edit(parsed, run, command)
    return Fix((edit,), FixSafety.SAFE, note) if edit else None


SAFETY = {"--no-install-recommends": FixSafety.NEEDS_REVIEW, "--no-cache": FixSafety.SAFE,
          "--no-cache-dir": FixSafety.SAFE}
