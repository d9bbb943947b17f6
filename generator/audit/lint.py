"""The check engine: run every rule, then drop what the user suppressed.

Suppression is the engine's job, never a rule's:
- inline, a comment line directly above an instruction: `# hardcase ignore=HC001,HC030`
  (applies to findings on that instruction);
- per project, `.hardcase-check.yaml` (found in the working directory or a parent; `--config FILE`
  names one): `ignore: [HC011, HC064]`.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
import re
from collections.abc import Iterable

from generator.audit.dockerfile import ParsedDockerfile
from generator.audit.model import Rule, Severity, Violation
from generator.audit.registry import rule_for
from generator.audit.rules import RULE_BY_ID, RULES
from generator.core.errors import UsageError, read_user_text
from generator.core.record import field
from generator.core.record import record as dataclass
from generator.core.walk import files_below

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing (or pathlib) at all
if TYPE_CHECKING:
    from pathlib import Path

CONFIG_NAME = ".hardcase-check.yaml"
DOCKERFILE_PATTERNS = ("Dockerfile", "*.Dockerfile", "Dockerfile.*")
BACKUP_SUFFIX = ".hardcase.bak"
IGNORE_RE = re.compile(r"^#\s*hardcase\s+ignore\s*=\s*([A-Za-z0-9_, ]+)\s*$")
HARDCASE_COMMENT_RE = re.compile(r"^[^\S\n]*#[^\n]*hardcase", re.MULTILINE)


@dataclass(frozen=True)
class Config:
    ignore: frozenset[str] = field(default_factory=frozenset)
    select: frozenset[str] | None = None  # only these rules (tests and `--select`)

    def enabled(self, rule: Rule) -> bool:
        return rule.id not in self.ignore and (self.select is None or rule.id in self.select)


def _inline_ignores(parsed: ParsedDockerfile) -> dict[int, set[str]]:
    """Line number → rule IDs suppressed there, for every line of every commented instruction.

    Only the instructions right after a line that mentions `hardcase` are looked at (one scan of the
    text, then a binary search each), not the comment block of every instruction."""
    ignored: dict[int, set[str]] = {}
    starts = [i.start for i in parsed.instructions]
    candidates = {bisect.bisect_left(starts, mention.start()) for mention in HARDCASE_COMMENT_RE.finditer(parsed.text)}
    for index in sorted(candidates):
        if index >= len(parsed.instructions):
            continue
        instruction = parsed.instructions[index]
        ids: set[str] = set()
        for comment in parsed.comments_above(instruction):
            match = IGNORE_RE.match(comment)
            if match:
                ids.update(part.strip().upper() for part in match.group(1).split(",") if part.strip())
        if ids:
            for line in range(instruction.start_line, instruction.end_line + 1):
                ignored.setdefault(line, set()).update(ids)
    return ignored


def check(parsed: ParsedDockerfile, config: Config, with_fixes: bool = False) -> list[Violation]:
    """Findings in rule order, then line order; with fixes attached when asked (harden)."""
    ignored = _inline_ignores(parsed)
    found: list[Violation] = []
    for rule in RULES:
        if not config.enabled(rule):
            continue
        for violation in sorted(rule.check(parsed), key=lambda v: (v.line, v.column or 0)):
            if violation.rule_id in ignored.get(violation.line, ()):
                continue
            if with_fixes and rule.fix is not None:
                violation = Violation(violation.rule_id, violation.line, violation.message, violation.column,
                                      violation.instruction, rule.fix(parsed, violation))
            found.append(violation)
    return found


def at_least(violations: Iterable[Violation], severity: Severity) -> list[Violation]:
    violations = list(violations)
    ranks: dict[str, int] = {}  # one look-up per rule, not per finding (a big file has tens of thousands)
    for v in violations:
        if v.rule_id not in ranks:
            ranks[v.rule_id] = rule_for(v.rule_id).severity.rank
    return [v for v in violations if ranks[v.rule_id] >= severity.rank]


def load_config(explicit: str | os.PathLike[str] | None, start: str | os.PathLike[str]) -> Config:
    path = os.fspath(explicit) if explicit is not None else None
    if path is None:
        directory = os.path.realpath(start)
        while True:
            if os.path.isfile(os.path.join(directory, CONFIG_NAME)):
                path = os.path.join(directory, CONFIG_NAME)
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    if path is None:
        return Config()
    from pathlib import Path

    from generator.core.yamlio import load_yaml_file

    data = load_yaml_file(Path(path)) or {}
    if not isinstance(data, dict) or set(data) - {"ignore"}:
        raise UsageError(f"{path}: expected a mapping with one key, `ignore`")
    ignore = data.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
        raise UsageError(f"{path}: `ignore` must be a list of rule IDs")
    unknown = sorted(set(ignore) - set(RULE_BY_ID))
    if unknown:
        from generator.audit.compose_rules import COMPOSE_RULE_BY_ID

        unknown = sorted(set(unknown) - set(COMPOSE_RULE_BY_ID))
    if unknown:
        raise UsageError(f"{path}: unknown rule ID(s) {', '.join(unknown)}")
    return Config(ignore=frozenset(ignore))


def _is_dockerfile(path: Path) -> bool:
    return not path.name.endswith(BACKUP_SUFFIX) and any(fnmatch.fnmatch(path.name, p) for p in DOCKERFILE_PATTERNS)


def _is_checked(path: Path) -> bool:
    from generator.audit.compose import is_compose_name

    return _is_dockerfile(path) or (not path.name.endswith(BACKUP_SUFFIX) and is_compose_name(path.name))


def discover(paths: list[Path]) -> list[Path]:
    """Files named on the command line, and the Dockerfiles and compose files found below directories
    (hidden dirs skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(files_below(path, _is_checked))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    return found


def read_dockerfile(path: str | os.PathLike[str]) -> ParsedDockerfile:
    """Read and parse a Dockerfile; one larger than MAX_DOCKERFILE_BYTES is refused before it is read."""
    from generator.audit.dockerfile import MAX_DOCKERFILE_BYTES, parse

    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except OSError:
        size = 0  # read_user_text says why it cannot be read
    if size > MAX_DOCKERFILE_BYTES:
        raise UsageError(f"{name}: {size / 2**20:.1f} MiB, larger than the {MAX_DOCKERFILE_BYTES // 2**20} MiB "
                         "hardcase reads (no Dockerfile someone reviews is that big)")
    text = read_user_text(name)
    if len(text.encode("utf-8")) > MAX_DOCKERFILE_BYTES:  # it grew after the check
        raise UsageError(f"{name}: larger than the {MAX_DOCKERFILE_BYTES // 2**20} MiB hardcase reads")
    return parse(text, name)
