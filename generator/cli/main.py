"""The entry point: build the parser from the command groups, run the command, map errors to exit codes.

`main(argv, env)` is injectable (stdin/stdout/stderr/tty) so tests run commands in-process and read
`.exit_status`, `.stdout`, `.stderr`, as httpie's tests do. Heavy modules are imported inside the
command that needs them, and `entry` hands plain `check` command lines to `check.fast_main` before
anything else is imported, so `hardcase check` starts fast.

Every `hardcase: error:` line goes through `printable`: errors often quote input (a path, an image
name, a value from a file), and that text must not drive the terminal. Exit statuses are listed in
`generator.cli.parser.EPILOG` (`hardcase --help`); `entry` adds 141 for output closed early.
"""

from __future__ import annotations

import sys

from generator import __version__
from generator.cli.env import Environment
from generator.core.errors import ExitCode, HardcaseError
from generator.core.terminal import printable

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `entry` must stay cheap to import (see check.fast_main)
if TYPE_CHECKING:
    import argparse
    from typing import TextIO

    from generator.cli.env import Command

__all__ = ["Environment", "entry", "main"]


def _build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The parser and each command's handler; `command` (the first word) lets a group skip costly help text."""
    import argparse

    from generator.cli import check, new, pin, policy, seccomp, templates, verify
    from generator.cli.parser import EPILOG, Parser, describe_subcommands

    # Typed as the base class: the command groups take any ArgumentParser; subparsers are Parsers at runtime.
    parser: argparse.ArgumentParser = Parser(
        prog="hardcase",
        description="Containers secure by construction: generate, harden, check and prove them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
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
    describe_subcommands(parser)
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
        print(f"hardcase: error: {printable(str(exc))}", file=env.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hardcase: interrupted", file=env.stderr)
        return ExitCode.INTERRUPTED


def _run() -> int:
    if sys.argv[1:2] == ["check"]:
        from generator.cli.check import fast_main

        status = fast_main(sys.argv[2:])
        if status is not None:
            return status
    return main()


def _closed(stream: TextIO) -> bool:
    """Whether STREAM is a pipe (or socket, tty) whose reader has gone: the write end then polls as
    an error. Tells an output closed early from a broken pipe inside hardcase, which is a bug."""
    import select

    try:
        fd = stream.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):  # not a real file, or no poll() on this platform
        return False
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def entry() -> None:
    """The `hardcase` command. Output piped into `head` or a pager that quits early ends the run quietly
    with 141 (128 + SIGPIPE, as the shell reports for other tools), not with a traceback."""
    try:
        status = _run()
        sys.stdout.flush()  # buffered output meets a closed pipe here, not at interpreter exit
    except BrokenPipeError:
        closed = [stream for stream in (sys.stdout, sys.stderr) if _closed(stream)]
        if not closed:
            raise
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in closed:  # what is still buffered goes nowhere at exit instead of failing again
            os.dup2(devnull, stream.fileno())
        status = ExitCode.OUTPUT_CLOSED
    except KeyboardInterrupt:  # while starting up; the commands report their own
        print("hardcase: interrupted", file=sys.stderr)
        status = ExitCode.INTERRUPTED
    sys.exit(status)
