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
    OUTPUT_CLOSED = 141  # 128 + SIGPIPE, as a shell reports a tool whose reader went away (`| head`)


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


class NotRegularFileError(OSError):
    """A path names a FIFO, socket or device where a file was expected: reading it could block forever
    (a FIFO with no writer) or never end (/dev/zero), so nobody reads it."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, for a message: "a FIFO", "a symlink", ..."""
    import stat

    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a directory"))
    return next((name for test, name in kinds if test(mode)), "an unusual file")


def read_regular(path: str) -> bytes:
    """The bytes of the regular file at `path`; anything else raises OSError before a read can block.

    The file is opened with O_NONBLOCK, so opening a FIFO returns at once instead of waiting for a
    writer, and its type is taken from the open descriptor (fstat), so nothing can swap the file
    between the check and the read. Symlinks the user named are followed: the type that counts is
    the type of what is read.
    """
    import errno
    import os
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(errno.EINVAL, f"not a regular file ({file_kind(mode)})", path)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def os_error_message(exc: OSError, path: object = None) -> str:
    """`PATH: reason` for an OSError the environment caused (permissions, a read-only or full disk)."""
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or exc.__class__.__name__
    return f"{where}: {reason}" if where is not None else reason


def read_user_bytes(path: str) -> bytes:
    """A user's input file, or a one-line usage error naming why it cannot be read."""
    try:
        return read_regular(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (IsADirectoryError, NotRegularFileError) as exc:
        raise UsageError(f"{path}: {exc.strerror}; refusing to read it") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc.__class__.__name__})") from None


def read_user_text(path: str) -> str:
    """A user's input file as text, or a one-line usage error naming why it cannot be read."""
    try:
        return read_user_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
