"""The interactive path: which questions are asked, in which order, with which defaults; answers
from the prompt are validated like any other; the defaults come from the source already in DIR."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from scaffold_support import assert_one_line_error, files_under, load_yaml, run_cli, run_ok

from generator.core import catalog
from generator.core.errors import AnswerError, UsageError
from generator.scaffold import answers, questions

# The documented interactive order (see `hardcase new --help` and the README).
DOCUMENTED_ORDER = [
    "language",
    "runtime_version",
    "framework",
    "name",
    "description",
    "ports",
    "writable_paths",
    "secrets",
    "memory",
    "cpus",
    "pids",
    "flavour",
]


class Recorder:
    """A stand-in for the prompt: records (key, default, answers so far) and answers from a script."""

    def __init__(self, replies: dict[str, Any] | None = None) -> None:
        self.replies = replies or {}
        self.calls: list[tuple[str, Any, dict[str, Any]]] = []

    def __call__(self, question: answers.Question, default: Any, partial: answers.Partial) -> Any:
        self.calls.append((question.key, default, dict(partial)))
        return self.replies.get(question.key, default)

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.calls]

    def default_for(self, key: str) -> Any:
        return next(default for k, default, _ in self.calls if k == key)


def test_resolve_asks_the_documented_keys_in_order_with_layered_defaults() -> None:
    detected = {"language": "python", "framework": "flask"}
    preset = {"name": "from-preset", "memory": "512m", "secrets": ["db_password"]}
    answers_file = {"pids": 64, "memory": "384m"}
    sets = {"cpus": "1.5"}
    ask = Recorder()
    result = answers.resolve([detected, preset, answers_file, sets], ask=ask)
    assert ask.keys == DOCUMENTED_ORDER
    python = catalog.languages()["python"]
    assert ask.default_for("language") == "python"
    assert ask.default_for("runtime_version") == python.versions[0]
    assert ask.default_for("framework") == "flask"
    assert ask.default_for("name") == "from-preset"
    assert ask.default_for("memory") == "384m"  # the answers file beats the preset
    assert ask.default_for("cpus") == "1.5"
    assert ask.default_for("pids") == 64
    assert ask.default_for("secrets") == ("db_password",)
    assert ask.default_for("ports") == (python.default_port,)
    assert ask.default_for("flavour") == python.flavours[python.versions[0]][0]
    # Each question sees the answers given before it.
    for index, (key, _, partial) in enumerate(ask.calls):
        assert list(partial) == [k for k in [q.key for q in answers.QUESTIONS] if k in partial]
        assert set(DOCUMENTED_ORDER[:index]) <= set(partial), key
    assert (result.name, result.framework, result.memory, result.pids) == ("from-preset", "flask", "384m", 64)


def test_prompt_answers_drive_later_defaults() -> None:
    ask = Recorder({"language": "node"})
    result = answers.resolve([{}], ask=ask)
    node = catalog.languages()["node"]
    assert ask.default_for("runtime_version") == node.versions[0]
    assert ask.default_for("framework") == node.default_framework
    assert ask.default_for("ports") == (node.default_port,)
    assert result.language == "node" and result.ports == (node.default_port,)


def test_prompt_answers_are_coerced_like_flags() -> None:
    ask = Recorder({"ports": "9000, 9001", "secrets": "a_key,b_key", "pids": "256"})
    result = answers.resolve([{}], ask=ask)
    assert result.ports == (9000, 9001)
    assert result.secrets == ("a_key", "b_key")
    assert result.pids == 256


@pytest.mark.parametrize(
    ("key", "reply"),
    [
        ("name", "Bad Name"),
        ("ports", "80"),
        ("language", "rust"),
        ("description", "two\nlines"),
        ("writable_paths", "/etc"),
        ("memory", "lots"),
        ("flavour", "alpine"),
    ],
)
def test_prompt_answers_are_validated(key: str, reply: str) -> None:
    with pytest.raises(AnswerError) as raised:
        answers.resolve([{}], ask=Recorder({key: reply}))
    assert raised.value.key == key


def test_keys_outside_the_interview_are_not_asked() -> None:
    ask = Recorder()
    answers.resolve([{"publish": "none", "syntax_line": "true"}], ask=ask)
    assert not {"publish", "with_app", "registry_mirror", "syntax_line"} & set(ask.keys)


# --- through the CLI -------------------------------------------------------------------------------


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any] | None], Recorder]:
    def install(replies: dict[str, Any] | None = None) -> Recorder:
        fake = Recorder(replies)
        monkeypatch.setattr(questions, "ask", fake)
        return fake

    return install


def test_cli_prompts_on_a_terminal(
    tmp_path: Path, recorder: Callable[[dict[str, Any] | None], Recorder]
) -> None:
    fake = recorder({"name": "asked-name", "memory": "192m"})
    dest = tmp_path / "out"
    result = run_cli("new", dest, "--preset", "python-flask", tty=True)
    assert result.exit_code == 0, result.stderr
    assert fake.keys == DOCUMENTED_ORDER
    assert fake.default_for("framework") == "flask"
    recorded = load_yaml(dest / ".hardcase.yml")
    assert (recorded["name"], recorded["memory"]) == ("asked-name", "192m")
    assert load_yaml(dest / "compose.yaml")["name"] == "asked-name"


@pytest.mark.parametrize(("tty", "flags"), [(True, ["--no-input"]), (False, [])], ids=["no-input", "no-tty"])
def test_cli_does_not_prompt_without_a_terminal_or_with_no_input(
    tty: bool, flags: list[str], tmp_path: Path, recorder: Callable[[dict[str, Any] | None], Recorder]
) -> None:
    fake = recorder(None)
    result = run_cli("new", tmp_path / "out", "--preset", "go-stdlib", *flags, tty=tty)
    assert result.exit_code == 0, result.stderr
    assert fake.calls == []


def test_cli_refuses_a_bad_prompt_answer_and_writes_nothing(
    tmp_path: Path, recorder: Callable[[dict[str, Any] | None], Recorder]
) -> None:
    recorder({"ports": "22"})
    dest = tmp_path / "out"
    assert_one_line_error(run_cli("new", dest, "--preset", "go-stdlib", tty=True), 2, mentions="'ports'")
    assert not dest.exists()


# --- the questionary adapter, driven through a pipe ------------------------------------------------


def _with_keys(keys: str, action: Callable[[], Any]) -> Any:
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=DummyOutput()):
            return action()


CTRL_U, ENTER, DOWN, CTRL_C = "\x15", "\r", "\x1b[B", "\x03"


def test_adapter_text_prompt_rejects_invalid_input_inline() -> None:
    question = answers.QUESTION_BY_KEY["name"]
    reply = _with_keys(
        f"{CTRL_U}Bad_Name{ENTER}{CTRL_U}good-name{ENTER}", lambda: questions.ask(question, "my-service", {})
    )
    assert reply == "good-name"


def test_adapter_text_prompt_offers_the_default() -> None:
    question = answers.QUESTION_BY_KEY["ports"]
    assert (
        _with_keys(ENTER, lambda: questions.ask(question, (8000, 8001), {"language": "python"}))
        == "8000, 8001"
    )


def test_adapter_choice_prompt_offers_the_catalog_choices() -> None:
    question = answers.QUESTION_BY_KEY["language"]
    languages = list(catalog.languages())
    assert _with_keys(f"{DOWN}{ENTER}", lambda: questions.ask(question, languages[0], {})) == languages[1]


def test_adapter_cancel_is_an_error_not_an_answer() -> None:
    question = answers.QUESTION_BY_KEY["description"]
    with pytest.raises(UsageError):
        _with_keys(CTRL_C, lambda: questions.ask(question, "x", {}))


def test_cli_interview_accepting_every_default_matches_no_input(tmp_path: Path) -> None:
    interactive, batch = tmp_path / "interactive", tmp_path / "batch"
    keys = ENTER * len(DOCUMENTED_ORDER)
    result = _with_keys(keys, lambda: run_cli("new", interactive, "--preset", "node-express", tty=True))
    assert result.exit_code == 0, result.stderr
    run_ok("new", batch, "--preset", "node-express", "--no-input")
    assert files_under(interactive) == files_under(batch)


# --- detection of the source already in DIR --------------------------------------------------------

SOURCES: list[tuple[str, dict[str, str], str, str]] = [
    ("requirements-flask", {"requirements.txt": "Flask==3.1.3\ngunicorn==23.0.0\n"}, "python", "flask"),
    (
        "pyproject-fastapi",
        {"pyproject.toml": '[project]\ndependencies = ["fastapi>=0.110"]\n'},
        "python",
        "fastapi",
    ),
    (
        "package-express",
        {"package.json": json.dumps({"dependencies": {"express": "^5.0.0"}})},
        "node",
        "express",
    ),
    ("go-mod", {"go.mod": "module example.com/svc\n\ngo 1.26\n"}, "go", "stdlib"),
]


@pytest.mark.parametrize(
    ("files", "language", "framework"), [s[1:] for s in SOURCES], ids=[s[0] for s in SOURCES]
)
def test_detected_language_and_framework_are_the_defaults(
    files: dict[str, str],
    language: str,
    framework: str,
    tmp_path: Path,
    recorder: Callable[[dict[str, Any] | None], Recorder],
) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    for name, content in files.items():
        (dest / name).write_text(content, encoding="utf-8")
    fake = recorder(None)
    result = run_cli("new", dest, "--dry-run", tty=True)
    assert result.exit_code == 0, result.stderr
    assert fake.default_for("language") == language
    assert fake.default_for("framework") == framework
    # Without prompts the detected values are used as they are.
    run_ok("new", dest, "--no-input")
    recorded = load_yaml(dest / ".hardcase.yml")
    assert (recorded["language"], recorded["framework"]) == (language, framework)
    for name, content in files.items():
        assert (dest / name).read_text(encoding="utf-8") == content, "detection must not touch the source"


def test_a_preset_beats_detection_and_set_beats_the_preset(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "go.mod").write_text("module example.com/svc\n", encoding="utf-8")
    run_ok("new", dest, "--preset", "python-fastapi", "--set", "framework=flask", "--no-input")
    recorded = load_yaml(dest / ".hardcase.yml")
    assert (recorded["language"], recorded["framework"]) == ("python", "flask")
