"""`hardcase verify`: build and run the service in a real engine and prove each control (generator.engine)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from generator.core.errors import ExitCode

if TYPE_CHECKING:
    from generator.cli.env import Command, Environment


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    verify = commands.add_parser("verify", help="build and run the service in a real engine and prove each control")
    verify.add_argument("dest", nargs="?", default=".", type=Path, metavar="DIR",
                        help="the generated project (default: .)")
    verify.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    verify.add_argument("--no-build", action="store_true", help="use the image already tagged in compose.yaml")
    verify.add_argument("--ca-bundle", type=Path, default=Path("/etc/ssl/certs/ca-certificates.crt"),
                        help="CA bundle passed to the build as secret ca_bundle (if the file exists)")
    verify.add_argument("--allow-cap", action="append", default=[], metavar="CAP",
                        help="a capability the service is allowed to keep (repeatable)")
    verify.add_argument("--keep", action="store_true", help="leave the service running for inspection")
    return {"verify": _cmd_verify}


def _cmd_verify(args: argparse.Namespace, env: Environment) -> int:
    from generator.core.errors import UsageError, os_error_message
    from generator.engine.verify import render_text, tty_progress, verify

    try:
        card = verify(args.dest, build=not args.no_build, ca_bundle=args.ca_bundle, allowed_caps=args.allow_cap,
                      progress=tty_progress(env.stderr), keep=args.keep)
    except OSError as exc:  # an unreadable project or secret file, a full /tmp: the environment's answer, one line
        raise UsageError(os_error_message(exc)) from None
    env.stdout.write(card.to_json() + "\n" if args.format == "json" else render_text(card))
    return ExitCode.OK if card.passed else ExitCode.FINDINGS
