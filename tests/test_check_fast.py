"""`hardcase check`'s fast start: `entry()` hands plain `check` command lines to `check_cmd.fast_main`,
which must answer exactly as the full argparse command line does, and must not import what it avoids."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from harden_support import check_imports
from scaffold_support import run_cli

from generator.cli.check import fast_main, parse_fast, path_str

SMALL = "FROM debian:12-slim\nMAINTAINER Jane <j@example.com>\nUSER 10001:10001\n"


def run_fast(*argv: str) -> tuple[int | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = fast_main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", [
    ["{f}"], ["{f}", "--format", "json"], ["--format=sarif", "{f}"], ["{f}", "--fail-on", "error"],
    ["{d}"], ["{d}/./"], ["{d}/missing"], ["{f}", "--config", "{d}/nope.yaml"], ["{d}/empty"],
    ["{f}", "--policy", "{d}/nope.yaml"], ["{f}", "--policy={d}/policy.yaml", "--format", "sarif"],
])
def test_fast_path_answers_like_the_full_command_line(tmp_path: Path, argv: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Dockerfile").write_text(SMALL, encoding="utf-8")
    (tmp_path / "empty").mkdir()
    (tmp_path / "policy.yaml").write_text("banned_instructions: [MAINTAINER]\n", encoding="utf-8")
    words = [w.format(f=tmp_path / "Dockerfile", d=tmp_path) for w in argv]
    code, out, err = run_fast(*words)
    full = run_cli("check", *words)
    assert (code, out, err) == (full.exit_code, full.stdout, full.stderr)


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"], ["x", "--format", "xml"], ["x", "--form", "json"],
                                  ["x", "--format"], ["x", "--fail-on", "--format"], ["x", "--format", "json",
                                  "--format", "text"], ["x", "--unknown"]])
def test_unusual_command_lines_go_to_argparse(argv: list[str]) -> None:
    assert parse_fast(argv) is None


@pytest.mark.parametrize("path", ["Dockerfile", "./Dockerfile", "a//b/", "/x/./y", "//x", "///x", ".", "./", "a/../b"])
def test_paths_are_spelled_as_pathlib_spells_them(path: str) -> None:
    assert path_str(path) == str(Path(path))


def test_check_imports_only_what_it_needs(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(SMALL, encoding="utf-8")
    stdout, loaded = check_imports(tmp_path / "Dockerfile", ("argparse", "dataclasses", "pathlib", "typing", "inspect",
                                                              "json", "ruamel", "jinja2"))
    assert "3 finding(s) in 1 file(s)" in stdout
    assert loaded == []
