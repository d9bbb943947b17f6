"""Input cannot drive the terminal (issue #11, item 15), command by command: `new`, `presets`, `pin`,
`policy`, `seccomp`, `apparmor`, `update`, `templates check`, and the verify and learn reports.
Each output quotes a hostile value (a name, a description, a key, a path) and must show it escaped."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from scaffold_support import run_cli
from test_safety_output import HOSTILE, HOSTILE_SHOWN, NAME, NAME_SHOWN, assert_inert

from generator.engine.verify import Row, Scorecard, render_text, tty_progress
from generator.profiles import seccomp
from generator.profiles.seccomp_learn import LearnResult, RunStats
from generator.profiles.seccomp_learn import render_text as render_learn
from generator.scaffold.gates import GateResult

YAML_HOSTILE = "\\e[2J\\e]0;owned\\a\\u202eevil\\u2066\\x9b31m\\u200b\\x7f"  # HOSTILE in a YAML double-quoted string


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated project in a directory whose name is hostile."""
    dest = tmp_path_factory.mktemp("gen") / NAME
    result = run_cli("new", dest, "--preset", "go-stdlib", "--no-input")
    assert result.exit_code == 0, result.stderr
    return dest


def test_new_prints_escaped_targets(tmp_path: Path) -> None:
    result = run_cli("new", tmp_path / NAME, "--preset", "go-stdlib", "--no-input", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)
    assert f"would create    {tmp_path}/{NAME_SHOWN}/Dockerfile" in result.stdout
    assert all(line.startswith("would ") or " file(s) differ" in line for line in result.stdout.splitlines())


def test_presets_list_and_show_escape_org_presets(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(
        f'description: "Evil {YAML_HOSTILE}"\nanswers:\n  language: go\n  framework: stdlib\n  name: evil-svc\n'
        f'  description: "bad {YAML_HOSTILE}"\n', encoding="utf-8")
    listed = run_cli("presets", "--presets-dir", tmp_path)
    assert listed.exit_code == 0, listed.stderr
    assert_inert(listed.stdout)
    assert f"evil             go       Evil {HOSTILE_SHOWN}\n" in listed.stdout
    shown = run_cli("presets", "show", "evil", "--presets-dir", tmp_path)
    assert_inert(shown.stdout)
    assert shown.stdout.startswith(f"evil: Evil {HOSTILE_SHOWN}\n")
    assert f"bad {HOSTILE_SHOWN}" in shown.stdout
    for argv in (["presets"], ["presets", "show", "evil"]):
        as_json = run_cli(*argv, "--format", "json", "--presets-dir", tmp_path).stdout
        assert as_json.isascii() and f"Evil {HOSTILE}" in as_json.encode().decode("unicode_escape")


def test_pin_check_escapes_image_references(tmp_path: Path) -> None:
    directory = tmp_path / NAME
    directory.mkdir()
    (directory / "Dockerfile").write_text(f"FROM debian{HOSTILE}:12\n", encoding="utf-8")
    result = run_cli("pin", "--check", directory)
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert result.stdout.splitlines() == [
        f"{tmp_path}/{NAME_SHOWN}/Dockerfile:1: unpinned image debian{HOSTILE_SHOWN}:12", "0/1 image references pinned"]


def test_policy_check_and_audit_escape_keys_values_and_paths(tmp_path: Path) -> None:
    policy = tmp_path / f"{NAME}.yaml"
    policy.write_text(f'version: 1\n"key{YAML_HOSTILE}": 1\n', encoding="utf-8")
    checked = run_cli("policy", "check", policy)
    assert checked.exit_code == 2
    assert_inert(checked.stdout)
    assert checked.stdout.startswith(f"{tmp_path}/{NAME_SHOWN}.yaml: key{HOSTILE_SHOWN}: unknown key")
    project = tmp_path / NAME
    project.mkdir()
    (project / "Dockerfile").write_text(f"FROM debian{HOSTILE}:12\nMAINTAINER x\n", encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text('version: 1\nallowed_base_images: ["python:*"]\nbanned_instructions: [MAINTAINER]\n',
                     encoding="utf-8")
    audited = run_cli("policy", "audit", project, "--policy", rules)
    assert audited.exit_code == 1, audited.stderr
    assert_inert(audited.stdout)
    lines = audited.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "2 policy violation(s)"
    assert all(line.startswith(f"{tmp_path}/{NAME_SHOWN}/Dockerfile:") for line in lines[:2])
    assert f"debian{HOSTILE_SHOWN}:12" in audited.stdout
    as_json = run_cli("policy", "audit", project, "--policy", rules, "--format", "json").stdout
    assert as_json.isascii() and f"debian{HOSTILE}:12" in {v["value"] for v in json.loads(as_json)["violations"]}


def test_seccomp_check_diff_and_generate_escape_names_and_paths(tmp_path: Path) -> None:
    profile = seccomp.build_profile("python")
    hostile = copy.deepcopy(profile)
    hostile["syscalls"][0]["names"].append(f"call{HOSTILE}")
    a, b = tmp_path / f"{NAME}.json", tmp_path / "b.json"
    a.write_text(json.dumps(profile), encoding="utf-8")
    b.write_text(json.dumps(hostile), encoding="utf-8")
    checked = run_cli("seccomp", "check", b)
    assert checked.exit_code == 1
    assert checked.stdout == f"{b}: syscalls[0]: unknown syscall name 'call{HOSTILE_SHOWN}'\n"
    diffed = run_cli("seccomp", "diff", a, b)
    assert diffed.exit_code == 1
    assert_inert(diffed.stdout)
    assert diffed.stdout.splitlines()[0] == f"--- {tmp_path}/{NAME_SHOWN}.json (A)"
    assert f"allowed only in B (1): call{HOSTILE_SHOWN}\n" in diffed.stdout
    assert run_cli("seccomp", "diff", a, b, "--format", "json").stdout.isascii()
    same = run_cli("seccomp", "diff", a, a)
    assert same.stdout == f"{tmp_path}/{NAME_SHOWN}.json and {tmp_path}/{NAME_SHOWN}.json allow the same system calls\n"
    out = tmp_path / f"out{NAME}.json"
    generated = run_cli("seccomp", "generate", "--runtime", "python", "-o", out)
    assert generated.stdout.startswith(f"{tmp_path}/out{NAME_SHOWN}.json: ") and out.is_file()


def test_apparmor_and_update_escape_the_project_path(project: Path, tmp_path: Path) -> None:
    out = tmp_path / f"profile{NAME}"
    written = run_cli("apparmor", "generate", project, "-o", out)
    assert written.exit_code == 0, written.stderr
    assert written.stdout == f"{tmp_path}/profile{NAME_SHOWN}: AppArmor profile hardcase-go-service\n"
    (project / "Dockerfile").write_text((project / "Dockerfile").read_text(encoding="utf-8")
                                        + f"# {HOSTILE}\n", encoding="utf-8")
    updated = run_cli("update", project, "--dry-run")
    assert updated.exit_code == 0, updated.stderr
    assert_inert(updated.stdout)
    assert updated.stdout.endswith(f"{project.parent}/{NAME_SHOWN} (dry run: nothing written)\n")


def test_templates_check_escapes_tool_output(monkeypatch: pytest.MonkeyPatch) -> None:
    def results(*_: object) -> list[GateResult]:
        return [GateResult(f"preset{HOSTILE}", "hadolint", False, f"DL3007 quoting FROM debian{HOSTILE}\nforged")]

    monkeypatch.setattr("generator.scaffold.gates.check_template", results)
    result = run_cli("templates", "check", "some-template")
    assert result.exit_code == 1
    assert_inert(result.stdout)
    assert result.stdout.splitlines() == [
        f"FAIL preset{HOSTILE_SHOWN} hadolint  DL3007 quoting FROM debian{HOSTILE_SHOWN}\\nforged",
        "0/1 gates passed over 1 preset(s)"]
    assert run_cli("templates", "check", "some-template", "--format", "json").stdout.isascii()


def card(evidence: str) -> Scorecard:
    return Scorecard(f"svc{HOSTILE}", f"img{HOSTILE}:1", "hcverify-x", [Row("c0", "5.4", "t", False, evidence, "p")],
                     1.0, 1.0, 1_000_000)


def test_verify_report_escapes_container_output() -> None:
    text = render_text(card(f"uid=0(root)\r{HOSTILE}\nforged PASS"))
    assert_inert(text)
    assert text.splitlines()[0].startswith(f"svc{HOSTILE_SHOWN} (img{HOSTILE_SHOWN}:1): build")
    assert f"FAIL  c0  CIS 5.4         uid=0(root)\\r{HOSTILE_SHOWN}\\nforged PASS\n" in text
    assert card(HOSTILE).to_json().isascii()


def test_verify_progress_on_a_terminal_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    stream = Tty()
    tty_progress(stream)(f"building img{HOSTILE}")
    assert stream.getvalue() == f"\r\x1b[Kbuilding img{HOSTILE_SHOWN}"  # hardcase's own sequence stays


def test_learn_report_escapes_notes_and_paths() -> None:
    result = LearnResult({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}, [], [RunStats(1, 2, 0, 0, 0, [])],
                         [], None, None, 300, verify_card=card(HOSTILE), notes=[f"service said {HOSTILE}"])
    text = render_learn(result, Path(NAME))
    assert_inert(text)
    assert text.startswith(f"{NAME_SHOWN}: 0 syscalls allowed")
    assert f"note: service said {HOSTILE_SHOWN}\n" in text and f"  FAIL c0: {HOSTILE_SHOWN}\n" in text
