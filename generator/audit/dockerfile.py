"""Parse a Dockerfile with BuildKit's own parser and keep where every instruction sits in the text.

The text is kept exactly as read (CRLF, escape characters, comments); instructions carry their
line span and character offsets so rules can edit the original text by span and leave every byte
outside the touched instructions alone. Only "\\n" ends a line, as in BuildKit's line counts.
"""

from __future__ import annotations

import re
from functools import cached_property

from generator.core.errors import UsageError
from generator.core.record import field
from generator.core.record import record as dataclass

KNOWN_INSTRUCTIONS = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
})
DIRECTIVE_RE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S.*?)\s*$")


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

    @property
    def command(self) -> str:
        """Shell-form command text (continuations joined by BuildKit), heredoc bodies appended."""
        return " ".join((*self.value, *self.heredocs))


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

    @cached_property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text else "\n"

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def source(self, instruction: Instruction) -> str:
        return self.text[instruction.start:instruction.end]

    def stage_instructions(self, stage: Stage) -> list[Instruction]:
        return [self.instructions[i] for i in stage.instructions]

    def stage_named(self, name: str) -> Stage | None:
        for stage in self.stages:
            if stage.name == name.lower() or str(stage.index) == name:
                return stage
        return None

    def parent_stage(self, stage: Stage) -> Stage | None:
        """The earlier stage this one is built FROM, if it is built on a stage rather than an image."""
        parent = self.stage_named(stage.base)
        return parent if parent is not None and parent.index < stage.index else None

    def comment_block_start(self, instruction: Instruction) -> int:
        """Offset where the comment lines directly above an instruction begin (its own start if none)."""
        start = instruction.start
        while start > 0:
            previous = self.text.rfind("\n", 0, start - 1) + 1
            if not self.text[previous:start].lstrip().startswith("#"):
                break
            if previous == 0 and DIRECTIVE_RE.match(self.text[previous:start].strip()):
                break
            start = previous
        return start

    def comments_above(self, instruction: Instruction) -> list[str]:
        block = self.text[self.comment_block_start(instruction):instruction.start]
        return [line.strip() for line in block.splitlines()]


def line_offsets(text: str) -> list[int]:
    """Start offset of each line, plus len(text) when the last line has no newline."""
    offsets = [0]
    position = text.find("\n")
    while position >= 0:
        offsets.append(position + 1)
        position = text.find("\n", position + 1)
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


def _directives(text: str) -> dict[str, str]:
    """Parser directives: `# key=value` lines at the very top, before any other line (as BuildKit)."""
    found: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():
        match = DIRECTIVE_RE.match(line.strip())
        if not match or match.group(1).lower() in found:
            break
        found[match.group(1).lower()] = match.group(2)
    return found


def parse(text: str, origin: str = "Dockerfile") -> ParsedDockerfile:
    import dockerfile

    if "\x00" in text:
        # The parser gets a C string: it would silently stop at the NUL and drop the rest of the file.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UsageError(f"{origin}:{line}: NUL byte in the Dockerfile (not a text file)")
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"
        raise UsageError(f"{origin}: cannot parse Dockerfile ({first})") from None
    except UnicodeDecodeError:  # the binding cuts some multi-byte characters it hands back
        raise UsageError(f"{origin}: cannot parse Dockerfile (the parser garbled a non-ASCII character)") from None
    offsets = line_offsets(text)
    instructions: list[Instruction] = []
    stages: list[Stage] = []
    members: list[list[int]] = []
    for index, command in enumerate(commands):
        if command.cmd is None:  # a line continuation with nothing to continue (`\` alone)
            raise UsageError(f"{origin}:{command.start_line}: line continuation without an instruction")
        keyword = command.cmd.upper()
        if keyword not in KNOWN_INSTRUCTIONS:
            raise UsageError(f"{origin}:{command.start_line}: unknown instruction {command.cmd[:40]!r}")
        if keyword == "FROM":
            if not command.value:
                raise UsageError(f"{origin}:{command.start_line}: FROM needs an image")
            words = command.value
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), words[0], name, index, ()))
            members.append([])
        elif members:
            members[-1].append(index)
        end_line = min(command.end_line, len(offsets) - 1)
        instructions.append(Instruction(
            index=index, keyword=keyword, sub_keyword=command.sub_cmd.upper() if command.sub_cmd else None,
            flags=tuple(command.flags), value=tuple(command.value), json=bool(command.json),
            heredocs=tuple(h.content for h in command.heredocs),
            start_line=command.start_line, end_line=end_line,
            start=offsets[command.start_line - 1], end=offsets[end_line],
            stage=len(stages) - 1,
        ))
    if not stages:
        raise UsageError(f"{origin}: no FROM instruction")
    stages = [Stage(s.index, s.base, s.name, s.from_instruction, tuple(m))
              for s, m in zip(stages, members, strict=True)]
    directives = _directives(text)
    escape = directives.get("escape", "\\")
    return ParsedDockerfile(origin, text, tuple(instructions), tuple(stages), directives,
                            escape if escape in ("\\", "`") else "\\")
