"""The command line explains itself (issue #11): every command, action, positional and option has a help
line, `hardcase --help` and the README list every exit status, and `--version` answers from every entry."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from scaffold_support import REPO, VENV_BIN

from generator import __version__
from generator.cli.main import _build_parser
from generator.core.errors import ExitCode

UNDOCUMENTED = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def parsers(parser: argparse.ArgumentParser, prog: str = "hardcase") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser below PARSER with its command line (`hardcase seccomp diff`), PARSER first."""
    yield prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{prog} {name}")


def test_every_command_and_action_has_help_and_a_description() -> None:
    parser, _ = _build_parser()
    missing = []
    for prog, each in parsers(parser):
        for action in each._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            missing += [f"{prog} {name}: no help line" for name in action.choices if not helps.get(name)]
            missing += [f"{prog} {name}: no description" for name, sub in action.choices.items()
                        if not (sub.description or "").strip()]
    assert missing == []


def test_every_positional_and_option_has_help() -> None:
    parser, _ = _build_parser()
    missing = [f"{prog}: {'/'.join(action.option_strings) or action.dest}"
               for prog, each in parsers(parser) for action in each._actions
               if not isinstance(action, UNDOCUMENTED)
               and (not action.help or action.help == argparse.SUPPRESS or not action.help.strip())]
    assert missing == []


def test_the_walk_sees_every_command() -> None:
    names = {prog for prog, _ in parsers(_build_parser()[0])}
    assert {"hardcase check", "hardcase seccomp diff", "hardcase policy audit", "hardcase templates check",
            "hardcase apparmor generate", "hardcase presets", "hardcase update"} <= names


def exit_statuses(text: str) -> dict[int, str]:
    return {int(code): meaning for code, meaning in re.findall(r"^\s*(\d+)\s+(\S.*)$", text, re.MULTILINE)}


def test_help_lists_every_exit_status() -> None:
    help_text = _build_parser()[0].format_help()
    epilog = help_text.split("exit status:\n", 1)[1]
    assert set(exit_statuses(epilog)) == {int(code) for code in ExitCode}


def test_readme_lists_every_exit_status() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes\n", 1)[1].split("\n#", 1)[0]
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+) \|$", section, re.MULTILINE))
    assert all(meaning.strip() for meaning in rows.values())
    assert {int(code) for code in rows} == {int(code) for code in ExitCode}


@pytest.mark.parametrize("command", [[str(VENV_BIN / "hardcase")], [sys.executable, "-m", "generator"]],
                         ids=["hardcase", "python -m generator"])
def test_version_from_every_entry(command: list[str]) -> None:
    proc = subprocess.run([*command, "--version"], capture_output=True, text=True, cwd=REPO, timeout=60,
                          check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"hardcase {__version__}\n", "")
