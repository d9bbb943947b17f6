"""Mistakes a user can make with `hardcase new`: one clear line, a documented exit code, and DEST
left exactly as it was. Also the conflict rules: differ → exit 3, --force replaces, equal → unchanged,
--dry-run writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scaffold_support import assert_one_line_error, files_under, preset_names, run_cli, run_ok


@pytest.fixture
def preset() -> str:
    return preset_names()[0]


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        rel: (content, (root / rel).stat().st_mode, (root / rel).stat().st_mtime_ns)
        for rel, content in files_under(root).items()
    }


def assert_new_refused(dest: Path, *args: str | os.PathLike[str], mentions: str | None = None) -> str:
    """`hardcase new DEST ARGS --no-input` fails with one line and exit 2, and creates nothing."""
    message = assert_one_line_error(run_cli("new", dest, *args, "--no-input"), 2, mentions=mentions)
    assert not dest.exists()
    return message


def test_unknown_preset(tmp_path: Path) -> None:
    message = assert_new_refused(tmp_path / "out", "--preset", "no-such-preset")
    assert "no-such-preset" in message
    for name in preset_names():
        assert name in message, "the error should list the presets that exist"


def test_unknown_preset_file(tmp_path: Path) -> None:
    assert_new_refused(tmp_path / "out", "--preset", str(tmp_path / "missing.yaml"), mentions="missing.yaml")


def test_bad_port(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--set", "ports=http", mentions="'ports'")


def test_missing_answers_file(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    missing = tmp_path / "nope.yml"
    assert_new_refused(dest, "--preset", preset, "--answers", missing, mentions=str(missing))


@pytest.mark.parametrize(
    "text",
    [
        "description: [unclosed\n",
        "name: a\n  bad: indentation\n",
        "key: 'unterminated\n",
        "- just\n- a list\n",
        "just a string\n",
        "\tname: tab-indented\n",
    ],
    ids=["flow", "indent", "quote", "list", "scalar", "tab"],
)
def test_malformed_answers_file(text: str, tmp_path: Path, preset: str) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text(text, encoding="utf-8")
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--answers", answers, mentions=str(answers))


def test_answers_file_that_is_not_utf8(tmp_path: Path, preset: str) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_bytes(b"description: \xff\xfe\n")
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--answers", answers)


def test_unknown_answer_key_in_file(tmp_path: Path, preset: str) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text("nmae: typo\n", encoding="utf-8")
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--answers", answers, mentions="'nmae'")


def test_unknown_answer_key_in_set(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--set", "colour=blue", mentions="'colour'")


def test_set_without_equals(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    assert_new_refused(dest, "--preset", preset, "--set", "name", mentions="KEY=VALUE")


def test_dest_below_a_regular_file(tmp_path: Path, preset: str) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory\n")
    dest = blocker / "sub" / "out"
    assert_one_line_error(run_cli("new", dest, "--preset", preset, "--no-input"), 2)
    assert blocker.read_bytes() == b"not a directory\n"


@pytest.mark.parametrize("dest", ["/proc/hardcase-test-not-writable/out", "/sys/hardcase-test-not-writable"])
def test_dest_the_kernel_refuses_even_to_root(dest: str, preset: str) -> None:
    assert not os.path.exists(dest)
    assert_one_line_error(run_cli("new", dest, "--preset", preset, "--no-input"), 2)
    assert not os.path.exists(dest)


# --- existing files --------------------------------------------------------------------------------


def test_existing_file_that_differs_is_a_conflict_and_nothing_is_written(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "compose.yaml").write_bytes(b"services: {}\n")
    message = assert_one_line_error(
        run_cli("new", dest, "--preset", preset, "--no-input"), 3, mentions="compose.yaml"
    )
    assert "--force" in message
    assert files_under(dest) == {"compose.yaml": b"services: {}\n"}


def test_force_replaces_files_that_differ(tmp_path: Path, preset: str) -> None:
    reference = tmp_path / "reference"
    run_ok("new", reference, "--preset", preset, "--no-input")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "compose.yaml").write_bytes(b"services: {}\n")
    (dest / "unrelated.txt").write_bytes(b"mine\n")
    result = run_ok("new", dest, "--preset", preset, "--no-input", "--force")
    actions = step_actions(result.stdout, dest)
    assert actions["compose.yaml"] == "overwrite"
    assert {a for rel, a in actions.items() if rel != "compose.yaml"} == {"create"}
    assert files_under(dest) == {**files_under(reference), "unrelated.txt": b"mine\n"}


def test_identical_content_is_unchanged(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    first = run_ok("new", dest, "--preset", preset, "--no-input")
    assert set(step_actions(first.stdout, dest).values()) == {"create"}
    before = snapshot(dest)
    second = run_ok("new", dest, "--preset", preset, "--no-input")
    actions = step_actions(second.stdout, dest)
    assert sorted(actions) == sorted(before)
    assert set(actions.values()) == {"unchanged"}
    assert snapshot(dest) == before, "an unchanged file was rewritten"


def test_dry_run_writes_nothing_and_lists_the_plan(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    plan = run_ok("new", dest, "--preset", preset, "--no-input", "--with-app", "--dry-run")
    assert not dest.exists()
    planned = step_actions(plan.stdout, dest, prefix="would ")
    assert set(planned.values()) == {"create"}
    real = tmp_path / "real"
    run_ok("new", real, "--preset", preset, "--no-input", "--with-app")
    assert sorted(planned) == sorted(files_under(real))


def test_dry_run_reports_conflicts_without_writing(tmp_path: Path, preset: str) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "Dockerfile").write_bytes(b"FROM scratch\n")
    plan = run_ok("new", dest, "--preset", preset, "--no-input", "--dry-run")
    planned = step_actions(plan.stdout, dest, prefix="would ")
    assert planned["Dockerfile"] == "conflict"
    assert files_under(dest) == {"Dockerfile": b"FROM scratch\n"}


def step_actions(stdout: str, dest: Path, prefix: str = "") -> dict[str, str]:
    """{relative path: action} from the per-file lines `new` prints (`[would ]ACTION PATH`)."""
    actions: dict[str, str] = {}
    for line in stdout.splitlines():
        if not line.startswith(prefix):
            continue
        fields = line[len(prefix) :].split(maxsplit=1)
        if len(fields) != 2 or fields[0] not in ("create", "overwrite", "unchanged", "conflict"):
            continue
        path = Path(fields[1])
        assert path.is_relative_to(dest), line
        actions[path.relative_to(dest).as_posix()] = fields[0]
    assert actions, f"no file lines in {stdout!r}"
    return actions
