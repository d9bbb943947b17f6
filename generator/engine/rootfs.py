"""Paths inside a container's root filesystem, resolved as the container would resolve them.

`verify` looks at a running container's files from the host through /proc/PID/root. The kernel
enters the container's root there, but a symlink met further down is resolved against the *host's*
root: `/run/secrets/db -> /etc/shadow` in the image would read the host's /etc/shadow, and a
WORKDIR linked to `/tmp` would have the read-only probe create a file in the host's /tmp. So no
probe hands such a path to open(2). `_walk` resolves one component at a time from a descriptor of
the container root: every component is opened with O_NOFOLLOW relative to its directory's
descriptor, a symlink's target is read (readlinkat) and walked again from the container root when
it is absolute, `..` never climbs above that root, and at most MAX_LINKS links are followed
(ELOOP after that, as the kernel does). The last component is opened with O_NOFOLLOW too, so a link
swapped in between the check and the open fails instead of escaping.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_LINKS = 40  # the kernel's own limit (MAXSYMLINKS)
MAX_DEPTH = 128  # directory levels `walk` descends
_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR = _PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LIST = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _walk(root: Path, path: str, follow_last: bool) -> tuple[int, str]:
    """(a descriptor of the directory holding PATH's last component, that component's name);
    the name is "." when PATH resolves to a directory itself (`/`, `a/..`). The caller closes the fd."""
    stack = [os.open(root, _PATH | os.O_DIRECTORY | os.O_CLOEXEC)]  # stack[0]: the container's root
    pending = [part for part in reversed(path.split("/")) if part not in ("", ".")]
    links = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            if "\0" in part:
                raise OSError(errno.EINVAL, "NUL in a path", path)
            last = not pending
            if last and not follow_last:
                return stack.pop(), part
            try:
                info = os.stat(part, dir_fd=stack[-1], follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return stack.pop(), part  # the caller's open says what a missing name means
                raise
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", path)
                target = os.readlink(part, dir_fd=stack[-1])
                if target.startswith("/"):  # absolute: from the container's root, not the host's
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            if last:
                return stack.pop(), part
            stack.append(os.open(part, _DIR, dir_fd=stack[-1]))  # ENOTDIR for a file; ELOOP if swapped for a link
        return stack.pop(), "."
    finally:
        for fd in stack:
            os.close(fd)


def lstat(root: Path, path: str) -> os.stat_result:
    """stat of PATH inside ROOT, not following its last component."""
    directory, name = _walk(root, path, follow_last=False)
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False)
    finally:
        os.close(directory)


def stat_path(root: Path, path: str) -> os.stat_result:
    """stat of what PATH names inside ROOT (links followed, inside ROOT)."""
    directory, name = _walk(root, path, follow_last=True)
    try:
        return os.stat(name, dir_fd=directory, follow_symlinks=False)
    finally:
        os.close(directory)


def read_bytes(root: Path, path: str, limit: int) -> bytes:
    """Up to LIMIT bytes of the regular file PATH names inside ROOT (a FIFO or device is refused)."""
    directory, name = _walk(root, path, follow_last=True)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=directory)
    finally:
        os.close(directory)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        chunks, size = [], 0
        while size < limit and (chunk := os.read(fd, min(1 << 20, limit - size))):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def try_create(root: Path, path: str) -> int | None:
    """errno of creating (then removing) the file PATH inside ROOT, or None when the write succeeded.

    The file is created with O_EXCL and O_NOFOLLOW in the directory resolved inside ROOT, so the probe
    never creates, truncates or follows anything outside the container."""
    try:
        directory, name = _walk(root, path, follow_last=False)
    except OSError as exc:
        return exc.errno or errno.EIO
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=directory)
        try:
            os.write(fd, b"hardcase verify probe\n")
        finally:
            os.close(fd)
        os.unlink(name, dir_fd=directory)
    except OSError as exc:
        return exc.errno or errno.EIO
    finally:
        os.close(directory)
    return None


def walk(root: Path, path: str, skip: Callable[[str], bool] = lambda relative: False,
         ) -> Iterator[tuple[str, os.stat_result]]:
    """(path relative to PATH, lstat) for PATH's directory and everything below it, inside ROOT, in
    sorted depth-first order. Symlinks are reported, never followed (each directory is opened with
    O_NOFOLLOW relative to its parent's descriptor); SKIP(relative) leaves an entry and what is below
    it out; below MAX_DEPTH levels nothing more is opened."""
    directory, name = _walk(root, path, follow_last=True)
    try:
        top = os.open(name, _LIST, dir_fd=directory)
    finally:
        os.close(directory)
    stack: list[tuple[int, Iterator[str], str]] = [(top, iter([]), "")]
    try:
        stack[0] = (top, iter(_names(top)), "")
        yield ".", os.fstat(top)
        while stack:
            fd, names, prefix = stack[-1]
            entry = next(names, None)
            if entry is None:
                os.close(fd)
                stack.pop()
                continue
            relative = prefix + entry
            if skip(relative):
                continue
            try:
                info = os.stat(entry, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while walking
            yield relative, info
            if stat.S_ISDIR(info.st_mode) and len(stack) < MAX_DEPTH:
                child = os.open(entry, _LIST, dir_fd=fd)
                stack.append((child, iter(_names(child)), relative + "/"))
    finally:
        for fd, _names_left, _prefix in stack:
            os.close(fd)


def _names(fd: int) -> list[str]:
    with os.scandir(fd) as entries:
        return sorted(entry.name for entry in entries)
