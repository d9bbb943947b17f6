"""`hardcase check` and `hardcase harden`: the audit flow's command line (generator.audit), and check's fast start.

`hardcase check FILE` is meant to run on every commit and in editors, so it must start as fast as
hadolint. `generator.cli.main.entry` hands plain `check` command lines to `fast_main` before anything
else is imported: no argparse, pathlib, dataclasses or typing, and no module of the other commands.
Anything unusual (`--help`, a bad option or value, `--`) returns None and goes through the full
argparse command line, so both paths accept and reject exactly the same arguments.
The org policy's findings join through `generator.policy.findings.PolicyLookup` (cheap until a
policy is in sight).
"""

from __future__ import annotations

FORMATS = ("text", "json", "sarif")
SEVERITIES = ("error", "warning", "info", "style")
CONFIG_NAME = ".hardcase-check.yaml"  # generator.audit.lint.CONFIG_NAME
OPTIONS = {"--format": FORMATS, "--fail-on": SEVERITIES, "--config": None, "--policy": None}

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start time
if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    from pathlib import Path

    from generator.cli.options import add_policy_option

    harden = commands.add_parser(
        "harden", help="rewrite a Dockerfile or compose file with hardening fixes and explain each change",
        description="Apply hardening fixes to a Dockerfile or compose file (safe ones by default) and report every "
                    "change. "
                    "Without -o/--in-place/--diff the hardened file goes to stdout and the report to stderr.")
    harden.add_argument("file", type=Path, metavar="FILE", help="the Dockerfile or compose file to harden")
    where = harden.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", type=Path, metavar="OUT", help="write the hardened file to OUT")
    where.add_argument("--in-place", action="store_true", help="rewrite FILE, keeping FILE.hardcase.bak")
    where.add_argument("--diff", action="store_true", help="print a unified diff; exit 1 if anything would change")
    harden.add_argument("--force", action="store_true", help="with -o: replace an existing OUT")
    harden.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes that need review")
    versions = harden.add_mutually_exclusive_group()
    versions.add_argument("--pin-packages", action="store_true",
                          help="with --unsafe-fixes: pin apt/pip/npm packages to versions resolved online (HC048)")
    versions.add_argument("--package-versions", type=Path, metavar="FILE",
                          help="with --unsafe-fixes: pin packages to the versions in a YAML file (offline, HC048)")
    harden.add_argument("--debian-mirror", metavar="URL",
                        help="Debian mirror for --pin-packages (default: $HARDCASE_DEBIAN_MIRROR or deb.debian.org)")
    harden.add_argument("--ubuntu-mirror", metavar="URL",
                        help="Ubuntu mirror for --pin-packages (default: $HARDCASE_UBUNTU_MIRROR, archive.ubuntu.com)")
    harden.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    harden.add_argument("--config", type=Path, metavar="FILE", help=f"config file (default: nearest {CONFIG_NAME})")
    harden.add_argument("--public", action="append", default=[], metavar="SERVICE",
                        help="compose: keep SERVICE's ports on all interfaces and mark it public (repeatable)")
    add_policy_option(harden)
    check = commands.add_parser(
        "check", help="audit Dockerfiles and compose files: exit 0 clean, 1 findings, 2 usage or parse error",
        description="Check Dockerfiles and compose files (files, or Dockerfile, *.Dockerfile, Dockerfile.*, "
                    "compose.yaml, docker-compose.yml, docker-compose.*.yml, *.compose.yaml, ... below directories).")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="a Dockerfile, a compose file, or a directory to search for them")
    check.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    check.add_argument("--fail-on", choices=SEVERITIES, default="style",
                       help="lowest severity that makes the exit status 1 (default: style, i.e. any finding)")
    check.add_argument("--config", type=Path, metavar="FILE", help=f"config file (default: nearest {CONFIG_NAME})")
    add_policy_option(check)
    return {"harden": _cmd_harden, "check": _cmd_check}


def _run_check(paths: list[str], output: str, fail_on: str, config_file: str | None, stdout: TextIO,
               policy_file: str | None) -> int:
    """`check` with the org policy's findings (POLxxx) joined to each Dockerfile's, when a policy applies."""
    from generator.audit.check import run_check
    from generator.policy.findings import PolicyLookup

    return run_check(paths, output, fail_on, config_file, stdout, PolicyLookup(policy_file).findings)


def _cmd_check(args: argparse.Namespace, env: Environment) -> int:
    return _run_check([str(path) for path in args.paths], args.format, args.fail_on,
                      str(args.config) if args.config is not None else None, env.stdout,
                      str(args.policy) if args.policy is not None else None)


def _cmd_harden(args: argparse.Namespace, env: Environment) -> int:
    import os
    import stat

    from generator.audit.check import is_compose
    from generator.audit.harden import harden_compose, harden_dockerfile
    from generator.audit.lint import BACKUP_SUFFIX
    from generator.core.errors import ConflictError, ExitCode, UsageError, file_kind, os_error_message
    from generator.core.files import check_output, check_target, write_user_file
    from generator.policy.findings import PolicyLookup

    if args.force and args.output is None:
        raise UsageError("--force only goes with -o/--output")
    # Every refusal comes before any work: harden_compose writes secret files before the hardened file.
    try:
        mode = os.stat(args.file).st_mode
    except FileNotFoundError:
        raise UsageError(f"{args.file}: no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {os_error_message(exc, args.file)}") from None
    if not stat.S_ISREG(mode):
        raise UsageError(f"{args.file}: {file_kind(mode)}, not a regular file; refusing to read it")
    backup = args.file.with_name(args.file.name + BACKUP_SUFFIX)
    if args.in_place:
        check_target(args.file)  # a symlink would be replaced by a file, not rewritten: refused
        check_target(backup)
    if args.output is not None:
        check_output(args.output)
        if os.path.lexists(args.output) and not args.force:
            raise ConflictError(f"{args.output} exists; use --force to replace it")
    if is_compose(str(args.file)):
        target = args.output if args.output is not None else args.file if args.in_place else None
        result, report = harden_compose(args.file, config_file=args.config, unsafe=args.unsafe_fixes,
                                        public=list(args.public), target=target, output_format=args.format)
    else:
        if args.public:
            raise UsageError("--public only applies to compose files")
        result, report = harden_dockerfile(
            args.file, config_file=args.config, unsafe=args.unsafe_fixes, pin_packages=args.pin_packages,
            package_versions=args.package_versions, debian_mirror=args.debian_mirror,
            ubuntu_mirror=args.ubuntu_mirror, output_format=args.format,
            extra_findings=PolicyLookup(args.policy).findings)
    if args.diff:
        import difflib

        from generator.core.terminal import printable

        name = printable(str(args.file))  # a newline in the name must not end the header line
        diff = difflib.unified_diff(result.original.splitlines(keepends=True), result.text.splitlines(keepends=True),
                                    f"a/{name}", f"b/{name}")
        # For review, so escaped: a control or bidi character in the file must show, not act.
        env.stdout.write(printable("".join(line if line.endswith("\n") else line + "\n" for line in diff),
                                   multiline=True))
        env.stderr.write(report)
        return ExitCode.FINDINGS if result.changed else ExitCode.OK
    # Outputs and backups are never more permissive than FILE: its mode (minus the umask for a new
    # file), exactly its mode for FILE itself rewritten in place.
    if args.in_place:
        if result.changed:
            write_user_file(backup, result.original.encode("utf-8"), mode & 0o777)
            write_user_file(args.file, result.text.encode("utf-8"), mode & 0o777, exact_mode=True)
        env.stdout.write(report)
    elif args.output is not None:
        write_user_file(args.output, result.text.encode("utf-8"), mode & 0o777)
        env.stdout.write(report)
    else:
        env.stdout.write(result.text)
        env.stderr.write(report)
    return ExitCode.OK


def path_str(path: str) -> str:
    """The path as `str(pathlib.PurePosixPath(path))` spells it (reports name files the same either way)."""
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/" if path.startswith("/") else ""
    return lead + "/".join(part for part in path.split("/") if part and part != ".") or "."


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
        return _run_check(paths, options.get("--format", "text"), options.get("--fail-on", "style"),
                          path_str(options["--config"]) if "--config" in options else None, sys.stdout,
                          path_str(options["--policy"]) if "--policy" in options else None)
    except HardcaseError as exc:
        from generator.core.terminal import printable

        print(f"hardcase: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hardcase: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
