"""Hostile answers: template injection, shell and YAML specials, path tricks, unsafe YAML tags.

Every payload is either refused (one-line error, exit 2, nothing written) or ends up *literally*
in every file that carries it, read back with the parser that file's consumer uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import (
    assert_one_line_error,
    compose_config,
    dump_yaml,
    hadolint,
    labels,
    load_yaml,
    parse_dockerfile,
    preset_names,
    presets_json,
    run_cli,
    stages,
)

PWNED = "PWNED_PATH"
PAYLOADS: dict[str, str] = {
    "ssti-globals": "{{ cycler.__init__.__globals__.os.popen('touch PWNED_PATH').read() }}",
    "ssti-statement": "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "jinja-raw": "{% raw %}x{% endraw %}",
    "jinja-math": "{{7*7}}",
    "cookiecutter-var": "{{ cookiecutter.name }}",
    "ifs": "${IFS}",
    "dollar-vars": "$HOME ${PATH:-x} $1",
    "command-substitution": "$(id)",
    "backticks": "`id` and `touch PWNED_PATH`",
    "double-quotes": 'say "hi" and ""',
    "single-quotes": "it's 'quoted'",
    "backslashes": 'a\\b\\\\c\\"d',
    "trailing-backslash": "ends with a backslash \\",
    "yaml-colon": "key: value",
    "yaml-anchor": "&a",
    "yaml-alias": "*a",
    "yaml-tag": '!!python/object/apply:os.system ["id"]',
    "yaml-dash": "- x",
    "yaml-comment": "# not a comment",
    "yaml-flow": "{}",
    "yaml-bool": "yes",
    "yaml-null": "~",
    "equals": "a=b c=d",
    "markdown-table": "| a | b |",
    "html": "<script>alert(1)</script>",
    "format-strings": "%s %(x)s {0} {name}",
    "unicode": "Ünïcødé ✓ 日本語 🐳 café",
    "leading-and-trailing-spaces": "  padded  ",
    "empty": "",
}
CONTROL_PAYLOADS: dict[str, str] = {
    "newline": "one\ntwo",
    "trailing-newline": "one line\n",
    "carriage-return": "one\rtwo",
    "tab": "a\tb",
    "nul": "a\x00b",
    "escape": "\x1b[31mred",
    "delete": "a\x7fb",
    "next-line": "a\x85b",
    "line-separator": "a\u2028b",
    "paragraph-separator": "a\u2029b",
}


def _preset_for(language: str) -> str:
    return next(str(p["name"]) for p in presets_json() if p["language"] == language)


def _preset_answers(name: str) -> dict[str, Any]:
    result = run_cli("presets", "show", name, "--format", "json")
    assert result.exit_code == 0, result.stderr
    answers = json.loads(result.stdout)["answers"]
    assert isinstance(answers, dict)
    return answers


def write_yaml_exactly(data: dict[str, Any], path: Path) -> None:
    """Write YAML that a safe loader reads back as exactly `data` (the precondition of every test here).

    ruamel writes some characters (NEL, line separators) raw, and YAML then folds them into spaces;
    JSON with ASCII escapes is also YAML and keeps them.
    """
    dump_yaml(data, path)
    if load_yaml(path) != data:
        path.write_text(json.dumps(data, ensure_ascii=True), encoding="utf-8")
    assert load_yaml(path) == data, "the test could not write its input faithfully"


def _argv_for(channel: str, language: str, key: str, value: Any, work: Path) -> list[str]:
    """`hardcase new` arguments that deliver `key: value` through one channel."""
    preset = _preset_for(language)
    if channel == "set":
        return ["--preset", preset, "--set", f"{key}={value}"]
    if channel == "answers":
        answers_file = work / "answers.yml"
        write_yaml_exactly({key: value}, answers_file)
        return ["--preset", preset, "--answers", str(answers_file)]
    if channel == "preset-file":
        preset_file = work / "custom.yaml"
        write_yaml_exactly(
            {"description": "custom preset", "answers": {**_preset_answers(preset), key: value}}, preset_file
        )
        return ["--preset", str(preset_file)]
    raise AssertionError(channel)


CHANNELS = [("set", "python"), ("set", "node"), ("set", "go"), ("answers", "node"), ("preset-file", "node")]


@pytest.mark.parametrize("payload_id", list(PAYLOADS))
@pytest.mark.parametrize(("channel", "language"), CHANNELS, ids=[f"{c}-{lang}" for c, lang in CHANNELS])
def test_free_text_description_is_refused_or_literal(
    payload_id: str, channel: str, language: str, tmp_path: Path
) -> None:
    pwned = tmp_path / "pwned"
    payload = PAYLOADS[payload_id].replace(PWNED, str(pwned))
    work = tmp_path / "work"
    work.mkdir()
    dest = tmp_path / "out"
    argv = [
        "new",
        str(dest),
        *_argv_for(channel, language, "description", payload, work),
        "--no-input",
        "--with-app",
    ]
    result = run_cli(*argv)
    assert not pwned.exists(), "a payload ran a command"
    if result.exit_code != 0:
        assert_one_line_error(result, 2, mentions="description")
        assert not dest.exists(), "a refused answer still wrote files"
        return
    assert result.stderr == ""
    final = stages(parse_dockerfile(dest / "Dockerfile"))[-1]
    assert labels(final)["org.opencontainers.image.description"] == payload
    assert load_yaml(dest / ".hardcase.yml")["description"] == payload
    assert payload in (dest / "README.Docker.md").read_text(encoding="utf-8")
    if language == "node":
        assert json.loads((dest / "package.json").read_text(encoding="utf-8"))["description"] == payload
    assert hadolint(dest / "Dockerfile", work) == []
    proc = compose_config(dest)
    assert proc.returncode == 0, proc.stderr
    assert not pwned.exists()


def test_ordinary_descriptions_are_accepted(tmp_path: Path) -> None:
    """The refusal branch above is not a way out for everything: plain text and specials that are
    harmless as data must be accepted."""
    for payload_id in ("unicode", "jinja-math", "double-quotes", "single-quotes", "command-substitution"):
        dest = tmp_path / payload_id
        result = run_cli(
            "new",
            dest,
            "--preset",
            _preset_for("python"),
            "--no-input",
            "--set",
            f"description={PAYLOADS[payload_id]}",
        )
        assert result.exit_code == 0, (payload_id, result.stderr)


@pytest.mark.parametrize("payload_id", list(CONTROL_PAYLOADS))
@pytest.mark.parametrize("channel", ["set", "answers", "preset-file"])
def test_control_characters_in_description_are_refused(payload_id: str, channel: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    dest = tmp_path / "out"
    argv = _argv_for(channel, "node", "description", CONTROL_PAYLOADS[payload_id], work)
    result = run_cli("new", dest, *argv, "--no-input")
    assert_one_line_error(result, 2, mentions="description")
    assert not dest.exists()


def test_undecodable_bytes_in_description_are_refused(tmp_path: Path) -> None:
    # What a shell passes for invalid UTF-8 (sys.argv uses surrogateescape).
    dest = tmp_path / "out"
    result = run_cli(
        "new", dest, "--preset", _preset_for("go"), "--no-input", "--set", "description=bad \udcff byte"
    )
    assert_one_line_error(result, 2, mentions="description")
    assert not dest.exists()


# --- name and the other keys ---------------------------------------------------------------------

BAD_NAMES = ["Upper", "../x", "a_b", "a" * 64, "1abc", "-x", "x-", "", "a b", "abc\n", "a.b", "ü"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:20] for n in BAD_NAMES])
@pytest.mark.parametrize("channel", ["set", "answers"])
def test_bad_names_are_refused_naming_the_key(name: str, channel: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    dest = tmp_path / "out"
    result = run_cli("new", dest, *_argv_for(channel, "python", "name", name, work), "--no-input")
    assert_one_line_error(result, 2, mentions="'name'")
    assert not dest.exists()


def test_longest_valid_name_is_accepted(tmp_path: Path) -> None:
    name = "a" + "-b" * 31  # 63 characters, the DNS label maximum
    dest = tmp_path / "out"
    result = run_cli("new", dest, "--preset", _preset_for("python"), "--no-input", "--set", f"name={name}")
    assert result.exit_code == 0, result.stderr
    assert load_yaml(dest / ".hardcase.yml")["name"] == name
    assert load_yaml(dest / "compose.yaml")["name"] == name


BAD_VALUES: list[tuple[str, str, Any]] = [
    ("set", "writable_paths", "/tmp/../etc"),
    ("set", "writable_paths", "/tmp\n- /etc"),
    ("set", "writable_paths", "tmp"),
    ("set", "writable_paths", "/etc"),
    ("set", "writable_paths", "/app"),
    ("set", "writable_paths", "/tmp,/tmp"),
    ("set", "writable_paths", "/tmp:exec"),
    ("answers", "writable_paths", ["/tmp\n"]),
    ("answers", "writable_paths", ["/tmp\n- /etc"]),
    ("set", "secrets", "a;b"),
    ("set", "secrets", "API_KEY"),
    ("set", "secrets", "a b"),
    ("answers", "secrets", ["api_key\n"]),
    ("answers", "secrets", [1]),
    ("set", "ports", "80"),
    ("set", "ports", "70000"),
    ("set", "ports", "abc"),
    ("set", "ports", "0"),
    ("set", "ports", "8000,8000"),
    ("set", "ports", ""),
    ("answers", "ports", [True]),
    ("set", "memory", "1t"),
    ("set", "memory", "256mb"),
    ("set", "memory", "0m"),
    ("answers", "memory", "256m\n"),
    ("set", "cpus", "0"),
    ("set", "cpus", "-1"),
    ("set", "cpus", "lots"),
    ("answers", "cpus", "0.5\n"),
    ("set", "pids", "1"),
    ("set", "pids", "many"),
    ("set", "registry_mirror", "evil.com/x y"),
    ("set", "registry_mirror", "evil.com/x\ny"),
    ("answers", "registry_mirror", "evil.com\n"),
    ("set", "registry_mirror", "https://evil.com"),
    ("set", "publish", "everywhere"),
    ("set", "language", "rust"),
    ("set", "flavour", "alpine"),
    ("set", "runtime_version", "2.7"),
    ("set", "with_app", "maybe"),
    ("answers", "description", {"nested": "mapping"}),
    ("answers", "name", ["list"]),
]


@pytest.mark.parametrize(
    ("channel", "key", "value"), BAD_VALUES, ids=[f"{c}-{k}-{v!r}"[:40] for c, k, v in BAD_VALUES]
)
def test_bad_values_are_refused_naming_the_key(channel: str, key: str, value: Any, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    dest = tmp_path / "out"
    result = run_cli("new", dest, *_argv_for(channel, "python", key, value, work), "--no-input")
    assert_one_line_error(result, 2, mentions=f"'{key}'")
    assert not dest.exists()


def test_registry_mirror_flag_is_validated(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    result = run_cli(
        "new", dest, "--preset", preset_names()[0], "--no-input", "--registry-mirror", "evil.com/x y"
    )
    assert_one_line_error(result, 2, mentions="'registry_mirror'")
    assert not dest.exists()


UNSAFE_YAML = [
    'description: !!python/object/apply:os.system ["touch PWNED_PATH"]\n',
    '!!python/object/apply:os.system ["touch PWNED_PATH"]\n',
    "name: !!python/name:os.system\n",
    'description: !!python/object/new:subprocess.Popen [["touch", "PWNED_PATH"]]\n',
]


@pytest.mark.parametrize("text", UNSAFE_YAML, ids=range(len(UNSAFE_YAML)))
@pytest.mark.parametrize("channel", ["answers", "preset-file"])
def test_unsafe_yaml_tags_are_refused_and_never_run(text: str, channel: str, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    source = tmp_path / ("answers.yml" if channel == "answers" else "custom.yaml")
    if channel == "answers":
        source.write_text(text.replace(PWNED, str(pwned)), encoding="utf-8")
        argv = ["--preset", preset_names()[0], "--answers", str(source)]
    else:
        body = "description: hostile\nanswers:\n" + "".join(
            f"  {line}\n" for line in text.replace(PWNED, str(pwned)).splitlines()
        )
        source.write_text(body, encoding="utf-8")
        argv = ["--preset", str(source)]
    dest = tmp_path / "out"
    result = run_cli("new", dest, *argv, "--no-input")
    assert_one_line_error(result, 2)
    assert not pwned.exists()
    assert not dest.exists()


# --- output confinement --------------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("target_exists", [True, False], ids=["target", "dangling"])
def test_symlinked_output_file_is_refused(force: bool, target_exists: bool, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "target"
    if target_exists:
        target.write_bytes(b"precious\n")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "Dockerfile").symlink_to(target)
    result = run_cli(
        "new", dest, "--preset", preset_names()[0], "--no-input", *(["--force"] if force else [])
    )
    assert_one_line_error(result, 3, mentions="symlink")
    if target_exists:
        assert target.read_bytes() == b"precious\n"
    else:
        assert not target.exists()
    assert sorted(p.name for p in dest.iterdir()) == ["Dockerfile"], "other files were written"
    assert sorted(p.name for p in elsewhere.iterdir()) == (["target"] if target_exists else [])


def test_symlinked_output_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "app").symlink_to(elsewhere, target_is_directory=True)
    result = run_cli("new", dest, "--preset", _preset_for("python"), "--no-input", "--with-app", "--force")
    assert_one_line_error(result, 3, mentions="symlink")
    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["app"]


def test_dest_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.write_bytes(b"a file\n")
    result = run_cli("new", dest, "--preset", preset_names()[0], "--no-input")
    assert_one_line_error(result, 2)
    assert dest.read_bytes() == b"a file\n"
