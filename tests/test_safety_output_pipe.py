"""Output closed early (issue #11): `hardcase … | head -1` ends quietly with 141 (128 + SIGPIPE, what the
shell reports for other tools), never with a BrokenPipeError traceback, on check's fast start and on
the full command line. Real processes and real pipes: only they show what happens at exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scaffold_support import REPO

OUTPUT_CLOSED = 141


def environment(unbuffered: bool) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(REPO)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def big_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dockerfiles whose report (~200 KB) is far larger than a pipe's buffer (64 KB)."""
    directory = tmp_path_factory.mktemp("big")
    for index in range(40):
        body = "".join(f"MAINTAINER x{line}\n" for line in range(50))
        (directory / f"{index}.Dockerfile").write_text(f"FROM debian:12\n{body}", encoding="utf-8")
    return directory


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", [
    ["check", "{big}"],  # check's fast start
    ["check", "{big}", "--format", "sarif"],
    ["check", "--", "{big}"],  # the full command line
    ["seccomp", "generate", "--runtime", "python"],
    ["presets"],
])
def test_a_closed_pipe_ends_quietly_with_141(big_dir: Path, argv: list[str], unbuffered: bool) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails
    try:
        proc = subprocess.run([sys.executable, "-m", "generator", *(a.format(big=big_dir) for a in argv)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, cwd=big_dir,
                              env=environment(unbuffered), timeout=120, check=False)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (OUTPUT_CLOSED, "")


@pytest.mark.parametrize("words", [["{big}"], ["--", "{big}"], ["{big}", "--format", "json"]])
def test_check_piped_into_head(big_dir: Path, words: list[str]) -> None:
    script = 'set -o pipefail; "$0" -m generator check "$@" | head -1'
    proc = subprocess.run(["bash", "-c", script, sys.executable, *(w.format(big=big_dir) for w in words)],
                          capture_output=True, text=True, cwd=big_dir, env=environment(False), timeout=120,
                          check=False)
    assert (proc.returncode, proc.stderr) == (OUTPUT_CLOSED, "")
    assert len(proc.stdout.splitlines()) == 1


def test_an_open_pipe_still_gets_everything(big_dir: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "generator", "check", str(big_dir)], capture_output=True,
                          text=True, cwd=big_dir, env=environment(False), timeout=120, check=False)
    assert proc.returncode == 1 and proc.stderr == ""
    assert proc.stdout.endswith("2120 finding(s) in 40 file(s)\n")


def test_a_broken_pipe_inside_hardcase_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a closed *output* ends quietly; an internal pipe breaking is a bug and must stay visible."""
    from generator.cli import main as cli_main

    def broken(*_: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli_main, "main", broken)
    monkeypatch.setattr(sys, "argv", ["hardcase", "presets"])
    with pytest.raises(BrokenPipeError):
        cli_main.entry()
