"""Issue #11, `hardcase update` follows `_template` from .hardcase.yml, a file in the repository: only the
template source this machine last used for the project is followed without asking; any other needs a yes
at the prompt or --template-source-ok. The records live in a private per-user state file."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from scaffold_support import (
    TEMPLATE_PROJECT,
    assert_one_line_error,
    dump_yaml,
    files_under,
    load_yaml,
    make_template,
    run_cli,
    run_ok,
)

PRESET = "go-stdlib"
PLANTED = "PLANTED.txt"


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home


def state_file(home: Path) -> Path:
    return home / "hardcase" / "trusted-templates.json"


def evil_template(root: Path) -> Path:
    """Another template: what a pull request could point `_template` at."""
    template = make_template(root / "evil")
    (template / TEMPLATE_PROJECT / PLANTED).write_text("written by a template nobody reviewed\n")
    return template


def generated(root: Path) -> Path:
    project = root / "svc"
    run_ok("new", project, "--template", make_template(root), "--preset", PRESET, "--no-input")
    return project


def point_at(project: Path, source: Any, checkout: Any = None) -> None:
    """The one-line pull request: `.hardcase.yml` names another template (or ref)."""
    path = project / ".hardcase.yml"
    data = load_yaml(path)
    data["_template"] = source
    if checkout is not None:
        data["_checkout"] = checkout
    dump_yaml(data, path)


def with_keys(keys: str, action: Callable[[], Any]) -> Any:
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=DummyOutput()):
            return action()


def test_new_records_the_template_source_in_a_private_state_file(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    path = state_file(state_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    records = json.loads(path.read_text())["projects"]
    assert records == {str(project.resolve()): {"template": load_yaml(project / ".hardcase.yml")["_template"],
                                                "checkout": None}}
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left behind


def test_a_state_file_that_is_a_symlink_is_not_written_through(tmp_path: Path, state_home: Path) -> None:
    path = state_file(state_home)
    path.parent.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    os.symlink(victim, path)
    project = tmp_path / "svc"
    result = run_ok("new", project, "--template", make_template(tmp_path), "--preset", PRESET, "--no-input")
    assert "note: template source not recorded" in result.stdout
    assert victim.read_text() == "keep me\n" and path.is_symlink()
    assert (project / "Dockerfile").is_file()


def test_update_with_the_recorded_source_needs_no_flag(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    run_ok("update", project)


def test_a_changed_template_source_is_an_error_without_the_flag(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    before = files_under(project)
    message = assert_one_line_error(run_cli("update", project), 2, mentions="--template-source-ok")
    assert "evil" in message and "the last one used here was" in message
    assert files_under(project) == before
    assert_one_line_error(run_cli("update", project, "--dry-run"), 2, mentions="--template-source-ok")


def test_the_flag_accepts_the_new_source_and_records_it(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    evil = evil_template(tmp_path)
    point_at(project, str(evil))
    run_ok("update", project, "--dry-run", "--template-source-ok")
    assert not (project / PLANTED).exists()
    assert_one_line_error(run_cli("update", project), 2, mentions="--template-source-ok")  # a dry run records nothing
    run_ok("update", project, "--template-source-ok")
    assert (project / PLANTED).is_file()
    run_ok("update", project)  # now it is the last one used for this project
    assert json.loads(state_file(state_home).read_text())["projects"][str(project.resolve())]["template"] == str(evil)


def test_a_changed_checkout_counts_as_another_source(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    source = load_yaml(project / ".hardcase.yml")["_template"]
    point_at(project, source, "refs/pull/666/head")
    assert_one_line_error(run_cli("update", project), 2, mentions="'refs/pull/666/head'")


def test_a_template_inside_the_repository_is_not_followed(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    inside = make_template(project / "vendor")
    (inside / TEMPLATE_PROJECT / PLANTED).write_text("x\n")
    point_at(project, "vendor/org-template")
    assert_one_line_error(run_cli("update", project), 2, mentions="--template-source-ok")
    assert not (project / PLANTED).exists()


def test_another_machine_or_a_fresh_clone_must_confirm(tmp_path: Path, state_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project = generated(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "other-machine"))
    message = assert_one_line_error(run_cli("update", project), 2, mentions="--template-source-ok")
    assert "none was recorded on this machine" in message


def test_the_builtin_template_is_always_trusted_and_never_recorded(tmp_path: Path, state_home: Path) -> None:
    project = tmp_path / "svc"
    run_ok("new", project, "--preset", PRESET, "--no-input")
    run_ok("update", project)
    assert not state_file(state_home).exists()


@pytest.mark.parametrize("spoil", ["group-writable", "other-owner", "symlinked-file", "open-dir", "symlinked-dir",
                                   "not-json"])
def test_a_record_someone_else_could_have_written_is_not_believed(
        tmp_path: Path, state_home: Path, spoil: str) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    path = state_file(state_home)
    records = json.loads(path.read_text())
    records["projects"][str(project.resolve())]["template"] = str(tmp_path / "evil" / "org-template")
    forged = json.dumps(records)
    if spoil == "group-writable":
        path.write_text(forged)
        path.chmod(0o620)
    elif spoil == "other-owner":
        path.write_text(forged)
        os.chown(path, 65534, 65534)
    elif spoil == "symlinked-file":
        (tmp_path / "forged.json").write_text(forged)
        path.unlink()
        os.symlink(tmp_path / "forged.json", path)
    elif spoil == "open-dir":
        path.write_text(forged)
        path.parent.chmod(0o777)
    elif spoil == "symlinked-dir":
        (tmp_path / "forged").mkdir(mode=0o700)
        (tmp_path / "forged" / path.name).write_text(forged)
        (tmp_path / "forged" / path.name).chmod(0o600)
        path.unlink()
        path.parent.rmdir()
        os.symlink(tmp_path / "forged", path.parent)
    else:
        path.write_text("{ not json")
    assert_one_line_error(run_cli("update", project), 2, mentions="--template-source-ok")
    assert not (project / PLANTED).exists()


def test_the_forged_record_control_is_believed_when_written_privately(tmp_path: Path, state_home: Path) -> None:
    """The positive control for the test above: the same record, with the file's own modes, is trusted."""
    project = generated(tmp_path)
    evil = evil_template(tmp_path)
    point_at(project, str(evil))
    path = state_file(state_home)
    records = json.loads(path.read_text())
    records["projects"][str(project.resolve())]["template"] = str(evil)
    path.write_text(json.dumps(records))
    run_ok("update", project)
    assert (project / PLANTED).is_file()


@pytest.mark.parametrize("value", [5, ["a", "b"], "", {"a": 1}], ids=["int", "list", "empty", "mapping"])
def test_a_malformed_template_entry_is_one_line(tmp_path: Path, state_home: Path, value: Any) -> None:
    project = generated(tmp_path)
    point_at(project, value)
    assert_one_line_error(run_cli("update", project), 2, mentions="_template")


def test_a_malformed_checkout_entry_is_one_line(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, load_yaml(project / ".hardcase.yml")["_template"], checkout=["--upload-pack=touch x"])
    assert_one_line_error(run_cli("update", project), 2, mentions="_checkout")


# --- the interactive confirmation (through the questionary adapter) -----------------------------------


def test_on_a_terminal_update_asks_and_no_writes_nothing(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    before = files_under(project)
    result = with_keys("n", lambda: run_cli("update", project, tty=True))
    assert_one_line_error(result, 2, mentions="not confirmed")
    assert files_under(project) == before


def test_on_a_terminal_enter_means_no(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    assert_one_line_error(with_keys("\r", lambda: run_cli("update", project, tty=True)), 2, mentions="not confirmed")
    assert not (project / PLANTED).exists()


def test_on_a_terminal_yes_updates_and_records(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    result = with_keys("y", lambda: run_cli("update", project, tty=True))
    assert result.exit_code == 0, result.stderr
    assert (project / PLANTED).is_file()
    run_ok("update", project)


def test_on_a_terminal_ctrl_c_is_a_clean_cancel(tmp_path: Path, state_home: Path) -> None:
    project = generated(tmp_path)
    point_at(project, str(evil_template(tmp_path)))
    assert_one_line_error(with_keys("\x03", lambda: run_cli("update", project, tty=True)), 2, mentions="cancelled")
    assert not (project / PLANTED).exists()
