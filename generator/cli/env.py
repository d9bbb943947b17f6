"""Where a command reads and writes: the real streams, or StringIOs in tests (as httpie's tests do)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the CLI's start must stay cheap
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import TextIO

    Command = Callable[[argparse.Namespace, "Environment"], int]  # one command's handler


class Environment:
    """Where a command reads and writes (tests pass StringIOs)."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None,
                 stdin_isatty: bool | None = None) -> None:
        self.stdout: TextIO = stdout if stdout is not None else sys.stdout
        self.stderr: TextIO = stderr if stderr is not None else sys.stderr
        self.stdin_isatty: bool = sys.stdin.isatty() if stdin_isatty is None else stdin_isatty
