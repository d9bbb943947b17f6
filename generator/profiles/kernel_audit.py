"""Record the kernel's seccomp audit lines (`type=1326 ... syscall=N`) while a container runs.

A profile whose action is SCMP_ACT_LOG makes the kernel log every call it lets through. Without
auditd those lines go to the kernel ring buffer through printk, which is rate-limited
(kernel.printk_ratelimit, 5 s by default) and small, so the recorder sets the rate limit to 0 while
it records (and always restores it) and drains /dev/kmsg in a thread as the lines arrive. /dev/kmsg
reports records overwritten before they were read (EPIPE): those are counted, never hidden.

Attribution: the audit line's pid is the host pid. When the line is read the process usually still
exists, so its cgroup is read from /proc/PID/cgroup and kept with the line; the caller keeps lines
whose cgroup names its container and drops lines from any other live process. A process that
exited before its line was read (runc's short-lived init, a finished health check) has no cgroup
left: such a line is attributed by the recording window, which the caller makes exclusive with a
lock (one learn at a time) and which only processes under a LOG-action filter can write into.

Host access fails as one line (a UsageError naming the path and the OS's reason): `check_host`
opens everything the recorder needs before the minutes of building and running, and the recorder
and the lock turn any later refusal (a read-only /proc/sys, dmesg_restrict, a lock file someone
else owns) into the same kind of line instead of a traceback.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from generator.core.errors import EngineError, UsageError, file_kind

KMSG = Path("/dev/kmsg")
LOCK_FILE = Path("/run/lock/hardcase-seccomp-learn.lock")
RATELIMIT = Path("/proc/sys/kernel/printk_ratelimit")
AUDIT_LINE = re.compile(r"type=1326\b.*?\bpid=(\d+)\b.*?\barch=([0-9a-fA-F]+)\b.*?\bsyscall=(\d+)\b")
# Kernel messages that say audit records were dropped before reaching the log.
DROPPED = re.compile(r"audit: (?:audit_lost=|rate limit exceeded|backlog limit exceeded|printk limit exceeded)"
                     r"|callbacks suppressed")
X32_SYSCALL_BIT = 0x40000000
AUDIT_ARCH_X86_64, AUDIT_ARCH_X32 = 0xC000003E, 0x4000003E


@dataclass(frozen=True)
class Hit:
    """One logged system call: host pid, audit arch, number, and the process's cgroup when it was read."""

    pid: int
    arch: int
    number: int
    cgroup: str | None


def parse_record(record: str) -> tuple[int, int, int] | None:
    """(pid, audit arch, syscall number) of a seccomp audit record, or None for any other message."""
    match = AUDIT_LINE.search(record)
    if match is None:
        return None
    pid, arch, number = int(match[1]), int(match[2], 16), int(match[3])
    if arch == AUDIT_ARCH_X86_64 and number & X32_SYSCALL_BIT:
        arch, number = AUDIT_ARCH_X32, number & ~X32_SYSCALL_BIT
    return pid, arch, number


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _kmsg_error(exc: OSError) -> UsageError:
    return UsageError(f"cannot read the kernel log {KMSG}: {_reason(exc)} (seccomp learn needs it)")


def _ratelimit_error(exc: OSError) -> UsageError:
    return UsageError(f"cannot set kernel.printk_ratelimit ({RATELIMIT}): {_reason(exc)} (seccomp learn "
                      "needs it at 0 while it records)")


def check_host() -> None:
    """Root, a readable kernel log and a writable printk_ratelimit, checked by opening them (nothing is
    changed): access(2) would miss dmesg_restrict and a read-only /proc/sys."""
    if os.geteuid() != 0:
        raise UsageError("seccomp learn must run as root: it reads the kernel log (/dev/kmsg) and sets "
                         "kernel.printk_ratelimit while it records")
    for path, flags, error in ((KMSG, os.O_RDONLY | os.O_NONBLOCK, _kmsg_error),
                               (RATELIMIT, os.O_RDWR, _ratelimit_error)):
        try:
            os.close(os.open(path, flags | os.O_CLOEXEC))
        except OSError as exc:
            raise error(exc) from None


@contextmanager
def exclusive() -> Iterator[None]:
    """One learn at a time on this host: the recording window is how lines of exited processes are attributed.

    /run/lock is writable by every user, so the lock file is opened without following a symlink and
    without blocking (a FIFO put there would block an open for writing), read-only (flock needs no
    more), created private, and must be a regular file.
    """
    try:
        LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(LOCK_FILE, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        reason = "a symlink; refusing to follow it" if exc.errno == errno.ELOOP else _reason(exc)
        raise UsageError(f"cannot open the lock {LOCK_FILE}: {reason}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"the lock {LOCK_FILE} is {file_kind(mode)}, not a regular file; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineError(f"another seccomp learn is recording on this host (lock {LOCK_FILE})") from None
        except OSError as exc:
            raise UsageError(f"cannot lock {LOCK_FILE}: {_reason(exc)}") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _cgroup(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


class Recorder:
    """Context manager: set printk_ratelimit to 0, drain /dev/kmsg into `hits` until exit, restore."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.lost_records = 0  # overwritten in the ring buffer before they were read
        self.dropped_messages = 0  # the kernel said it dropped audit records
        self._fd = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._saved_ratelimit: str | None = None
        self._cgroups: dict[int, str | None] = {}
        self._error: OSError | None = None  # what ended the reading thread

    def __enter__(self) -> Recorder:
        try:
            self._fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise _kmsg_error(exc) from None
        try:
            try:
                os.lseek(self._fd, 0, os.SEEK_END)  # only what is logged from now on
            except OSError as exc:
                raise _kmsg_error(exc) from None
            try:
                self._saved_ratelimit = RATELIMIT.read_text(encoding="ascii").strip()
                RATELIMIT.write_text("0\n", encoding="ascii")
            except OSError as exc:
                raise _ratelimit_error(exc) from None
        except BaseException:
            os.close(self._fd)
            raise
        self._thread = threading.Thread(target=self._drain, name="kmsg-recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Stop, read the rest, restore the rate limit. A failure to read or restore is raised as one
        line unless another exception is already on its way out (that one is the news)."""
        self._stop.set()
        try:
            if self._thread is not None:
                self._thread.join(timeout=30)
            if self._error is None:
                self._read_available()  # whatever arrived after the thread's last pass
        except OSError as exc:
            self._error = exc
        finally:
            os.close(self._fd)
            if self._saved_ratelimit is not None:
                try:
                    RATELIMIT.write_text(self._saved_ratelimit + "\n", encoding="ascii")
                except OSError as exc:
                    if kind is None:
                        raise UsageError(f"could not restore kernel.printk_ratelimit to {self._saved_ratelimit} "
                                         f"({RATELIMIT}): {_reason(exc)}; set it by hand") from None
        if self._error is not None and kind is None:
            raise _kmsg_error(self._error)

    def _drain(self) -> None:
        """The reading thread: an error ends it and is raised by __exit__, in the caller's thread (a
        thread's own exception would only print a traceback and lose the lines)."""
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([self._fd], [], [], 0.2)
                if ready:
                    self._read_available()
        except OSError as exc:
            self._error = exc

    def _read_available(self) -> None:
        while True:
            try:
                record = os.read(self._fd, 8192)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # the ring buffer wrapped past us
                    self.lost_records += 1
                    continue
                raise
            if not record:
                return
            text = record.decode("utf-8", errors="replace").split(";", 1)[-1]
            parsed = parse_record(text)
            if parsed is None:
                self.dropped_messages += bool(DROPPED.search(text))
                continue
            pid, arch, number = parsed
            if pid not in self._cgroups:
                self._cgroups[pid] = _cgroup(pid)
            self.hits.append(Hit(pid, arch, number, self._cgroups[pid]))
