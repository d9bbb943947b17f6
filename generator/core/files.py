"""Writing one file the user asked for: atomically (a temporary file beside it, then rename), never
replacing a different file without `force`, never through a symlink. Every flow writes through here,
so an interrupted run never leaves a half-written Dockerfile, profile or secret behind.

Permissions: a new file gets `mode` minus the umask, as open(2) would give it, so a caller passes the
most it may allow (a copy of a 0600 compose file passes 0600 and stays private); `exact_mode` keeps
`mode` as is, for a file rewritten in place, which keeps its own mode. Nothing is chmodded wider.

Paths: the target itself must be a regular file or missing (a symlink would be replaced by a file, a
FIFO or directory is not an output), and its directory must exist unless the caller asks for parents.
With `root`, every directory between `root` and the target is opened with O_NOFOLLOW, so a symlinked
directory inside the destination (a `secrets` link to /etc) cannot redirect a write; the file itself
is created with O_EXCL and O_NOFOLLOW relative to its directory's descriptor and renamed there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from generator.core.errors import ConflictError, UsageError, file_kind, os_error_message, read_regular

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def check_target(target: Path) -> None:
    """Refuse a target that exists and is not a regular file: writing would replace a symlink (not the
    file it names), a directory or a FIFO. A missing target is fine."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write {os_error_message(exc, target)}") from None
    _refuse_non_regular(target, mode)


def _refuse_non_regular(target: Path, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise ConflictError(f"{target} is a symlink; refusing to replace it (name the file it points to)")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{target} is {file_kind(mode)}, not a regular file; refusing to write it")


def check_directory(target: Path) -> None:
    """Refuse a target whose directory does not exist: a mistyped path must not create directories."""
    parent = target.parent
    if not parent.is_dir():
        what = "not a directory" if parent.exists() else "no such directory"
        raise UsageError(f"{parent}: {what} (create it first)")


def check_output(target: Path) -> None:
    """Everything `write_atomic` would refuse for an output, checked before any work is done."""
    check_target(target)
    check_directory(target)


def _symlink_error(display: Path) -> ConflictError:
    return ConflictError(f"{display} is a symlink; refusing to write through it")


def _open_directory(target: Path, root: Path | None, make_parents: bool, dir_mode: int) -> int:
    """A descriptor of the target's directory; below `root` no component may be a symlink."""
    if root is None:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
        try:
            return os.open(target.parent, _DIR_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            check_directory(target)
            raise
    relative = target.relative_to(root)
    if any(part in (".", "..") for part in relative.parts):
        raise ConflictError(f"{relative} leaves {root}")
    fd = os.open(root, _DIR_FLAGS)
    current = root
    try:
        for part in relative.parts[:-1]:
            current = current / part
            try:
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not make_parents:
                    raise UsageError(f"{current}: no such directory") from None
                os.mkdir(part, dir_mode, dir_fd=fd)
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise _symlink_error(current) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_atomic(target: Path, content: bytes, mode: int = 0o666, *, exact_mode: bool = False,
                 root: Path | None = None, make_parents: bool = False, dir_mode: int = 0o777) -> None:
    """Write `content` to `target` whole or not at all (see the module docstring for mode and paths).

    Refusals are ConflictError/UsageError; the OS's own failures stay OSError for callers that undo
    work (scaffold); `write_user_file` turns them into one line.
    """
    directory = _open_directory(target, root, make_parents, dir_mode)
    name = target.name
    try:
        try:
            existing = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode
        except FileNotFoundError:
            existing = None
        if existing is not None:
            _refuse_non_regular(target, existing)
        temporary = f".{name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     mode & 0o7777, dir_fd=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                if exact_mode:
                    os.fchmod(handle.fileno(), mode & 0o7777)
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            # rename(2) replaces the name itself: a symlink put there since the check is replaced, not followed.
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=directory)
            raise
        with contextlib.suppress(OSError):  # some filesystems cannot sync a directory; the rename is atomic
            os.fsync(directory)
    finally:
        os.close(directory)


def write_user_file(target: Path, content: bytes, mode: int = 0o666, *, exact_mode: bool = False,
                    root: Path | None = None, make_parents: bool = False, dir_mode: int = 0o777) -> None:
    """`write_atomic` for a command's own output: a refusal of the OS (permissions, a read-only or
    full filesystem) is a one-line usage error naming the target."""
    try:
        write_atomic(target, content, mode, exact_mode=exact_mode, root=root, make_parents=make_parents,
                     dir_mode=dir_mode)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc.__class__.__name__}") from None


def write_output(target: Path, text: str, force: bool, mode: int = 0o666) -> None:
    """Write a generated file a user asked for: an existing different file only with --force."""
    check_output(target)
    if os.path.lexists(target) and not force:
        try:
            same = read_regular(os.fspath(target)) == text.encode("utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {os_error_message(exc, target)}") from None
        if not same:
            raise ConflictError(f"{target} exists; use --force to replace it")
    write_user_file(target, text.encode("utf-8"), mode)
