"""#11 leftovers in the generate and harden flows: prompts show preset text escaped but return it
unchanged, a template cannot hang rendering, and a package-versions FIFO is named for what it is."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import questionary
from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output
from scaffold_support import TEMPLATE_PROJECT, assert_one_line_error, files_under, make_template, run_cli, run_ok

from generator.core.terminal import printable
from generator.scaffold import answers, questions

PRESET = "go-stdlib"
# What an org preset or answers file may hold: a bidi override (prompt_toolkit prints it as is), an
# OSC title sequence and a CSI clear (prompt_toolkit shows C0 controls as ^[, but not C1 or Cf).
HOSTILE = "evil\u202edrow\x1b]0;owned\x07\x9b2J\u200b"


def unsafe(text: str) -> bool:
    """Whether TEXT holds a character printable() would escape."""
    return printable(text) != text


# --- 2. prompts: escaped on the way out, unchanged on the way back ------------------------------------


class FakePrompt:
    """Stands in for one questionary prompt: records what it was given, answers with `reply(kwargs)`."""

    def __init__(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]], kind: str,
                 reply: Callable[[dict[str, Any]], Any]) -> None:
        self.calls, self.kind, self.reply = calls, kind, reply

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((self.kind, args, kwargs))
        return type("Question", (), {"ask": lambda _self: self.reply(kwargs)})()


def shown_strings(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """Every string a prompt would put on the terminal: message, instruction, choice titles, and the
    default of a text prompt (a select's default is the value of a choice, matched, not shown)."""
    texts = [a for a in args if isinstance(a, str)]
    shown = ("message", "instruction", "default") if kind == "text" else ("message", "instruction")
    texts += [kwargs[k] for k in shown if isinstance(kwargs.get(k), str)]
    for choice in kwargs.get("choices") or []:
        texts.append(choice.title if isinstance(choice, questionary.Choice) else str(choice))
    return texts


def hostile_question(kind: str, **extra: Any) -> answers.Question:
    return answers.Question(key="description", help=f"help {HOSTILE}", kind=kind, default=lambda p: "",
                            check=lambda value, partial: None, **extra)


def test_every_prompt_string_is_escaped_and_every_value_comes_back_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    pick_the_default = lambda kwargs: kwargs["default"]  # noqa: E731 - the user presses Enter
    monkeypatch.setattr(questionary, "text", FakePrompt(calls, "text", pick_the_default))
    monkeypatch.setattr(questionary, "confirm", FakePrompt(calls, "confirm", lambda kwargs: True))
    monkeypatch.setattr(questionary, "select", FakePrompt(calls, "select", pick_the_default))

    assert questions.ask(hostile_question("str"), f"from a preset {HOSTILE}", {}) == f"from a preset {HOSTILE}"
    choices = ("plain", f"choice {HOSTILE}")
    choice = hostile_question("choice", choices=lambda partial: choices)
    assert questions.ask(choice, f"choice {HOSTILE}", {}) == f"choice {HOSTILE}"
    assert questions.ask(hostile_question("bool"), True, {}) is True
    assert questions.confirm(f"use the template git+https://example.com/{HOSTILE}?") is True

    assert [kind for kind, _, _ in calls] == ["text", "select", "confirm", "confirm"]
    for kind, args, kwargs in calls:
        texts = shown_strings(kind, args, kwargs)
        assert texts and not any(unsafe(text) for text in texts), (kind, texts)
    text_kwargs = calls[0][2]
    assert text_kwargs["default"] == printable(f"from a preset {HOSTILE}")
    assert calls[1][2]["default"] == f"choice {HOSTILE}"  # select matches the value, not the title
    assert [c.value for c in calls[1][2]["choices"]] == list(choices)


def test_inline_validation_sees_the_real_default_and_shows_escaped_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def check(value: str, partial: answers.Partial) -> str | None:
        seen.append(value)
        return f"bad {value}" if value != "fixed" else None

    question = answers.Question(key="description", help="h", kind="str", default=lambda p: "", check=check)
    results: list[Any] = []

    def reply(kwargs: dict[str, Any]) -> str:
        results.append(kwargs["validate"](kwargs["default"]))
        return "fixed"

    monkeypatch.setattr(questionary, "text", FakePrompt([], "text", reply))
    assert questions.ask(question, HOSTILE, {}) == "fixed"
    assert seen == [HOSTILE]  # the shown default maps back to the default itself
    assert isinstance(results[0], str) and not unsafe(results[0]) and "bad evil" in results[0]


class Screen(io.StringIO):
    encoding = "utf-8"


def on_a_terminal(keys: str, action: Callable[[], Any]) -> tuple[Any, str]:
    """Run a real prompt with KEYS typed; returns its result and everything it wrote to the terminal."""
    screen = Screen()
    output = Vt100_Output(screen, lambda: Size(rows=24, columns=300), term="xterm")
    with create_pipe_input() as pipe:
        pipe.send_text(keys)
        with create_app_session(input=pipe, output=output):
            result = action()
    return result, screen.getvalue()


ENTER, DOWN = "\r", "\x1b[B"


def test_a_real_text_prompt_shows_the_escaped_default_and_returns_the_real_one() -> None:
    answer, screen = on_a_terminal(ENTER, lambda: questions.ask(hostile_question("str"), HOSTILE, {}))
    assert answer == HOSTILE
    assert "\u202e" not in screen and "\x9b" not in screen and "\u200b" not in screen
    assert "evil\\u202edrow" in screen


def test_a_real_choice_prompt_shows_escaped_titles_and_returns_the_value() -> None:
    choices = ("plain", f"pick {HOSTILE}")
    question = hostile_question("choice", choices=lambda partial: choices)
    answer, screen = on_a_terminal(ENTER, lambda: questions.ask(question, choices[1], {}))
    assert answer == choices[1]
    answer, screen = on_a_terminal(f"{DOWN}{ENTER}", lambda: questions.ask(question, "plain", {}))
    assert answer == choices[1]
    assert "\u202e" not in screen and "\x9b" not in screen and "pick evil\\u202edrow" in screen


def test_a_real_confirmation_shows_the_template_source_escaped() -> None:
    answer, screen = on_a_terminal("y", lambda: questions.confirm(f"use git+https://example.com/{HOSTILE}?"))
    assert answer is True
    assert "\u202e" not in screen and "example.com/evil\\u202edrow" in screen


def test_the_interview_still_returns_preset_values_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through `new`: a plain preset's defaults, accepted at every prompt, generate the --no-input project."""
    interactive, batch = tmp_path / "interactive", tmp_path / "batch"
    keys = ENTER * 12
    result, _ = on_a_terminal(keys, lambda: run_cli("new", interactive, "--preset", PRESET, tty=True))
    assert result.exit_code == 0, result.stderr
    run_ok("new", batch, "--preset", PRESET, "--no-input")
    assert files_under(interactive) == files_under(batch)


# --- 3. rendering is bounded -----------------------------------------------------------------------


def add_file(template: Path, relative: str, text: str) -> None:
    (template / TEMPLATE_PROJECT / relative).write_text(text)


@pytest.mark.parametrize(("text", "exceeded"), [
    ("{% for a in range(100000) %}{% for b in range(100000) %}" + "x" * 100 + "{% endfor %}{% endfor %}\n",
     "MiB of output"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\n", "loop iterations"),
    ("{% set r = range(100000) %}{% for a in r %}{% for b in r %}{% for c in r %}{% endfor %}{% endfor %}"
     "{% endfor %}\n", "loop iterations"),
    ("{% macro m() %}{% for i in range(100000) %}" + "y" * 1000 + "{% endfor %}{% endmacro %}{% set z = m() %}\n",
     "MiB of output"),
    ("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(60) }}\n", "exceeded"),
])
def test_a_template_that_would_run_for_ever_stops_with_one_line(tmp_path: Path, text: str, exceeded: str) -> None:
    template = make_template(tmp_path)
    add_file(template, "LOOP.txt", text)
    dest = tmp_path / "svc"
    started = time.monotonic()
    result = run_cli("new", dest, "--template", template, "--preset", PRESET, "--no-input")
    elapsed = time.monotonic() - started
    message = assert_one_line_error(result, 2, mentions=f"template {TEMPLATE_PROJECT}/LOOP.txt: rendering exceeded")
    assert exceeded in message
    assert elapsed < 15 and not dest.exists()


def test_the_nested_loop_stops_within_five_seconds(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    add_file(template, "LOOP.txt", "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    result = run_cli("new", tmp_path / "svc", "--template", template, "--preset", PRESET, "--no-input")
    assert time.monotonic() - started < 5
    assert_one_line_error(result, 2, mentions="LOOP.txt: rendering exceeded 1000000 loop iterations and calls")


@pytest.mark.parametrize("text", [
    "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\n",
    "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}\n",
    "{% set s = 'x' * 1000000 %}{{ s.replace('x', 'xxxxxxxxxxxxxxxxxxxxxxxxx') }}\n",
])
def test_a_string_doubled_without_output_is_bounded_too(tmp_path: Path, text: str) -> None:
    template = make_template(tmp_path)
    add_file(template, "GROW.txt", text)
    result = run_cli("new", tmp_path / "svc", "--template", template, "--preset", PRESET, "--no-input")
    assert "too large" in assert_one_line_error(result, 2, mentions="GROW.txt")


def test_a_normal_template_renders_exactly_as_before(tmp_path: Path) -> None:
    """Loops (with loop.* and else), macros, includes and filters: the counting changes no output."""
    template = make_template(tmp_path)
    (template / "templates" / "part.inc").write_text("{% for p in cookiecutter.name.split('-') %}[{{ p }}]{% endfor %}")
    add_file(template, "NORMAL.txt", (
        "{% macro row(k, v) %}{{ k }}={{ v | upper }}{% endmacro %}"
        "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}!{% endif %} {% endfor %}\n"
        "{% for k in [] %}x{% else %}empty{% endfor %}\n"
        "{{ row('name', cookiecutter.name) }} {{ 'a' ~ 'b' }} {{ [1, 2] + [3] }} {{ '-' * 3 }}\n"
        '{% include "part.inc" %}\n'
        "{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}{{ v }}{% endfor %}\n"))
    dest = tmp_path / "svc"
    run_ok("new", dest, "--template", template, "--preset", PRESET, "--no-input")
    assert (dest / "NORMAL.txt").read_text() == (
        "1/3 2/3 3/3! \nempty\nname=GO-SERVICE ab [1, 2, 3] ---\n[go][service]\na2b1\n")
    builtin = tmp_path / "builtin"
    run_ok("new", builtin, "--preset", PRESET, "--no-input")

    def project(root: Path) -> dict[str, bytes]:
        return {k: v for k, v in files_under(root).items() if not k.endswith(("NORMAL.txt", ".hardcase.yml"))}

    assert project(dest) == project(builtin)


# --- 4. --package-versions names what it was given -----------------------------------------------------


def test_package_versions_fifo_is_not_a_regular_file(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12\nRUN apt-get install -y curl\n")
    fifo = tmp_path / "versions.yaml"
    os.mkfifo(fifo)
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", fifo)
    message = assert_one_line_error(result, 2, mentions=str(fifo))
    assert "not a regular file (a FIFO)" in message and "no such file" not in message
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", tmp_path)
    assert "is a directory" in assert_one_line_error(result, 2, mentions=str(tmp_path))
    result = run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", tmp_path / "missing.yaml")
    assert "no such file" in assert_one_line_error(result, 2, mentions="missing.yaml")
