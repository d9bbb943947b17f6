"""Input cannot drive the terminal (issue #11, item 15): escape sequences, carriage returns, newlines,
bidi overrides and zero-width characters from input files and names are printed as visible escapes in
every text output, JSON and SARIF stay pure ASCII, and ordinary text prints exactly as before.

This file: `printable` itself, `check`/`harden` (full and fast command line), error lines.
`test_safety_output_commands.py` covers the other commands, `test_safety_output_pipe.py` a closed pipe.
"""

from __future__ import annotations

import contextlib
import io
import json
import unicodedata
from pathlib import Path

import pytest
from scaffold_support import ERROR_PREFIX, run_cli

from generator.cli.check import fast_main
from generator.core.terminal import printable

# What a hostile file carries in a value: clear screen, set the window title, a bidi override and
# isolate, a C1 CSI, a zero-width space, DEL (a Dockerfile line cannot hold a CR or line separator).
HOSTILE = "\x1b[2J\x1b]0;owned\x07\u202eevil\u2066\x9b31m\u200b\x7f"
HOSTILE_SHOWN = "\\x1b[2J\\x1b]0;owned\\x07\\u202eevil\\u2066\\x9b31m\\u200b\\x7f"
NAME = "evil\x1b[2J\u202e\r\nforged"  # a file name: a newline in it would forge a report line
NAME_SHOWN = "evil\\x1b[2J\\u202e\\r\\nforged"
ACTIVE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def assert_inert(text: str) -> None:
    """TEXT holds no character a terminal acts on, except the newlines between its lines."""
    active = [char for char in text if char != "\n" and unicodedata.category(char) in ACTIVE]
    assert active == [], f"raw control/format characters reach the terminal: {active!r} in {text!r}"


def hostile_dockerfile(directory: Path, name: str = "Dockerfile") -> Path:
    path = directory / name
    path.write_text(f"FROM debian{HOSTILE}:12\nMAINTAINER x\nUSER 10001:10001\n", encoding="utf-8")
    return path


def run_fast(*argv: str) -> tuple[int | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = fast_main(list(argv))
    return code, out.getvalue(), err.getvalue()


# --- printable -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "plain ASCII: FROM debian:12-slim@sha256:abc (run `hardcase pin`) \\n stays a backslash-n",
    "café, naïve, Größe, 東京, עברית, العربية, emoji 🐳, no-break\u00a0space, ideographic\u3000space",
    "private use \ue000 and a combining accent e\u0301",
])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert printable(text) == text
    assert printable(text, multiline=True) == text


@pytest.mark.parametrize(("char", "shown"), [
    ("\x1b", "\\x1b"), ("\x07", "\\x07"), ("\x00", "\\x00"), ("\r", "\\r"), ("\x7f", "\\x7f"),
    ("\x85", "\\x85"), ("\x9b", "\\x9b"), ("\u202a", "\\u202a"), ("\u202e", "\\u202e"), ("\u2066", "\\u2066"),
    ("\u2069", "\\u2069"), ("\u200e", "\\u200e"), ("\u200f", "\\u200f"), ("\u061c", "\\u061c"),
    ("\u200b", "\\u200b"), ("\u200d", "\\u200d"), ("\ufeff", "\\ufeff"), ("\u00ad", "\\xad"),
    ("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\U000e0041", "\\U000e0041"), ("\udcff", "\\udcff"),
])
def test_each_active_character_is_shown_escaped(char: str, shown: str) -> None:
    assert printable(f"a{char}b") == f"a{shown}b"
    assert printable(f"a{char}b", multiline=True) == f"a{shown}b"


def test_newlines_and_tabs_are_kept_only_in_blocks() -> None:
    assert printable("one\ntwo\tx") == "one\\ntwo\\tx"
    assert printable("one\ntwo\tx\r\n", multiline=True) == "one\ntwo\tx\\r\n"
    assert printable(printable(HOSTILE)) == printable(HOSTILE) == HOSTILE_SHOWN  # idempotent
    assert printable(NAME) == NAME_SHOWN


# --- check and harden ----------------------------------------------------------------------------


def test_check_text_escapes_image_names_and_paths(tmp_path: Path) -> None:
    path = hostile_dockerfile(tmp_path, f"{NAME}.Dockerfile")
    result = run_cli("check", path)
    assert result.exit_code == 1
    assert_inert(result.stdout)
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # three findings and the summary: no forged line
    assert all(line.startswith(f"{tmp_path}/{NAME_SHOWN}.Dockerfile:") for line in lines[:3])
    assert f"base image is not pinned by digest: debian{HOSTILE_SHOWN}:12 (run" in lines[1]


def test_check_fast_path_prints_what_the_full_command_line_prints(tmp_path: Path) -> None:
    path = hostile_dockerfile(tmp_path, f"{NAME}.Dockerfile")
    full = run_cli("check", path)
    assert run_fast(str(path)) == (full.exit_code, full.stdout, full.stderr)
    directory = run_fast(str(tmp_path))  # found by discovery, not named
    assert_inert(directory[1])
    assert NAME_SHOWN in directory[1]


def test_check_compose_escapes_values(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text('services:\n  web:\n    image: "nginx\\e[31m\\u202e\\nforged:1"\n', encoding="utf-8")
    result = run_cli("check", compose)
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert "nginx\\x1b[31m\\u202e\\nforged:1" in result.stdout
    assert not any(line.startswith("forged") for line in result.stdout.splitlines())


@pytest.mark.parametrize("output", ["json", "sarif"])
def test_json_and_sarif_are_ascii_and_keep_the_value(tmp_path: Path, output: str) -> None:
    path = hostile_dockerfile(tmp_path, f"{NAME}.Dockerfile")
    result = run_cli("check", path, "--format", output)
    assert result.stdout.isascii()  # every non-ASCII and control character is a \u escape
    assert_inert(result.stdout)
    messages = (json.loads(result.stdout)["files"][0]["findings"] if output == "json"
                else json.loads(result.stdout)["runs"][0]["results"])
    texts = [m["message"] if output == "json" else m["message"]["text"] for m in messages]
    assert any(f"debian{HOSTILE}:12" in text for text in texts)  # the value itself, not an escaped copy


def test_harden_report_and_diff_are_escaped(tmp_path: Path) -> None:
    path = hostile_dockerfile(tmp_path, f"{NAME}.Dockerfile")
    result = run_cli("harden", path, "--diff")
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert f"--- a/{tmp_path}/{NAME_SHOWN}.Dockerfile\n" in result.stdout
    assert "\n-MAINTAINER x\n" in result.stdout and f"\n FROM debian{HOSTILE_SHOWN}:12\n" in result.stdout
    assert f"debian{HOSTILE_SHOWN}:12" in result.stderr
    hardened = run_cli("harden", path)  # the hardened file on stdout is data: byte-exact, not escaped
    assert f"FROM debian{HOSTILE}:12\n" in hardened.stdout
    assert_inert(hardened.stderr)


def test_harden_diff_of_ordinary_text_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM debian:12-slim\nLABEL note=\"café 東京\tx\"\nMAINTAINER x\nUSER 10001:10001\n",
                    encoding="utf-8")
    result = run_cli("harden", path, "--diff")
    assert ' LABEL note="café 東京\tx"\n' in result.stdout


# --- error lines ---------------------------------------------------------------------------------


def test_error_lines_escape_what_they_quote(tmp_path: Path) -> None:
    missing = str(tmp_path / NAME)
    full = run_cli("check", missing)
    fast = run_fast(missing)
    shown = f"{tmp_path}/{NAME_SHOWN}".replace("\\n", " ")  # an error's newline was already a space
    assert (fast[0], fast[2]) == (full.exit_code, full.stderr) == (2, f"{ERROR_PREFIX}{shown}: "
                                                                     "no such file or directory\n")
    assert run_cli("harden", missing).stderr == f"{ERROR_PREFIX}{shown}: no such file\n"


def test_argparse_error_lines_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("check", "x", f"--{HOSTILE}")
    assert result.exit_code == 2
    err = capsys.readouterr().err
    assert_inert(err)
    assert err.splitlines()[-1] == f"hardcase: error: unrecognized arguments: --{HOSTILE_SHOWN}"
