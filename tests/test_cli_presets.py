"""`hardcase presets` (list and show) and `hardcase new --help`."""

from __future__ import annotations

import json
import re

import pytest
from scaffold_support import REPO, assert_one_line_error, run_cli, run_ok

from generator.core import catalog
from generator.scaffold import answers


def test_presets_json_lists_every_preset_with_name_language_description() -> None:
    listed = json.loads(run_ok("presets", "--format", "json").stdout)
    shipped = sorted(path.stem for path in (REPO / "presets").glob("*.yaml"))
    assert len(shipped) == 4
    assert sorted(entry["name"] for entry in listed) == shipped
    for entry in listed:
        assert set(entry) == {"name", "language", "description"}
        assert entry["language"] in catalog.languages()
        assert isinstance(entry["description"], str) and entry["description"].strip()


def test_presets_text_lists_every_preset_once() -> None:
    listed = json.loads(run_ok("presets", "--format", "json").stdout)
    lines = run_ok("presets").stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(entry["name"] for entry in listed)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_presets_show(fmt: str) -> None:
    result = run_ok("presets", "show", "python-fastapi", "--format", fmt)
    if fmt == "json":
        shown = json.loads(result.stdout)
        assert shown["name"] == "python-fastapi"
        assert isinstance(shown["description"], str) and shown["description"]
        assert shown["language"] == "python"
        assert set(shown["answers"]) <= set(answers.QUESTION_BY_KEY)
        assert {"name", "description"} <= set(shown["answers"])
    else:
        first, *rows = result.stdout.splitlines()
        assert first.startswith("python-fastapi: ")
        shown_keys = {row.split()[0] for row in rows}
        assert {"name", "description"} <= shown_keys <= set(answers.QUESTION_BY_KEY)


def test_presets_show_unknown_and_missing_name() -> None:
    assert_one_line_error(run_cli("presets", "show", "nope"), 2, mentions="nope")
    assert_one_line_error(run_cli("presets", "show"), 2)


def test_new_help_lists_the_answer_keys(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli("new", "--help")
    assert result.exit_code == 0
    text = result.stdout + capsys.readouterr().out  # argparse writes --help to sys.stdout
    _, marker, epilog = text.partition("answer keys")
    assert marker, text
    listed = [m.group(1) for m in re.finditer(r"^\s{2}([a-z_]+)\s{2,}\S", epilog, re.MULTILINE)]
    assert "name" in listed and "description" in listed
    assert listed == [q.key for q in answers.QUESTIONS]
