"""Language package managers (pip, npm, yarn): install what the lockfile says, keep no caches in a layer."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile, Stage
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import append_edit, comment_free, first_before, image_of, of_kind
from generator.audit.rules.packages import (
    SegmentEnds,
    _cache_mount,
    _insert_after_verb,
    _invokes,
    _runs,
    _sep,
    segments,
)
from generator.core.imageref import image_name, image_tag


def check_pip_cache(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `pip install` is called with `--no-cache-dir` (or with `PIP_NO_CACHE_DIR` set, or a
    cache mount).

    Why is this bad?
    pip's download and wheel cache is written into the layer and shipped with the image.

    Example:
    ```dockerfile
    RUN pip install -r requirements.txt
    ```

    Use instead:
    ```dockerfile
    RUN pip install --no-cache-dir -r requirements.txt
    ```

    Fix safety:
    Safe: the same packages are installed; only the cache is not kept.
    """
    disabled = any(i.keyword in ("ENV", "ARG") and "PIP_NO_CACHE_DIR" in " ".join(i.value) for i in parsed.instructions)
    for run in _runs(parsed):
        if disabled or _cache_mount(run, ".cache/pip"):
            continue
        for words in segments(run.command):
            if _invokes(words, ("pip", "pip3"), ("install",)) and "--no-cache-dir" not in words:
                yield PIP_CACHE.violation(run.start_line, instruction=run.index)
                break


def fix_pip_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, r"pip3?", "install", "--no-cache-dir", ("--no-cache-dir",))


LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
RUNS = frozenset({"RUN"})
WORD_RE = re.compile(r"\S+")
NPM_INSTALL_RE = r"(?<![\w/.-])npm((?:{sep}-[\w=.:/@-]+)*){sep}(install|i)(?![\w-])"
BUILD_TOOLS_RE = re.compile(r"\bnpm\s+run\b|\bnpx\b|\byarn\b|node_modules/\.bin|\bnpm\s+(?:test|start)\b")


def _npm_install_all(words: Iterable[str]) -> bool:
    """`npm install` of the whole package.json: no package operands, not global. Env assignments are
    left out and wrappers before npm skipped; stops at the second operand."""
    program, operand, count = None, "", 0
    for word in words:
        if "=" in word and not word.startswith("-"):
            continue
        if program is None:
            if word not in ("sudo", "env", "exec", "command"):
                program = word
                if program.rsplit("/", 1)[-1] != "npm":
                    return False
        elif word in ("-g", "--global"):
            return False
        elif not word.startswith("-"):
            operand, count = word, count + 1
            if count > 1:
                return False
    return count == 1 and operand in ("install", "i")


def check_npm_ci(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for `npm install` of a whole project (no package names) instead of `npm ci`.

    Why is this bad?
    `npm install` may resolve newer versions than the lockfile records and rewrites it: the image
    gets dependencies nobody reviewed. `npm ci` installs exactly the lockfile, and `--omit=dev`
    keeps test and build tools out of the runtime image (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    COPY package.json package-lock.json ./
    RUN npm install
    ```

    Use instead:
    ```dockerfile
    COPY package.json package-lock.json ./
    RUN npm ci --omit=dev
    ```

    Fix safety:
    Needs review. Only when a `COPY`/`ADD` names `package-lock.json` (or `npm-shrinkwrap.json`)
    before the `RUN` — `npm ci` fails without one — and the base is a `node` image whose tag says
    Node 10 or later. `--omit=dev` is added only in the final stage, on Node 16 or later, when no
    later `RUN` of the stage runs `npm run`, `npx`, `yarn` or `node_modules/.bin` (they may need
    the dev dependencies); otherwise it becomes plain `npm ci`.
    """
    for run in _runs(parsed):
        if any(_npm_install_all(words) for words in segments(run.command)):
            yield NPM_CI.violation(run.start_line, instruction=run.index)


def _node_major(parsed: ParsedDockerfile, run: Instruction) -> int | None:
    ref = image_of(parsed, parsed.stages[run.stage])
    match = re.match(r"(\d+)", image_tag(ref) or "")
    return int(match.group(1)) if image_name(ref).rsplit("/", 1)[-1] == "node" and match else None


def _copies_lockfile(instruction: Instruction) -> bool:
    return instruction.keyword in ("COPY", "ADD") and any(
        word.rstrip("/").rsplit("/", 1)[-1] in LOCKFILES for word in instruction.value[:-1])


def _lockfile_copied(parsed: ParsedDockerfile, run: Instruction) -> bool:
    return first_before(parsed, "lockfile", parsed.stages[run.stage], _copies_lockfile, run.index)


def _build_tools_after(parsed: ParsedDockerfile, stage: Stage, index: int) -> bool:
    """A RUN of the stage after instruction INDEX runs a build tool (which may need dev dependencies)."""
    last = parsed.remember(("build tools", stage.index), lambda: max(
        (i.index for i in of_kind(parsed, stage, RUNS) if BUILD_TOOLS_RE.search(i.command)), default=-1))
    return last > index


def fix_npm_ci(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    major = _node_major(parsed, run) if run.stage >= 0 else None
    if major is None or major < 10 or not _lockfile_copied(parsed, run) or run.heredocs:
        return None
    stage = parsed.stages[run.stage]
    omit = major >= 16 and stage is parsed.final_stage and not _build_tools_after(parsed, stage, run.index)
    source = comment_free(parsed, run)
    ends = SegmentEnds(source)
    edits = []
    for match in re.finditer(NPM_INSTALL_RE.format(sep=_sep(parsed)), source):
        end = ends.after(match.end())
        # The words are read only as far as needed: a long command with many `npm install` stays linear.
        tail_words = (word.group(0) for word in WORD_RE.finditer(source, match.end(), end))
        if not _npm_install_all(itertools.chain(match.group(0).split(), tail_words)):
            continue
        flags = source[match.start():end]
        add = omit and not re.search(r"--omit|--only|--production", flags)
        edits.append(Edit(run.start + match.start(2), run.start + match.end(2), "ci --omit=dev" if add else "ci"))
    if not edits:
        return None
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "npm install -> npm ci" + (" --omit=dev" if omit else ""))


YARN_BERRY_RE = re.compile(r"\bcorepack\b|\byarn\s+set\s+version\b|yarnPath|\.yarnrc\.yml")


def _yarn_cache_cleaned(run: Instruction) -> bool:
    return (any(_invokes(w, ("yarn",), ("cache",)) and "clean" in w for w in segments(run.command))
            or any("type=cache" in f and "yarn" in f for f in run.flags))


def check_yarn_cache(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that a `RUN` with `yarn install` runs `yarn cache clean` in the same layer (or keeps the
    cache on a cache mount).

    Why is this bad?
    Yarn keeps a copy of every downloaded package in its cache: the layer ships all dependencies
    twice (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    COPY package.json yarn.lock ./
    RUN yarn install --frozen-lockfile
    ```

    Use instead:
    ```dockerfile
    COPY package.json yarn.lock ./
    RUN yarn install --frozen-lockfile && yarn cache clean
    ```

    Fix safety:
    Needs review. `yarn cache clean` is appended and only runs if the install succeeded. With Yarn 1
    (the `yarn` of the official node images) the cache is a download cache; with Yarn 2+ in
    Plug'n'Play mode the cache *is* where the packages live, and cleaning it breaks the app. So the
    fix applies only when everything copied into the stage before the `RUN` is named file by file
    and none of it is Yarn 2+ configuration (`.yarnrc.yml`, `.yarn/`), and no `RUN` mentions
    `corepack` or `yarn set version`; otherwise the finding is only reported.
    """
    for run in _runs(parsed):
        if any(_invokes(w, ("yarn",), ("install",)) for w in segments(run.command)) and not _yarn_cache_cleaned(run):
            yield YARN_CACHE.violation(run.start_line, instruction=run.index)


def _yarn_classic(parsed: ParsedDockerfile, run: Instruction) -> bool:
    """Nothing before RUN in its stage (and the stages it is built on) can have brought Yarn 2+ in."""
    return not first_before(parsed, "yarn berry", parsed.stages[run.stage], _may_bring_yarn_berry, run.index)


def _may_bring_yarn_berry(instruction: Instruction) -> bool:
    if instruction.keyword == "RUN" and YARN_BERRY_RE.search(instruction.command):
        return True
    # a directory, a glob or a variable: it may hold .yarnrc.yml
    return instruction.keyword in ("COPY", "ADD") and any(
        "$" in source or "*" in source or "." not in source.rstrip("/").rsplit("/", 1)[-1].lstrip(".")
        or ".yarn" in source for source in instruction.value[:-1])


def fix_yarn_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    if run.stage < 0 or YARN_BERRY_RE.search(run.command) or not _yarn_classic(parsed, run):
        return None
    edit = append_edit(parsed, run, "yarn cache clean")
    return Fix((edit,), FixSafety.NEEDS_REVIEW, "added yarn cache clean") if edit else None


PIP_CACHE = Rule("HC045", "pip-cache-kept", Severity.INFO, "pip install without --no-cache-dir", "4.3", "DL3042",
                 check_pip_cache, fix_pip_cache, FixSafety.SAFE)
NPM_CI = Rule("HC046", "npm-install-not-ci", Severity.INFO, "npm install instead of npm ci", "4.3", None,
              check_npm_ci, fix_npm_ci, FixSafety.NEEDS_REVIEW)
YARN_CACHE = Rule("HC047", "yarn-cache-kept", Severity.INFO, "yarn install without yarn cache clean", "4.3", "DL3060",
                  check_yarn_cache, fix_yarn_cache, FixSafety.NEEDS_REVIEW)
RULES = (PIP_CACHE, NPM_CI, YARN_CACHE)
