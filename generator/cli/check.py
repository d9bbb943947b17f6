"""`hardcase check`, and its fast start.

`hardcase check FILE` is meant to run on every commit and in editors, so it must start as fast as
hadolint. `generator.cli.entry` hands plain `check` command lines to `fast_main` before anything
else is imported: no argparse, pathlib, dataclasses or typing, and no module of the other commands.
Anything unusual (`--help`, a bad option or value, `--`) returns None and goes through the full
argparse command line, so both paths accept and reject exactly the same arguments.
"""

from __future__ import annotations

import os

FORMATS = ("text", "json", "sarif")
SEVERITIES = ("error", "warning", "info", "style")
OPTIONS = {"--format": FORMATS, "--fail-on": SEVERITIES, "--config": None, "--policy": None}

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start time
if TYPE_CHECKING:
    from typing import TextIO


def path_str(path: str) -> str:
    """The path as `str(pathlib.PurePosixPath(path))` spells it (reports name files the same either way)."""
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return lead + "/".join(part for part in path.split("/") if part and part != ".") or "."


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
              policy_file: str | None = None) -> int:
    """Check Dockerfiles and compose files (and directories of them); write the report; the exit status
    (0 clean, 1 findings).

    Org policy violations (POLxxx) join the findings when a policy applies (see `check_policy`).
    """
    from generator.audit.lint import at_least, check, load_config, read_dockerfile
    from generator.audit.report import OutputFormat, file_report, render
    from generator.audit.rules import Severity
    from generator.core.errors import ExitCode, UsageError
    from generator.policy.findings import PolicyLookup

    if all(os.path.isfile(path) for path in paths):
        files: list[str | os.PathLike[str]] = list(paths)
    else:
        from pathlib import Path

        from generator.audit.lint import discover

        files = list(discover([Path(path) for path in paths]))
        if not files:
            raise UsageError(f"no Dockerfiles or compose files found in {', '.join(paths)}")
    config = load_config(config_file, os.getcwd())
    policies = PolicyLookup(policy_file)
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
        reports.append(file_report(os.fspath(path), check(parsed, config) + policies.findings(path, parsed.text)))
    stdout.write(render(reports, OutputFormat(output)))
    failing = at_least((v for r in reports for v in r.findings), Severity(fail_on))
    return ExitCode.FINDINGS if failing else ExitCode.OK


def parse_fast(argv: list[str]) -> tuple[list[str], dict[str, str]] | None:
    """(paths, options) for a plain `check` command line (the words after `check`), else None."""
    paths: list[str] = []
    options: dict[str, str] = {}
    words = iter(argv)
    for word in words:
        if not word.startswith("-") or word == "-":
            paths.append(word)
            continue
        name, equals, value = word.partition("=")
        if name not in OPTIONS or name in options:
            return None
        if not equals:
            value = next(words, "")
        choices = OPTIONS[name]
        if not value or value.startswith("-") or (choices is not None and value not in choices):
            return None
        options[name] = value
    return (paths, options) if paths else None


def fast_main(argv: list[str]) -> int | None:
    """Run `check` for the words after it, or None when the full command line must handle them."""
    import sys

    parsed = parse_fast(argv)
    if parsed is None:
        return None
    paths, options = [path_str(p) for p in parsed[0]], parsed[1]
    from generator.core.errors import ExitCode, HardcaseError

    try:
        return run_check(paths, options.get("--format", "text"), options.get("--fail-on", "style"),
                         path_str(options["--config"]) if "--config" in options else None, sys.stdout,
                         path_str(options["--policy"]) if "--policy" in options else None)
    except HardcaseError as exc:
        print(f"hardcase: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hardcase: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
