"""The container-root resolver (`generator.engine.rootfs`, issue #11 item 9) on a fake root in tmp_path:
absolute links, `..`, link loops and chains, FIFOs, directory walks and file creation all stay inside
the root; a "host" directory beside it holds the files an escape would reach."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from generator.engine import rootfs


@pytest.fixture
def host(tmp_path: Path) -> Path:
    directory = tmp_path / "host"
    directory.mkdir()
    (directory / "secret").write_bytes(b"HOST SECRET")
    return directory


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "root"
    (directory / "run" / "secrets").mkdir(parents=True)
    return directory


def decoy(root: Path, host_path: Path) -> Path:
    """The path HOST_PATH inside ROOT: what an absolute link to HOST_PATH names in the container."""
    inside = root / str(host_path).lstrip("/")
    inside.parent.mkdir(parents=True, exist_ok=True)
    return inside


def test_an_absolute_link_resolves_inside_the_root(root: Path, host: Path) -> None:
    (root / "run" / "secrets" / "db").symlink_to(host / "secret")
    with pytest.raises(FileNotFoundError):
        rootfs.read_bytes(root, "/run/secrets/db", 100)
    decoy(root, host / "secret").write_bytes(b"inside")
    assert rootfs.read_bytes(root, "/run/secrets/db", 100) == b"inside"
    assert rootfs.stat_path(root, "/run/secrets/db").st_size == len(b"inside")
    assert stat.S_ISLNK(rootfs.lstat(root, "/run/secrets/db").st_mode)


def test_dotdot_and_relative_links_never_climb_above_the_root(root: Path, host: Path) -> None:
    decoy(root, host / "secret").write_bytes(b"inside")
    climb = "../" * 30 + str(host / "secret").lstrip("/")
    (root / "run" / "up").symlink_to(climb)
    assert rootfs.read_bytes(root, "/run/up", 100) == b"inside"
    assert rootfs.read_bytes(root, "/../../.." + str(host / "secret"), 100) == b"inside"
    (root / "run" / "dir").symlink_to("/")  # a link to / is the container's /
    assert rootfs.read_bytes(root, "/run/dir/run/dir/run/up", 100) == b"inside"


def test_an_intermediate_directory_link_resolves_inside_the_root(root: Path, host: Path) -> None:
    (root / "etc").symlink_to(host)  # /etc -> /…/host: absolute, so the container's own /…/host
    with pytest.raises(FileNotFoundError):
        rootfs.read_bytes(root, "/etc/secret", 100)
    decoy(root, host / "secret").write_bytes(b"inside")
    assert rootfs.read_bytes(root, "/etc/secret", 100) == b"inside"


def test_link_loops_and_long_chains_end_with_eloop(root: Path) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("/a")
    with pytest.raises(OSError) as raised:
        rootfs.read_bytes(root, "/a", 10)
    assert raised.value.errno == errno.ELOOP
    (root / "target").write_bytes(b"end")
    (root / "l0").symlink_to("target")
    for number in range(1, rootfs.MAX_LINKS + 1):
        (root / f"l{number}").symlink_to(f"/l{number - 1}")
    assert rootfs.read_bytes(root, f"/l{rootfs.MAX_LINKS - 1}", 10) == b"end"
    with pytest.raises(OSError) as raised:
        rootfs.read_bytes(root, f"/l{rootfs.MAX_LINKS}", 10)
    assert raised.value.errno == errno.ELOOP


def test_a_fifo_in_the_container_is_not_read(root: Path) -> None:
    os.mkfifo(root / "run" / "secrets" / "db")
    with pytest.raises(OSError) as raised:
        rootfs.read_bytes(root, "/run/secrets/db", 100)
    assert raised.value.errno == errno.EINVAL


def test_walk_reports_links_and_never_enters_them(root: Path, host: Path) -> None:
    (root / "app").mkdir()
    (root / "app" / "code.py").write_bytes(b"")
    (root / "app" / "out").symlink_to(host)
    (root / "app" / "rel").symlink_to("../../../../../../" + str(host).lstrip("/"))
    seen = dict(rootfs.walk(root, "/app"))
    assert sorted(seen) == [".", "code.py", "out", "rel"]
    assert stat.S_ISLNK(seen["out"].st_mode) and stat.S_ISLNK(seen["rel"].st_mode)


def test_try_create_stays_inside_the_root(root: Path, host: Path) -> None:
    os.utime(host, ns=(1_000_000_000, 1_000_000_000))
    (root / "work").symlink_to(host)
    assert rootfs.try_create(root, "/work/.probe") == errno.ENOENT  # /…/host does not exist in the container
    inside = decoy(root, host / "x").parent
    assert rootfs.try_create(root, "/work/.probe") is None
    assert list(inside.iterdir()) == []  # created and removed inside
    (inside / ".probe").symlink_to(host / "new")
    assert rootfs.try_create(root, "/work/.probe") == errno.EEXIST  # never follows a link it finds
    assert not (host / "new").exists()
    assert os.stat(host).st_mtime_ns == 1_000_000_000  # nothing was created in the host directory


