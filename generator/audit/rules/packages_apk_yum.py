"""apk and yum/dnf hygiene: no package index or metadata cache left in a layer."""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Fix, FixSafety, Rule, Severity, Violation
from generator.audit.rules.packages import _append, _cache_mount, _insert_after_verb, _invokes, _runs, segments


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
            if (_invokes(words, ("apk",), ("add",)) and "--no-cache" not in words
                    and not _cache_mount(run, "/var/cache/apk")):
                yield APK_NO_CACHE.violation(run.start_line, instruction=run.index)
                break


def fix_apk_no_cache(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    return _insert_after_verb(parsed, run, "apk", "add", "--no-cache", ("--no-cache",))


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
    for run in yum_cache_kept(parsed):
        yield YUM_CLEAN.violation(run.start_line, instruction=run.index)


def yum_cache_kept(parsed: ParsedDockerfile) -> tuple[Instruction, ...]:
    """The RUNs that install with yum/dnf and keep the cache (found once per parse: HC055 asks too)."""
    def kept(run: Instruction) -> bool:
        parts = segments(run.command)
        return (any(_invokes(w, YUM_TOOLS, ("install", "update", "upgrade", "groupinstall")) for w in parts)
                and not any(_invokes(w, YUM_TOOLS, ("clean",)) for w in parts) and "/var/cache/" not in run.command)

    return parsed.remember("yum cache kept", lambda: tuple(run for run in _runs(parsed) if kept(run)))


def fix_yum_clean(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    run = parsed.instructions[violation.instruction]
    tool = next(w for w in YUM_TOOLS[::-1] if re.search(rf"(?<![\w-]){w}\b", run.command))
    return _append(parsed, run, f"{tool} clean all", f"added {tool} clean all")


APK_NO_CACHE = Rule("HC043", "apk-cache-kept", Severity.INFO, "apk add without --no-cache", "4.3", "DL3019",
                    check_apk_no_cache, fix_apk_no_cache, FixSafety.SAFE)
YUM_CLEAN = Rule("HC044", "yum-cache-kept", Severity.INFO, "yum/dnf install without clean all", "4.3", "DL3032",
                 check_yum_clean, fix_yum_clean, FixSafety.SAFE)
RULES = (APK_NO_CACHE, YUM_CLEAN)
