"""The argparse side of the command line: the parser class, the exit-status epilog, descriptions.

Kept apart from `main` because argparse is not imported on `hardcase check`'s fast start.
argparse's own error lines quote the command line (an unknown option, a bad value), which may come
from file names a script passed along, so they are escaped for the terminal like every other
`hardcase: error:` line.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from generator.core.errors import ExitCode
from generator.core.terminal import printable

EPILOG = f"""exit status:
  {ExitCode.OK:<4} ok: done, nothing found
  {ExitCode.FINDINGS:<4} findings: check, policy audit, verify, templates check, seccomp check/diff found
       something; pin --check or harden --diff would change something; update left conflicts
  {ExitCode.USAGE:<4} usage: bad arguments, options, answers or input files
  {ExitCode.CONFLICT:<4} conflict: refused to overwrite or to write outside the target; nothing was written
  {ExitCode.ENGINE:<4} engine: the Docker engine or Compose failed or is missing
  {ExitCode.INTERRUPTED:<4} interrupted (Ctrl-C)
  {ExitCode.OUTPUT_CLOSED:<4} output closed early (e.g. piped into `head`): the rest of the output is dropped
"""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose error line is escaped; sub-command parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {printable(message)}\n")


def describe_subcommands(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command without a description its one-line help, so `hardcase X --help` says
    what X does; recursive, for actions such as `seccomp diff`."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, subparser in action.choices.items():
            if subparser.description is None and helps.get(name):
                subparser.description = helps[name]
            describe_subcommands(subparser)
