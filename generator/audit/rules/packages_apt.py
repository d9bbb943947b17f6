"""apt hygiene: install only what is asked for, with a fresh index, and never keep the lists in a layer."""

from __future__ import annotations

from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules._support import STATEFUL, command_end, command_start, replace_instruction
from generator.audit.rules.packages import _append, _cache_mount, _insert_after_verb, _invokes, _runs, segments


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
            if _invokes(words, ("apt-get", "apt"), ("install",)) and not _recommends_off(" ".join(words)):
                yield NO_INSTALL_RECOMMENDS.violation(run.start_line, instruction=run.index)
                break


def _recommends_off(text: str) -> bool:
    return "--no-install-recommends" in text or "Install-Recommends=" in text


def fix_no_install_recommends(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, r"apt(?:-get)?", "install", "--no-install-recommends",
                              ("--no-install-recommends", "Install-Recommends="))


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
        if (any(_invokes(w, ("apt-get", "apt"), ("update",)) for w in parts) and not run.heredocs
                and not any(_invokes(w, ("apt-get", "apt"), ("install",)) for w in parts) and not _apt_cleanup(run)):
            yield UPDATE_ALONE.violation(run.start_line, instruction=run.index)


def fix_update_alone(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    following = parsed.instructions[run.index + 1] if run.index + 1 < len(parsed.instructions) else None
    if following is None or following.keyword != "RUN" or following.json or following.heredocs or run.flags:
        return None
    if not any(_invokes(w, ("apt-get", "apt"), ("install",)) for w in segments(following.command)):
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
    for run in apt_lists_kept(parsed):
        yield APT_LISTS.violation(run.start_line, instruction=run.index)


def apt_lists_kept(parsed: ParsedDockerfile) -> tuple[Instruction, ...]:
    """The RUNs that install with apt and keep the lists (found once per parse: HC055 asks too)."""
    return parsed.remember("apt lists kept", lambda: tuple(
        run for run in _runs(parsed)
        if any(_invokes(w, ("apt-get", "apt"), ("install",)) for w in segments(run.command)) and not _apt_cleanup(run)))


def fix_apt_lists(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    return _append(parsed, parsed.instructions[violation.instruction], "rm -rf /var/lib/apt/lists/*",
                   "removed the apt lists")


NO_INSTALL_RECOMMENDS = Rule("HC040", "apt-install-recommends", Severity.INFO, "apt-get install without "
                             "--no-install-recommends", "4.3", "DL3015", check_no_install_recommends,
                             fix_no_install_recommends, FixSafety.NEEDS_REVIEW)
UPDATE_ALONE = Rule("HC041", "apt-update-alone", Severity.WARNING, "apt-get update in a RUN that installs nothing",
                    "4.7", None, check_update_alone, fix_update_alone, FixSafety.SAFE)
APT_LISTS = Rule("HC042", "apt-lists-kept", Severity.INFO, "apt lists are not removed after install", "4.3", "DL3009",
                 check_apt_lists, fix_apt_lists, FixSafety.SAFE)
RULES = (NO_INSTALL_RECOMMENDS, UPDATE_ALONE, APT_LISTS)
