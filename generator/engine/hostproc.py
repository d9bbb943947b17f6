"""Observe a running container from the host: /proc, cgroups, mounts, namespaces.

These probes work for every image, including distroless ones with no shell, because the kernel
shows the host root each container process's credentials, limits and mounts. They need a local
engine (the container's processes must be visible in this host's /proc). Files inside the
container are never opened through `container_root(pid)` directly: a symlink below it resolves
against the host's root, so probes go through `rootfs`, which resolves inside the container's.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def status(pid: int) -> dict[str, str]:
    fields = {}
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def limits(pid: int) -> dict[str, tuple[str, str]]:
    result = {}
    for line in (PROC / str(pid) / "limits").read_text().splitlines()[1:]:
        name = line[:26].strip()
        parts = line[26:].split()
        if len(parts) >= 2:
            result[name] = (parts[0], parts[1])
    return result


def mounts(pid: int) -> dict[str, tuple[str, set[str]]]:
    """Mount point → (filesystem type, mount and super options) as the process sees them."""
    result = {}
    for line in (PROC / str(pid) / "mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        options = set(fields[5].split(",")) | set(extra[2].split(",") if len(extra) > 2 else [])
        result[fields[4]] = (extra[0], options)
    return result


def namespace(pid: int | str, kind: str) -> str:
    return os.readlink(PROC / str(pid) / "ns" / kind)


def container_root(pid: int) -> Path:
    return PROC / str(pid) / "root"


def cgroup_dir(pid: int, controller: str) -> Path:
    """The cgroup directory of `pid` for a v1 controller, or its unified (v2) directory."""
    for line in (PROC / str(pid) / "cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and controllers == "":
            unified = CGROUP_ROOT / path.lstrip("/")
            if (CGROUP_ROOT / "cgroup.controllers").exists():
                return unified
        if controller in controllers.split(","):
            return CGROUP_ROOT / controllers / path.lstrip("/")
    raise FileNotFoundError(f"no {controller} cgroup for pid {pid}")


def read_cgroup(pid: int, controller: str, v1_name: str, v2_name: str) -> str:
    directory = cgroup_dir(pid, controller)
    for name in (v1_name, v2_name):
        candidate = directory / name
        if candidate.exists():
            return candidate.read_text().strip()
    raise FileNotFoundError(f"{directory}: neither {v1_name} nor {v2_name}")


def fork_until_refused(pid: int, ceiling: int) -> tuple[int, int | None]:
    """Join `pid`'s pids cgroup in a child and fork until the kernel refuses.

    Returns (children forked, errno of the refusal or None when `ceiling` was reached first).
    The forked children sleep and are killed before this returns; the host's own processes are
    never affected because only the joined child and its children live in that cgroup.
    """
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked probe
        os.close(read_fd)
        code = 0
        try:
            procs = cgroup_dir(pid, "pids") / "cgroup.procs"
            procs.write_text(str(os.getpid()))
            forked: list[int] = []
            refusal = 0
            while len(forked) < ceiling:
                try:
                    grandchild = os.fork()
                except OSError as exc:
                    refusal = exc.errno or -1
                    break
                if grandchild == 0:
                    time.sleep(30)
                    os._exit(0)
                forked.append(grandchild)
            for grandchild in forked:
                os.kill(grandchild, signal.SIGKILL)
            for grandchild in forked:
                os.waitpid(grandchild, 0)
            os.write(write_fd, f"{len(forked)} {refusal}".encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        report = reader.read()
    os.waitpid(child, 0)
    if not report:
        raise OSError("fork probe could not join the container's pids cgroup")
    count, refusal = (int(x) for x in report.split())
    return count, (refusal or None)
