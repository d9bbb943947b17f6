"""`verify` and the engine adapter (issue #11, item 9, the engine half of 14, and the verify fixes).
The resolver itself is tested in test_safety_engine_rootfs.py.

A container's files are reached from the host through /proc/PID/root, where a symlink in the image
resolves against the host's root. `rootfs` resolves inside the container root instead; here a fake
root in tmp_path holds absolute and relative links to a "host" file outside it, and the probes are
run against that root (hostproc.container_root patched): they must read, list and create only
inside it. Where the same absolute path also exists inside the root (a decoy), the probe must see
the decoy, which is what the container itself would see.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import assert_one_line_error, run_cli

from generator.core.errors import EngineError
from generator.engine import docker, hostproc, probes
from generator.engine.probe_target import Target


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A directory standing for the host: a secret file and a world-writable file."""
    directory = tmp_path / "host"
    directory.mkdir()
    (directory / "secret").write_bytes(b"HOST SECRET")
    (directory / "writable").write_bytes(b"x")
    (directory / "writable").chmod(0o666)
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


# The probes, on a fake root


def target(root: Path, monkeypatch: pytest.MonkeyPatch, **fields: Any) -> Target:
    monkeypatch.setattr(hostproc, "container_root", lambda pid: root)
    values: dict[str, Any] = {
        "container": {"State": {"Pid": 4242}, "Config": {"Env": []}, "HostConfig": {"ReadonlyRootfs": True}},
        "image": {"Config": {"Env": []}}, "pids": [4242], "uid": 10001, "workdir": "/app", "writable_paths": [],
        "secrets": {}, "ports": [], "publish": "localhost", "memory_bytes": 0, "nano_cpus": 0, "pids_limit": 0,
        "seccomp_profile": {}, "probe_image": "", "image_name": "svc:verify",
    }
    values.update(fields)
    return Target(**values)


def test_runtime_secrets_probe_reads_the_container_file_not_the_host_one(root: Path, host: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes.engine, "docker", lambda *args, **kwargs: docker.Result(0, "", ""))
    monkeypatch.setattr(probes, "_image_layers_contain", lambda image, value: False)
    (root / "run" / "secrets" / "db").symlink_to(host / "secret")
    inside = decoy(root, host / "secret")
    inside.write_bytes(b"inside")
    inside.chmod(0o444)
    passed, evidence = probes.PROBES["runtime-secrets"](target(root, monkeypatch, secrets={"db": b"inside"}))
    assert passed, evidence


def test_immutable_code_probe_walks_the_container_workdir_not_the_host(root: Path, host: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (root / "app").symlink_to(host)  # WORKDIR /app -> the host directory's path, with a world-writable file
    inside = decoy(root, host / "code.py")
    inside.write_bytes(b"")
    inside.chmod(0o644)
    passed, evidence = probes.PROBES["immutable-code"](target(root, monkeypatch))
    assert passed, evidence
    assert evidence.startswith("2 entries under /app")  # the directory and code.py, inside the root


def test_read_only_probe_never_creates_a_file_on_the_host(root: Path, host: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    os.utime(host, ns=(1_000_000_000, 1_000_000_000))
    (root / "app").symlink_to(host)
    decoy(root, host / "x")
    passed, evidence = probes.PROBES["read-only-rootfs"](target(root, monkeypatch))
    assert not passed and "succeeded" in evidence  # the fake root is writable: the probe says so
    assert os.stat(host).st_mtime_ns == 1_000_000_000 and sorted(p.name for p in host.iterdir()) == [
        "secret", "writable"]


# The engine adapter and verify


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_compose_gets_paths_that_work_from_its_own_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hardcase verify my-api`: compose runs inside my-api, so my-api/compose.yaml must not be passed as is."""
    fake = script(tmp_path / "fake-compose", """
while [ $# -gt 0 ]; do
  case "$1" in
    -f) shift; [ -f "$1" ] || { echo "no such file: $1" >&2; exit 14; } ;;
    --project-directory) shift; [ -d "$1" ] || { echo "no such directory: $1" >&2; exit 15; } ;;
  esac
  shift
done
echo ok
""")
    monkeypatch.setenv("HARDCASE_COMPOSE", str(fake))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-api").mkdir()
    (tmp_path / "my-api" / "compose.yaml").write_text("services: {}\n", encoding="utf-8")
    result = docker.compose(Path("my-api"), "p", [Path("my-api") / "compose.yaml"], "ps")
    assert result.stdout.strip() == "ok"


def test_a_docker_client_without_compose_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    fake_docker = script(tmp_path / "docker", "echo \"docker: '$1' is not a docker command.\" >&2\n"
                                              "echo \"See 'docker --help'\" >&2\nexit 1\n")
    monkeypatch.delenv("HARDCASE_COMPOSE", raising=False)
    monkeypatch.setenv("HARDCASE_DOCKER", str(fake_docker))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    with pytest.raises(EngineError) as raised:
        docker.compose(tmp_path, "p", [tmp_path / "compose.yaml"], "ps")
    assert str(raised.value) == ("Compose not found: install the Compose plugin or docker-compose, "
                                 "or set HARDCASE_COMPOSE")


def test_verify_on_an_unreadable_project_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "my-api"
    project.mkdir()
    real_stat = os.stat

    def stat_denied(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path).startswith(str(project) + "/"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_denied)  # a directory root may read, as an ordinary user cannot
    assert_one_line_error(run_cli("verify", project), 2, mentions="Permission denied")
