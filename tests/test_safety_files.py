"""hardcase's own file handling (issue #11, items 8, 10 and the file half of 14): outputs and backups
never more permissive than their source, the umask honoured for new files, no write through or over
a symlink, no directories created for a mistyped -o, and a one-line error (never a traceback or a
hang) for a FIFO, a directory or a refusal of the OS where a file was expected.

Tests run as root, and root passes every permission check, so a read-only directory or unreadable
file is simulated at the OS boundary: `deny` makes os.open / io.open raise EACCES for chosen paths,
as the kernel does for an ordinary user.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import CliResult, assert_one_line_error, run_cli

DOCKERFILE = "FROM debian:12-slim\nMAINTAINER Jane <j@example.com>\nUSER 10001:10001\n"
COMPOSE = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: pw-42\n"
DIGEST = "sha256:" + "ab" * 32


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(saved)


def deny(monkeypatch: pytest.MonkeyPatch, refused: Callable[[str, bool], bool]) -> None:
    """EACCES from os.open and io.open whenever refused(path, creating) says so (creating: O_CREAT/'w'/'x')."""
    real_os_open, real_io_open = os.open, io.open

    def os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        shown = os.fspath(path) if dir_fd is None else os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"),
                                                                     os.fspath(path))
        if refused(shown, bool(flags & os.O_CREAT)):
            raise PermissionError(errno.EACCES, "Permission denied", shown)
        return real_os_open(path, flags, mode, dir_fd=dir_fd)

    def io_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and refused(os.fspath(file), any(c in mode for c in "wxa")):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
        return real_io_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)


def run_guarded(fifo: Path, *argv: str | os.PathLike[str], seconds: float = 10.0) -> CliResult:
    """run_cli, but if it is still blocked on FIFO after SECONDS, open FIFO's other end so it ends, and fail."""
    result: list[CliResult] = []
    worker = threading.Thread(target=lambda: result.append(run_cli(*argv)), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, flags))  # wakes a reader (EOF) or a writer blocked in open
        worker.join(seconds)
        pytest.fail(f"hardcase {' '.join(map(str, argv))} blocked on the FIFO {fifo}")
    return result[0]


# Item 8: modes


def test_harden_output_is_never_more_permissive_than_its_source(tmp_path: Path, umask: Callable[[int], None]) -> None:
    source = tmp_path / "compose.yaml"
    source.write_text(COMPOSE, encoding="utf-8")
    source.chmod(0o600)
    out = tmp_path / "hardened.yaml"
    assert run_cli("harden", source, "-o", out).exit_code == 0
    assert mode_of(out) == 0o600
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    dockerfile.chmod(0o640)
    umask(0o027)
    out.write_text("old", encoding="utf-8")
    out.chmod(0o644)
    assert run_cli("harden", dockerfile, "-o", out, "--force").exit_code == 0  # a replaced wider file narrows too
    assert mode_of(out) == 0o640


def test_in_place_keeps_the_exact_mode_and_the_backup_is_no_wider(tmp_path: Path,
                                                                  umask: Callable[[int], None]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    dockerfile.chmod(0o664)
    umask(0o077)
    assert run_cli("harden", dockerfile, "--in-place").exit_code == 0
    assert mode_of(dockerfile) == 0o664  # the file keeps its own mode, umask or not
    assert mode_of(tmp_path / "Dockerfile.hardcase.bak") == 0o600  # 0664 minus the umask


def test_new_files_honour_the_umask(tmp_path: Path, umask: Callable[[int], None]) -> None:
    umask(0o077)
    profile = tmp_path / "seccomp.json"
    assert run_cli("seccomp", "generate", "--runtime", "python", "-o", profile).exit_code == 0
    assert mode_of(profile) == 0o600
    umask(0o022)
    again = tmp_path / "again.json"
    assert run_cli("seccomp", "generate", "--runtime", "python", "-o", again).exit_code == 0
    assert mode_of(again) == 0o644


def test_pin_backup_keeps_the_source_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          umask: Callable[[int], None]) -> None:
    monkeypatch.setattr("generator.engine.registry.resolve_digest", lambda ref: DIGEST)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12-slim\n", encoding="utf-8")
    dockerfile.chmod(0o600)
    result = run_cli("pin", dockerfile)
    assert result.exit_code == 0, result.stderr
    assert dockerfile.read_text(encoding="utf-8") == f"FROM debian:12-slim@{DIGEST}\n"
    assert mode_of(dockerfile) == 0o600
    assert mode_of(tmp_path / "Dockerfile.hardcase.bak") == 0o600


def test_secret_files_are_private_in_a_private_directory(tmp_path: Path, umask: Callable[[int], None]) -> None:
    source = tmp_path / "compose.yaml"
    source.write_text(COMPOSE, encoding="utf-8")
    umask(0o002)
    assert run_cli("harden", source, "--unsafe-fixes", "--in-place").exit_code == 0
    assert mode_of(tmp_path / "secrets") == 0o700
    assert mode_of(tmp_path / "secrets" / "db_postgres_password") == 0o600


# Item 8: no write through a symlink


def test_a_symlinked_secrets_directory_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "compose.yaml"
    source.write_text(COMPOSE, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "secrets").symlink_to(elsewhere)
    result = run_cli("harden", source, "--unsafe-fixes", "-o", out_dir / "compose.yaml")
    assert_one_line_error(result, 3, mentions="symlink")
    assert list(elsewhere.iterdir()) == [] and not (out_dir / "compose.yaml").exists()


def test_write_atomic_never_writes_through_a_link_below_its_root(tmp_path: Path) -> None:
    from generator.core.errors import ConflictError
    from generator.core.files import write_atomic

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "deeper").mkdir(parents=True)
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").symlink_to(elsewhere)
    with pytest.raises(ConflictError, match="symlink"):
        write_atomic(root / "a" / "b" / "deeper" / "x", b"secret", 0o600, root=root, make_parents=True)
    assert list((elsewhere / "deeper").iterdir()) == []
    (root / "a" / "c").symlink_to(elsewhere / "target")
    with pytest.raises(ConflictError, match="symlink"):  # the last component: replaced is refused too
        write_atomic(root / "a" / "c", b"secret", root=root)
    assert (root / "a" / "c").is_symlink() and not (elsewhere / "target").exists()


# Item 10


def test_in_place_on_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.Dockerfile"
    real.write_text(DOCKERFILE, encoding="utf-8")
    link = tmp_path / "Dockerfile"
    link.symlink_to(real.name)
    assert_one_line_error(run_cli("harden", link, "--in-place"), 3, mentions="symlink")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == DOCKERFILE
    assert not (tmp_path / "Dockerfile.hardcase.bak").exists()
    out = tmp_path / "out.Dockerfile"
    out.symlink_to(real.name)  # -o onto a link, even with --force
    assert_one_line_error(run_cli("harden", real, "-o", out, "--force"), 3, mentions="symlink")
    assert out.is_symlink() and real.read_text(encoding="utf-8") == DOCKERFILE


def test_pin_on_a_symlink_is_refused_before_anything_is_written(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("generator.engine.registry.resolve_digest", lambda ref: DIGEST)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM debian:12-slim\n", encoding="utf-8")
    real = tmp_path / "real.Dockerfile"
    real.write_text("FROM alpine:3\n", encoding="utf-8")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "Dockerfile").symlink_to(real)
    assert_one_line_error(run_cli("pin", tmp_path / "a", tmp_path / "b"), 3, mentions="symlink")
    assert (tmp_path / "b" / "Dockerfile").is_symlink() and real.read_text(encoding="utf-8") == "FROM alpine:3\n"
    assert (tmp_path / "a" / "Dockerfile").read_text(encoding="utf-8") == "FROM debian:12-slim\n"


def test_output_into_a_missing_directory_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "Dockerfile"
    source.write_text(DOCKERFILE, encoding="utf-8")
    missing = tmp_path / "typo" / "deeper"
    assert_one_line_error(run_cli("harden", source, "-o", missing / "Dockerfile"), 2, mentions="no such directory")
    assert_one_line_error(run_cli("seccomp", "generate", "--runtime", "go", "-o", missing / "p.json"), 2,
                          mentions="no such directory")
    assert not (tmp_path / "typo").exists()


# Item 14: directories, FIFOs and the OS's refusals


def test_a_directory_as_output_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "Dockerfile"
    source.write_text(DOCKERFILE, encoding="utf-8")
    directory = tmp_path / "dir"
    directory.mkdir()
    assert_one_line_error(run_cli("harden", source, "-o", directory, "--force"), 2, mentions="directory")
    assert_one_line_error(run_cli("harden", source, "-o", directory), 2, mentions="directory")
    assert_one_line_error(run_cli("seccomp", "generate", "--runtime", "go", "-o", directory), 2, mentions="directory")
    assert_one_line_error(run_cli("seccomp", "generate", "--runtime", "go", "-o", directory, "--force"), 2,
                          mentions="directory")
    assert list(directory.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ("check", "{dockerfile}", "--config", "{fifo}"),
    ("check", "{dockerfile}", "--policy", "{fifo}"),
    ("harden", "{dockerfile}", "--config", "{fifo}"),
    ("seccomp", "check", "{fifo}"),
    ("seccomp", "diff", "{fifo}", "{fifo}"),
    ("harden", "{fifo}"),
    ("pin", "{fifo}"),
])
def test_a_fifo_as_input_is_refused_without_blocking(tmp_path: Path, argv: tuple[str, ...]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    fifo = tmp_path / "Dockerfile.in"
    os.mkfifo(fifo)
    words = [word.format(dockerfile=dockerfile, fifo=fifo) for word in argv]
    message = assert_one_line_error(run_guarded(fifo, *words), 2, mentions=str(fifo))
    assert "FIFO" in message


@pytest.mark.parametrize("argv", [
    ("seccomp", "generate", "--runtime", "go", "-o", "{fifo}"),
    ("seccomp", "generate", "--runtime", "go", "-o", "{fifo}", "--force"),
    ("harden", "{dockerfile}", "-o", "{fifo}", "--force"),
])
def test_a_fifo_as_output_is_refused(tmp_path: Path, argv: tuple[str, ...]) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE, encoding="utf-8")
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    words = [word.format(dockerfile=dockerfile, fifo=fifo) for word in argv]
    assert_one_line_error(run_guarded(fifo, *words), 2, mentions="FIFO")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_fifo_where_a_secret_file_would_go_is_never_read(tmp_path: Path) -> None:
    source = tmp_path / "compose.yaml"
    source.write_text(COMPOSE, encoding="utf-8")
    (tmp_path / "secrets").mkdir()
    fifo = tmp_path / "secrets" / "db_postgres_password"
    os.mkfifo(fifo)
    result = run_guarded(fifo, "harden", source, "--unsafe-fixes", "--in-place")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "secrets" / "db_postgres_password_2").read_text(encoding="utf-8") == "pw-42"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_writes_into_a_read_only_directory_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "Dockerfile"
    source.write_text(DOCKERFILE, encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    deny(monkeypatch, lambda path, creating: creating and path.startswith(str(locked)))
    assert_one_line_error(run_cli("harden", source, "-o", locked / "Dockerfile"), 2, mentions="Permission denied")
    assert_one_line_error(run_cli("seccomp", "generate", "--runtime", "go", "-o", locked / "p.json"), 2,
                          mentions="Permission denied")
    inside = locked / "Dockerfile"
    monkeypatch.undo()
    inside.write_text(DOCKERFILE, encoding="utf-8")
    deny(monkeypatch, lambda path, creating: creating and path.startswith(str(locked)))
    assert_one_line_error(run_cli("harden", inside, "--in-place"), 2, mentions="Permission denied")
    monkeypatch.setattr("generator.engine.registry.resolve_digest", lambda ref: DIGEST)
    assert_one_line_error(run_cli("pin", inside), 2, mentions="Permission denied")
    assert inside.read_text(encoding="utf-8") == DOCKERFILE
    assert sorted(p.name for p in locked.iterdir()) == ["Dockerfile"]


def test_unreadable_inputs_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ERRNO"}\n', encoding="utf-8")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12-slim\n", encoding="utf-8")
    deny(monkeypatch, lambda path, creating: path in (str(profile), str(dockerfile)))
    assert_one_line_error(run_cli("seccomp", "check", profile), 2, mentions="Permission denied")
    assert_one_line_error(run_cli("seccomp", "diff", profile, profile), 2, mentions="Permission denied")
    assert_one_line_error(run_cli("pin", dockerfile), 2, mentions="Permission denied")
    assert_one_line_error(run_cli("harden", dockerfile), 2, mentions="Permission denied")
