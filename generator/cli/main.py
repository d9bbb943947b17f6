"""The entry point: build the parser from the command groups, run the command, map errors to exit codes.

`main(argv, env)` is injectable (stdin/stdout/stderr/tty) so tests run commands in-process and read
`.exit_status`, `.stdout`, `.stderr`, as httpie's tests do. Heavy modules are imported inside the
command that needs them, and `entry` hands plain `check` command lines to `check.fast_main` before
anything else is imported, so `hardcase check` starts fast.
"""

from __future__ import annotations

import sys

from generator import __version__
from generator.cli.env import Environment
from generator.core.errors import ExitCode, HardcaseError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `entry` must stay cheap to import (see check.fast_main)
if TYPE_CHECKING:
    import argparse

    from generator.cli.env import Command

__all__ = ["Environment", "entry", "main"]


def _build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The parser and each command's handler; `command` (the first word) lets a group skip costly help text."""
    import argparse

    from generator.cli import check, new, pin, policy, seccomp, templates, verify

    parser = argparse.ArgumentParser(
        prog="hardcase",
        description="Containers secure by construction: generate, harden, check and prove them.",
    )
    parser.add_argument("--version", action="version", version=f"hardcase {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, Command] = {}
    # The order is the order of `hardcase --help`.
    handlers |= new.add_parsers(commands, command)
    handlers |= seccomp.add_seccomp_parser(commands)
    handlers |= pin.add_parsers(commands)
    handlers |= check.add_parsers(commands)
    handlers |= verify.add_parsers(commands)
    handlers |= policy.add_parsers(commands)
    handlers |= templates.add_parsers(commands)
    handlers |= seccomp.add_apparmor_parser(commands)
    return parser, handlers


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    env = env or Environment()
    argv = sys.argv[1:] if argv is None else argv
    parser, handlers = _build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(env.stdout)
        return ExitCode.USAGE
    try:
        return handlers[args.command](args, env)
    except HardcaseError as exc:
        print(f"hardcase: error: {exc}", file=env.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hardcase: interrupted", file=env.stderr)
        return ExitCode.INTERRUPTED


def entry() -> None:
    if sys.argv[1:2] == ["check"]:
        from generator.cli.check import fast_main

        status = fast_main(sys.argv[2:])
        if status is not None:
            sys.exit(status)
    sys.exit(main())
