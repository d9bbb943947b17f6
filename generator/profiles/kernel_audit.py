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
"""

from __future__ import annotations

import errno
import os
import re
import select
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

KMSG = Path("/dev/kmsg")
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

    def __enter__(self) -> Recorder:
        self._fd = os.open(KMSG, os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.lseek(self._fd, 0, os.SEEK_END)  # only what is logged from now on
            self._saved_ratelimit = RATELIMIT.read_text(encoding="ascii").strip()
            RATELIMIT.write_text("0\n", encoding="ascii")
        except BaseException:
            os.close(self._fd)
            raise
        self._thread = threading.Thread(target=self._drain, name="kmsg-recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        try:
            if self._thread is not None:
                self._thread.join(timeout=30)
            self._read_available()  # whatever arrived after the thread's last pass
        finally:
            os.close(self._fd)
            if self._saved_ratelimit is not None:
                RATELIMIT.write_text(self._saved_ratelimit + "\n", encoding="ascii")

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if ready:
                self._read_available()

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
