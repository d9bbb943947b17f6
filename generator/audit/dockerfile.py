"""Parse a Dockerfile with BuildKit's own parser and keep where every instruction sits in the text.

The text is kept exactly as read (CRLF, escape characters, comments); instructions carry their
line span and character offsets so rules can edit the original text by span and leave every byte
outside the touched instructions alone. Only "\\n" ends a line, as in BuildKit's line counts.

Parser directives (`# syntax=`, `# escape=`, `# check=`) are read here, by BuildKit's current rules
(frontend/dockerfile/parser/directives.go), because the BuildKit inside the `dockerfile` package is
older (it does not know `check`, and trims less whitespace). The package is then handed the text with
the directive lines rewritten to just the escape character, so both agree on where instructions end.

Limits, so that every run takes time linear in the input (BuildKit's parser joins the lines of one
instruction by repeated string concatenation: quadratic in its length) and a clear refusal beyond
what any real Dockerfile needs: MAX_DOCKERFILE_BYTES for a file, MAX_INSTRUCTION_LINES for one
instruction (continuation lines and heredoc bodies). The text goes to BuildKit in chunks, so that its
memory stays bounded by a chunk rather than the file.
"""

from __future__ import annotations

import re
from functools import cached_property

from generator.core.errors import UsageError
from generator.core.record import field
from generator.core.record import record as dataclass

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TypeVar

    T = TypeVar("T")

KNOWN_INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
# 10 MiB: fifty times the largest Dockerfiles in public use (a few hundred KB, generated ones
# included); `check` takes a few seconds there. Anything bigger is not a Dockerfile someone reviews.
MAX_DOCKERFILE_BYTES = 10 * 1024 * 1024
# One instruction of N lines costs BuildKit's parser time proportional to N times its length, so a
# cap on N keeps the whole parse linear in the file. 2,048 lines is far beyond a real RUN or heredoc.
MAX_INSTRUCTION_LINES = 2048
PARSE_CHUNK = 32 * 1024  # characters per BuildKit call: fast (less Go garbage collection) and small
DIRECTIVES = frozenset({"syntax", "escape", "check"})
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"  # Go's unicode.IsSpace, which BuildKit trims with
# BuildKit's directive grammar after `#` and leading space; `\s` in Go's regexp is [\t\n\f\r ].
DIRECTIVE_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*")
HEREDOC_WORD_RE = re.compile(r"\d*<<(-?)([^<]*)")
CLEAN_NAME_RE = re.compile(r"([\"']?)([^\"'\\$]+)\1")  # a name BuildKit's lexer reads as written
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD", "ONBUILD"})


@dataclass(frozen=True)
class Instruction:
    index: int
    keyword: str  # upper case, e.g. "RUN"
    sub_keyword: str | None  # ONBUILD's instruction
    flags: tuple[str, ...]  # e.g. ("--platform=$BUILDPLATFORM",)
    value: tuple[str, ...]  # BuildKit's words (a shell-form command is one word)
    json: bool  # exec form
    heredocs: tuple[str, ...]  # heredoc bodies
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start: int  # offset of the first character of the start line
    end: int  # offset just past the end line (past its "\n" when there is one)
    stage: int  # index of the stage it belongs to; -1 before the first FROM

    @cached_property
    def command(self) -> str:
        """Shell-form command text (continuations joined by BuildKit), heredoc bodies appended."""
        return " ".join((*self.value, *self.heredocs))

    def __hash__(self) -> int:  # its place identifies it; hashing every word would cost its length
        return hash((self.index, self.start, self.end))


@dataclass(frozen=True)
class Stage:
    index: int
    base: str  # image reference or earlier stage name, as written
    name: str | None  # lower case, as BuildKit compares stage names
    from_instruction: int
    instructions: tuple[int, ...]  # indexes of the instructions after FROM, in order


@dataclass(frozen=True)
class ParsedDockerfile:
    origin: str
    text: str
    instructions: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    directives: dict[str, str] = field(hash=False)
    escape: str
    directive_end: int = 0  # offset just past the parser directives (no comment block reaches above it)

    @cached_property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def source(self, instruction: Instruction) -> str:
        return self.text[instruction.start:instruction.end]

    @cached_property
    def _members(self) -> tuple[tuple[Instruction, ...], ...]:
        return tuple(tuple(self.instructions[i] for i in stage.instructions) for stage in self.stages)

    def stage_instructions(self, stage: Stage) -> tuple[Instruction, ...]:
        return self._members[stage.index]

    @cached_property
    def _stage_names(self) -> dict[str, Stage]:
        names: dict[str, Stage] = {}
        for stage in reversed(self.stages):  # the first stage of a name wins
            names[str(stage.index)] = stage
            if stage.name is not None:
                names[stage.name] = stage
        return names

    def stage_named(self, name: str) -> Stage | None:
        return self._stage_names.get(name.lower())

    def parent_stage(self, stage: Stage) -> Stage | None:
        """The earlier stage this one is built FROM, if it is built on a stage rather than an image."""
        parent = self.stage_named(stage.base)
        return parent if parent is not None and parent.index < stage.index else None

    @cached_property
    def _memo(self) -> dict[object, object]:
        return {}

    def remember(self, key: object, compute: Callable[[], T]) -> T:
        """A fact rules ask for again and again (per stage, per name), computed once per parse:
        rules that looked it up for each instruction would be quadratic in the file."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

    def comment_block_start(self, instruction: Instruction) -> int:
        """Offset where the comment lines directly above an instruction begin (its own start if none);
        never above the parser directives, which must stay first."""
        start = instruction.start
        while start > self.directive_end:
            previous = self.text.rfind("\n", 0, start - 1) + 1
            if not self.text[previous:start].lstrip().startswith("#"):
                break
            start = previous
        return max(start, min(self.directive_end, instruction.start))

    def comments_above(self, instruction: Instruction) -> list[str]:
        block = self.text[self.comment_block_start(instruction):instruction.start]
        return [line.strip() for line in block.splitlines()]


def line_offsets(text: str) -> list[int]:
    """Start offset of each line, plus len(text) when the last line has no newline."""
    offsets = [0]
    offsets.extend(match.end() for match in re.finditer("\n", text))
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


def parse_directives(text: str, origin: str = "Dockerfile") -> tuple[dict[str, str], int, int]:
    """BuildKit's parser directives: (name -> value, how many lines they take, offset past them).

    As BuildKit reads them: only at the very top; a line is one when, without leading space, it is
    `#`, optional space and `key=value` with a known key (syntax, escape, check; any case). Anything
    else (a blank line, another comment, an unknown `# key=value`, an instruction) ends them; a
    repeated directive and an escape other than `\\` or `` ` `` are errors.
    """
    found: dict[str, str] = {}
    count = position = 0
    while position < len(text):
        newline = text.find("\n", position)
        end = len(text) if newline < 0 else newline + 1
        line = text[position:end].rstrip("\r\n")
        token = (line.removeprefix("\ufeff") if position == 0 else line).lstrip(GO_SPACE)
        match = DIRECTIVE_RE.fullmatch(token[1:].lstrip(GO_SPACE)) if token.startswith("#") else None
        if match is None or match.group(1).lower() not in DIRECTIVES:
            break
        key = match.group(1).lower()
        if key in found:
            raise UsageError(f"{origin}:{count + 1}: only one {key} parser directive can be used")
        if key == "escape" and match.group(2) not in ("\\", "`"):
            raise UsageError(f"{origin}:{count + 1}: invalid escape token {match.group(2)[:20]!r} (` or \\)")
        found[key] = match.group(2)
        count, position = count + 1, end
    return found, count, position


def _continues(line: str, escape: str) -> bool:
    """The line ends with the escape character (and blanks): BuildKit joins the next one to it. (Also
    for an escaped escape character, which BuildKit does not join: this errs towards longer.)"""
    return line.rstrip("\r\n").rstrip(" \t").endswith(escape)


def _heredoc_end(text: str, position: int, joined: str) -> int | None:
    """Offset past the heredoc bodies of an instruction whose line (continuations joined) is `joined`,
    from `position`: the line after each terminator in turn. Errs towards longer: every word that
    looks like `<<NAME` is taken for a heredoc, and a name BuildKit's shell lexer might read otherwise
    (quotes or escapes inside it) runs to the end of the text. None: no heredoc."""
    words = [w for w in re.split(f"[{GO_SPACE}]+", joined) if "<<" in w]
    found = False
    for word in words:
        match = HEREDOC_WORD_RE.fullmatch(word)
        if match is None or not match.group(2):
            continue
        name = CLEAN_NAME_RE.fullmatch(match.group(2))
        found = True
        if name is None:
            return len(text)
        tabs = r"\t*" if match.group(1) else ""
        terminator = re.compile(rf"^{tabs}{re.escape(name.group(2))}[\r\n]*$", re.MULTILINE)
        hit = terminator.search(text, position)
        if hit is None:
            return len(text)
        newline = text.find("\n", hit.end())
        position = len(text) if newline < 0 else newline + 1
    return position if found else None


def check_instruction_sizes(text: str, start: int, escape: str, origin: str) -> list[tuple[int, int]]:
    """Refuse an instruction longer than MAX_INSTRUCTION_LINES before BuildKit sees it; return where
    the instructions of more than one line are (offsets of their first line and past their last).

    Follows BuildKit's line joining (continuations, comment and blank lines inside them, heredocs)
    from `start`, the offset past the directives, erring towards longer instructions; only lines that
    can start a multi-line instruction (ending with the escape character, or with `<<`) are examined.
    """
    extents: list[tuple[int, int]] = []
    candidates = re.compile(rf"<<|{re.escape(escape)}[ \t\r]*(?:\n|$)")
    done = start  # everything before is accounted for
    for hit in candidates.finditer(text, start):
        if hit.start() < done:
            continue
        first = text.rfind("\n", 0, hit.start()) + 1
        if first < done:
            continue
        position, pieces = first, list[str]()
        while position < len(text):  # the instruction's line, continuations joined
            newline = text.find("\n", position)
            end = len(text) if newline < 0 else newline + 1
            line = text[position:end]
            stripped = line.lstrip(GO_SPACE)
            position = end
            if not stripped or stripped.startswith("#"):
                if pieces:
                    continue  # skipped inside a continuation
                break  # a comment or blank line: not an instruction at all
            continued = _continues(line, escape)
            body = line.rstrip("\r\n")
            pieces.append(body.rstrip(" \t")[:-1] if continued else body)  # as BuildKit joins them
            if not continued:
                break
        if not pieces:
            done = position
            continue
        joined = "".join(pieces).lstrip(GO_SPACE)
        keyword = joined.split(None, 1)[0].upper() if joined.strip() else ""
        if keyword in HEREDOC_KEYWORDS and "<<" in joined:
            position = _heredoc_end(text, position, joined) or position
        lines = text.count("\n", first, position) + (0 if text.endswith("\n", first, position) else 1)
        if lines > MAX_INSTRUCTION_LINES:
            raise UsageError(f"{origin}:{text.count(chr(10), 0, first) + 1}: an instruction longer than "
                             f"{MAX_INSTRUCTION_LINES} lines (continuations and heredocs); hardcase refuses it, "
                             "as BuildKit's parser slows down with the square of its length: split it, or COPY a "
                             "long script from a file")
        if lines > 1:
            extents.append((first, position))
        done = position
    return extents


def _buildkit(text: str, head: str, start: int, offsets: list[int], escape: str,
              extents: list[tuple[int, int]]) -> Iterator[tuple[Any, int]]:
    """BuildKit's commands for the text, with the number to add to their line numbers.

    The text goes in chunks of PARSE_CHUNK characters cut at line ends. BuildKit reads a file line by
    line, so every command of a chunk but the last is exactly what it finds in the whole text; the
    last may be cut short, and the next chunk starts with it. Later chunks begin with one comment line
    (the escape directive where it is a backtick) so that none of their lines can act as a directive.
    `head` replaces the text before `start` (the directive lines) in the first chunk. A chunk that would
    end inside one of the `extents` (multi-line instructions) goes on to the line after it.
    """
    import bisect

    import dockerfile

    size = PARSE_CHUNK
    line = 0  # lines before the chunk
    prefix = "# escape=`\n" if escape == "`" else "#\n"
    while True:
        target = start + size
        inside = bisect.bisect_right(extents, (target, len(text))) - 1
        if inside >= 0 and extents[inside][0] <= target < extents[inside][1]:
            target = extents[inside][1]
        cut = text.find("\n", target)
        final = cut < 0 or cut + 1 >= len(text)
        end = len(text) if final else cut + 1
        shift = 0 if line == 0 else line - 1
        chunk = (head if line == 0 else prefix) + text[start:end]
        try:
            commands = dockerfile.parse_string(chunk)
        except dockerfile.GoParseError:
            if final:
                raise
            size *= 2  # the cut may have made the error (a heredoc without its end): read further
            continue
        if final:
            yield from ((command, shift) for command in commands)
            return
        if len(commands) < 2:
            size *= 2
            continue
        yield from ((command, shift) for command in commands[:-1])
        line = commands[-1].start_line + shift - 1
        start, size = offsets[line], PARSE_CHUNK


def parse(text: str, origin: str = "Dockerfile") -> ParsedDockerfile:
    import dockerfile

    if len(text) > MAX_DOCKERFILE_BYTES:  # characters: each is at least one byte
        raise UsageError(f"{origin}: larger than the {MAX_DOCKERFILE_BYTES // 2**20} MiB hardcase reads "
                         "(no Dockerfile someone reviews is that big)")
    if "\x00" in text:
        # The parser gets a C string: it would silently stop at the NUL and drop the rest of the file.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UsageError(f"{origin}:{line}: NUL byte in the Dockerfile (not a text file)")
    directives, count, directive_end = parse_directives(text, origin)
    escape = directives.get("escape", "\\")
    extents = check_instruction_sizes(text, directive_end, escape, origin)
    offsets = line_offsets(text)
    # The directive lines as the older BuildKit in the package reads the same escape from them.
    head = "".join(("# escape=`" if i == 0 and escape == "`" else "#") + "\n" for i in range(count))
    if count and not text.endswith("\n", 0, directive_end):
        head = head[:-1]
    try:
        commands = list(_buildkit(text, head, directive_end, offsets, escape, extents))
    except dockerfile.GoParseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise UsageError(f"{origin}: cannot parse Dockerfile ({first})") from None
    except UnicodeDecodeError:  # the binding cuts some multi-byte characters it hands back
        raise UsageError(f"{origin}: cannot parse Dockerfile (the parser garbled a non-ASCII character)") from None
    return _assemble(text, origin, commands, offsets, directives, escape, directive_end)


def _assemble(text: str, origin: str, commands: list[tuple[Any, int]], offsets: list[int],
              directives: dict[str, str], escape: str, directive_end: int) -> ParsedDockerfile:
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    members: list[list[int]] = []
    last = len(offsets) - 1
    new = object.__new__
    for index, (command, shift) in enumerate(commands):
        start_line = command.start_line + shift
        if command.cmd is None:  # a line continuation with nothing to continue (`\` alone)
            raise UsageError(f"{origin}:{start_line}: line continuation without an instruction")
        keyword = command.cmd.upper()
        if keyword not in KNOWN_INSTRUCTIONS:
            raise UsageError(f"{origin}:{start_line}: unknown instruction {command.cmd[:40]!r}")
        if keyword == "FROM":
            if not command.value:
                raise UsageError(f"{origin}:{start_line}: FROM needs an image")
            words = command.value
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), words[0], name, index, ()))
            members.append([])
        elif members:
            members[-1].append(index)
        end_line = min(command.end_line + shift, last)
        # Built without the generated __init__ (one call per field): parse makes one per instruction.
        instruction = new(Instruction)
        instruction.__dict__.update({
            "index": index, "keyword": keyword, "sub_keyword": command.sub_cmd.upper() if command.sub_cmd else None,
            "flags": command.flags, "value": command.value, "json": command.json,
            "heredocs": tuple(h.content for h in command.heredocs) if command.heredocs else (),
            "start_line": start_line, "end_line": end_line, "start": offsets[start_line - 1],
            "end": offsets[end_line], "stage": len(stages) - 1})
        instructions.append(instruction)
    if not stages:
        raise UsageError(f"{origin}: no FROM instruction")
    stages = [Stage(s.index, s.base, s.name, s.from_instruction, tuple(m))
              for s, m in zip(stages, members, strict=True)]
    return ParsedDockerfile(origin, text, tuple(instructions), tuple(stages), directives, escape, directive_end)
