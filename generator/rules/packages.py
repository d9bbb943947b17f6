"""Package-manager hygiene: install only what is asked for, never keep caches in a layer."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from ..dockerfile import Instruction, ParsedDockerfile
from ..fix import Edit, Fix, FixSafety
from . import Rule, Severity, Violation
from ._support import (
    append_edit,
    command_end,
    command_start,
    comment_free,
    image_name,
    image_of,
    image_tag,
    replace_instruction,
    stage_chain,
)

SEGMENT_SPLIT_RE = re.compile(r"&&|\|\||;|\|")


def segments(command: str) -> list[list[str]]:
    """Simple commands of a shell command line, as word lists (quotes are not interpreted). A
    newline ends a command too: BuildKit has already joined continuation lines of a shell-form
    command, so newlines left are those of heredoc scripts (whose own continuations are joined here)."""
    joined = re.sub(r"\\\r?\n", " ", command)
    return [part.split() for part in SEGMENT_SPLIT_RE.split(joined.replace("\n", ";")) if part.split()]


def invokes(words: list[str], tool: tuple[str, ...], verb: tuple[str, ...]) -> bool:
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


def check_no_install_recommends(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `apt-get install` is called with `--no-install-recommends`.

    Why is this bad?
    Recommended packages are pulled in by default: more code, more CVEs and a bigger attack
    surface than the image needs (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    RUN apt-get update && apt-get install -y curl
    ```

    Use instead:
    ```dockerfile
    RUN apt-get update && apt-get install -y --no-install-recommends curl
    ```

    Fix safety:
    Needs review: something the application relied on may have come in only as a recommendation
    (for example `ca-certificates` with `curl`); add it to the install line explicitly.
    """
    for run in _runs(parsed):
        for words in segments(run.command):
            if invokes(words, ("apt-get", "apt"), ("install",)) and not _recommends_off(" ".join(words)):
                yield NO_INSTALL_RECOMMENDS.violation(run.start_line, instruction=run.index)
                break


def _recommends_off(text: str) -> bool:
    return "--no-install-recommends" in text or "Install-Recommends=" in text


def fix_no_install_recommends(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, r"apt(?:-get)?", "install", "--no-install-recommends", _recommends_off)


def check_update_alone(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks for a `RUN` that runs `apt-get update` but installs nothing and keeps the lists: alone,
    or with other commands such as `apt-get upgrade`.

    Why is this bad?
    The layer with the package index is cached on its own: a later `apt-get install` in another
    layer can reuse an index that is weeks old and install outdated, vulnerable versions, or fail
    (CIS Docker Benchmark 4.7). And the index stays in the image: that layer never removes it.

    Example:
    ```dockerfile
    RUN apt-get update && apt-get -y upgrade
    RUN apt-get install -y curl
    ```

    Use instead:
    ```dockerfile
    RUN apt-get update && apt-get -y upgrade && apt-get install -y curl
    ```

    Fix safety:
    Safe. The whole command moves into the `RUN` that directly follows it when that one installs
    packages with apt: the same commands run in the same order, in one layer (and HC042 then
    removes the lists there). Not when the moved command changes shell state for what follows
    (`cd`, `export`, `set`, …) or either `RUN` has flags, heredocs or exec form; otherwise the
    finding is only reported.
    """
    for run in _runs(parsed):
        parts = segments(run.command)
        if (any(invokes(w, ("apt-get", "apt"), ("update",)) for w in parts) and not run.heredocs
                and not any(invokes(w, ("apt-get", "apt"), ("install",)) for w in parts) and not _apt_cleanup(run)):
            yield UPDATE_ALONE.violation(run.start_line, instruction=run.index)


def fix_update_alone(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    from .shell import STATEFUL

    run = parsed.instructions[violation.instruction]
    following = parsed.instructions[run.index + 1] if run.index + 1 < len(parsed.instructions) else None
    if following is None or following.keyword != "RUN" or following.json or following.heredocs or run.flags:
        return None
    if not any(invokes(w, ("apt-get", "apt"), ("install",)) for w in segments(following.command)):
        return None
    if run.json or any(w[0] in STATEFUL for w in segments(run.command)):
        return None
    start, begin, end = command_start(parsed, following), command_start(parsed, run), command_end(parsed, run)
    if start is None or begin is None or end is None:
        return None
    command = parsed.text[begin:end].rstrip()
    if command.endswith(("&&", "||", "|", "&", ";")):
        return None
    return Fix((replace_instruction(parsed, run, []), Edit.insert(start, f"{command} && ")), FixSafety.SAFE,
               "merged apt-get update into the install")


def _apt_cleanup(run: Instruction) -> bool:
    return "/var/lib/apt/lists" in run.command or _cache_mount(run, "/var/lib/apt")


def check_apt_lists(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that a `RUN` with `apt-get install` removes `/var/lib/apt/lists/*` in the same layer (or
    keeps them on a cache mount).

    Why is this bad?
    The package lists are tens of megabytes that stay in the layer forever, and a stale index in the
    image invites later installs from it (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    RUN apt-get update && apt-get install -y --no-install-recommends curl
    ```

    Use instead:
    ```dockerfile
    RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
    ```

    Fix safety:
    Safe: the cleanup is appended after the original commands and only runs if they succeed.
    """
    for run in _runs(parsed):
        if any(invokes(w, ("apt-get", "apt"), ("install",)) for w in segments(run.command)) and not _apt_cleanup(run):
            yield APT_LISTS.violation(run.start_line, instruction=run.index)


def _append(parsed: ParsedDockerfile, run: Instruction, command: str, note: str) -> Fix | None:
    edit = append_edit(parsed, run, command)
    return Fix((edit,), FixSafety.SAFE, note) if edit else None


def fix_apt_lists(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    return _append(parsed, parsed.instructions[violation.instruction], "rm -rf /var/lib/apt/lists/*",
                   "removed the apt lists")


def check_apk_no_cache(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that `apk add` is called with `--no-cache`.

    Why is this bad?
    Without it the package index stays in `/var/cache/apk` inside the layer (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    RUN apk add curl
    ```

    Use instead:
    ```dockerfile
    RUN apk add --no-cache curl
    ```

    Fix safety:
    Safe: the same packages are installed; only the index is not kept.
    """
    for run in _runs(parsed):
        for words in segments(run.command):
            if (invokes(words, ("apk",), ("add",)) and "--no-cache" not in words
                    and not _cache_mount(run, "/var/cache/apk")):
                yield APK_NO_CACHE.violation(run.start_line, instruction=run.index)
                break


def fix_apk_no_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, "apk", "add", "--no-cache", lambda text: "--no-cache" in text)


YUM_TOOLS = ("yum", "dnf", "microdnf")


def check_yum_clean(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that a `RUN` with `yum`/`dnf`/`microdnf install` ends with `… clean all`.

    Why is this bad?
    The package metadata cache stays in the layer: size and stale metadata (CIS Docker Benchmark 4.3).

    Example:
    ```dockerfile
    RUN yum install -y httpd
    ```

    Use instead:
    ```dockerfile
    RUN yum install -y httpd && yum clean all
    ```

    Fix safety:
    Safe: the cleanup is appended and only runs if the install succeeded.
    """
    for run in _runs(parsed):
        parts = segments(run.command)
        tools = [w for w in parts if invokes(w, YUM_TOOLS, ("install", "update", "upgrade", "groupinstall"))]
        if tools and not any(invokes(w, YUM_TOOLS, ("clean",)) for w in parts) and "/var/cache/" not in run.command:
            yield YUM_CLEAN.violation(run.start_line, instruction=run.index)


def fix_yum_clean(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    tool = next(w for w in YUM_TOOLS[::-1] if re.search(rf"(?<![\w-]){w}\b", run.command))
    return _append(parsed, run, f"{tool} clean all", f"added {tool} clean all")


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
            if invokes(words, ("pip", "pip3"), ("install",)) and "--no-cache-dir" not in words:
                yield PIP_CACHE.violation(run.start_line, instruction=run.index)
                break


def fix_pip_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, r"pip3?", "install", "--no-cache-dir", lambda text: "--no-cache-dir" in text)


LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json")
NPM_INSTALL_RE = r"(?<![\w/.-])npm((?:{sep}-[\w=.:/@-]+)*){sep}(install|i)(?![\w-])"
BUILD_TOOLS_RE = re.compile(r"\bnpm\s+run\b|\bnpx\b|\byarn\b|node_modules/\.bin|\bnpm\s+(?:test|start)\b")


def _npm_install_all(words: list[str]) -> bool:
    """`npm install` of the whole package.json: no package operands, not global."""
    rest = [w for w in words if "=" not in w or w.startswith("-")]
    while rest and rest[0] in ("sudo", "env", "exec", "command"):
        rest = rest[1:]
    if len(rest) < 2 or rest[0].rsplit("/", 1)[-1] != "npm":
        return False
    operands = [w for w in rest[1:] if not w.startswith("-")]
    flags = [w for w in rest[1:] if w.startswith("-")]
    return operands[:1] in (["install"], ["i"]) and len(operands) == 1 and not {"-g", "--global"} & set(flags)


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


def _lockfile_copied(parsed: ParsedDockerfile, run: Instruction) -> bool:
    for member in stage_chain(parsed, parsed.stages[run.stage]):
        for instruction in parsed.stage_instructions(member):
            if instruction.index < run.index and instruction.keyword in ("COPY", "ADD") and any(
                    word.rstrip("/").rsplit("/", 1)[-1] in LOCKFILES for word in instruction.value[:-1]):
                return True
    return False


def fix_npm_ci(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    major = _node_major(parsed, run) if run.stage >= 0 else None
    if major is None or major < 10 or not _lockfile_copied(parsed, run) or run.heredocs:
        return None
    stage = parsed.stages[run.stage]
    later = " ".join(i.command for i in parsed.stage_instructions(stage) if i.index > run.index and i.keyword == "RUN")
    omit = major >= 16 and stage is parsed.final_stage and not BUILD_TOOLS_RE.search(later)
    source = comment_free(parsed, run)
    edits = []
    for match in re.finditer(NPM_INSTALL_RE.format(sep=_sep(parsed)), source):
        tail = SEGMENT_SPLIT_RE.split(source[match.end():], maxsplit=1)[0]
        if not _npm_install_all(f"{match.group(0)} {tail}".split()):
            continue
        flags = match.group(0) + tail
        add = omit and not re.search(r"--omit|--only|--production", flags)
        edits.append(Edit(run.start + match.start(2), run.start + match.end(2), "ci --omit=dev" if add else "ci"))
    if not edits:
        return None
    return Fix(tuple(edits), FixSafety.NEEDS_REVIEW, "npm install -> npm ci" + (" --omit=dev" if omit else ""))


YARN_BERRY_RE = re.compile(r"\bcorepack\b|\byarn\s+set\s+version\b|yarnPath|\.yarnrc\.yml")


def _yarn_cache_cleaned(run: Instruction) -> bool:
    return (any(invokes(w, ("yarn",), ("cache",)) and "clean" in w for w in segments(run.command))
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
        if any(invokes(w, ("yarn",), ("install",)) for w in segments(run.command)) and not _yarn_cache_cleaned(run):
            yield YARN_CACHE.violation(run.start_line, instruction=run.index)


def _yarn_classic(parsed: ParsedDockerfile, run: Instruction) -> bool:
    """Nothing before RUN in its stage (and the stages it is built on) can have brought Yarn 2+ in."""
    for member in stage_chain(parsed, parsed.stages[run.stage]):
        for instruction in parsed.stage_instructions(member):
            if instruction.index >= run.index:
                break
            if instruction.keyword == "RUN" and YARN_BERRY_RE.search(instruction.command):
                return False
            if instruction.keyword in ("COPY", "ADD") and any(
                    "$" in source or "*" in source or "." not in source.rstrip("/").rsplit("/", 1)[-1].lstrip(".")
                    or ".yarn" in source for source in instruction.value[:-1]):
                return False  # a directory, a glob or a variable: it may hold .yarnrc.yml
    return True


def fix_yarn_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    if run.stage < 0 or YARN_BERRY_RE.search(run.command) or not _yarn_classic(parsed, run):
        return None
    edit = append_edit(parsed, run, "yarn cache clean")
    return Fix((edit,), FixSafety.NEEDS_REVIEW, "added yarn cache clean") if edit else None


SAFETY = {"--no-install-recommends": FixSafety.NEEDS_REVIEW, "--no-cache": FixSafety.SAFE,
          "--no-cache-dir": FixSafety.SAFE}

NO_INSTALL_RECOMMENDS = Rule("HC040", "apt-install-recommends", Severity.INFO, "apt-get install without "
                             "--no-install-recommends", "4.3", "DL3015", check_no_install_recommends,
                             fix_no_install_recommends, FixSafety.NEEDS_REVIEW)
UPDATE_ALONE = Rule("HC041", "apt-update-alone", Severity.WARNING, "apt-get update in a RUN that installs nothing",
                    "4.7", None, check_update_alone, fix_update_alone, FixSafety.SAFE)
APT_LISTS = Rule("HC042", "apt-lists-kept", Severity.INFO, "apt lists are not removed after install", "4.3", "DL3009",
                 check_apt_lists, fix_apt_lists, FixSafety.SAFE)
APK_NO_CACHE = Rule("HC043", "apk-cache-kept", Severity.INFO, "apk add without --no-cache", "4.3", "DL3019",
                    check_apk_no_cache, fix_apk_no_cache, FixSafety.SAFE)
YUM_CLEAN = Rule("HC044", "yum-cache-kept", Severity.INFO, "yum/dnf install without clean all", "4.3", "DL3032",
                 check_yum_clean, fix_yum_clean, FixSafety.SAFE)
PIP_CACHE = Rule("HC045", "pip-cache-kept", Severity.INFO, "pip install without --no-cache-dir", "4.3", "DL3042",
                 check_pip_cache, fix_pip_cache, FixSafety.SAFE)
NPM_CI = Rule("HC046", "npm-install-not-ci", Severity.INFO, "npm install instead of npm ci", "4.3", None,
              check_npm_ci, fix_npm_ci, FixSafety.NEEDS_REVIEW)
YARN_CACHE = Rule("HC047", "yarn-cache-kept", Severity.INFO, "yarn install without yarn cache clean", "4.3", "DL3060",
                  check_yarn_cache, fix_yarn_cache, FixSafety.NEEDS_REVIEW)
RULES = (NO_INSTALL_RECOMMENDS, UPDATE_ALONE, APT_LISTS, APK_NO_CACHE, YUM_CLEAN, PIP_CACHE, NPM_CI, YARN_CACHE)
