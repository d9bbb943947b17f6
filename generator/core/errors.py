"""Errors that reach the user as one line and a named exit code.

Everything the user can get wrong raises a `HardcaseError` subclass; the CLI prints its message on one
line and exits with its code. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    CONFLICT = 3
    ENGINE = 4
    INTERRUPTED = 130


class HardcaseError(Exception):
    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        # A message must fit on one line: newlines from user data would let input forge output lines.
        super().__init__(" ".join(message.split("\n")))


class UsageError(HardcaseError):
    """Bad arguments, answers, presets or input files."""


class AnswerError(UsageError):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"answer '{key}': {problem}")
        self.key = key


class ConflictError(HardcaseError):
    """Refusing to overwrite or escape: nothing was written."""

    exit_code = ExitCode.CONFLICT


class EngineError(HardcaseError):
    """The Docker engine or Compose failed or is missing."""

    exit_code = ExitCode.ENGINE


def read_user_text(path: str) -> str:
    """A user's input file as text, or a one-line usage error naming why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None
