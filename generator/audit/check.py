"""`check` over files and directories: which files, which kind, their findings, one report, the status.

Imported by `hardcase check`'s fast start, so only `os` at the top; everything else is loaded when
the run needs it. Findings from other flows (the org policy's POLxxx) come in through
`extra_findings`, a function of (path, Dockerfile text): the audit flow never imports the policy.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from generator.audit.model import Violation

    ExtraFindings = Callable[[str | os.PathLike[str], str], list[Violation]]


def is_compose(path: str) -> bool:
    """Compose or Dockerfile, by name; a file with another name is compose when it is YAML with `services:`."""
    from generator.audit.compose import is_compose_name, looks_like_compose
    from generator.audit.lint import DOCKERFILE_PATTERNS

    name = os.path.basename(path)
    if is_compose_name(name):
        return True
    import fnmatch

    if any(fnmatch.fnmatch(name, pattern) for pattern in DOCKERFILE_PATTERNS):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536).decode("utf-8", "replace")
    except OSError:
        return False
    return looks_like_compose(head)


def run_check(paths: list[str], output: str, fail_on: str, config_file: str | None, stdout: TextIO,
              extra_findings: ExtraFindings | None = None) -> int:
    """Check Dockerfiles and compose files (and directories of them); write the report; the exit status
    (0 clean, 1 findings)."""
    from generator.audit.lint import at_least, check, load_config, read_dockerfile
    from generator.audit.model import Severity
    from generator.audit.report.model import OutputFormat, file_report
    from generator.audit.report.render import render
    from generator.core.errors import ExitCode, UsageError

    if all(os.path.isfile(path) for path in paths):
        files: list[str | os.PathLike[str]] = list(paths)
    else:
        from pathlib import Path

        from generator.audit.lint import discover

        files = list(discover([Path(path) for path in paths]))
        if not files:
            raise UsageError(f"no Dockerfiles or compose files found in {', '.join(paths)}")
    config = load_config(config_file, os.getcwd())
    reports = []
    for path in files:
        if is_compose(os.fspath(path)):
            from generator.audit.compose import read_compose
            from generator.audit.compose_lint import check as check_compose

            compose = read_compose(os.fspath(path))
            compose.secrets_dir = os.path.dirname(os.fspath(path)) or "."  # as `harden --in-place` would
            reports.append(file_report(os.fspath(path), check_compose(compose, config), kind="compose"))
            continue
        parsed = read_dockerfile(path)
        extra = extra_findings(path, parsed.text) if extra_findings is not None else []
        reports.append(file_report(os.fspath(path), check(parsed, config) + extra))
    stdout.write(render(reports, OutputFormat(output)))
    failing = at_least((v for r in reports for v in r.findings), Severity(fail_on))
    return ExitCode.FINDINGS if failing else ExitCode.OK
