"""Custom templates (dir, git, zip), hooks only when trusted, confinement, org presets, `templates check`."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from scaffold_support import (
    REPO,
    TEMPLATE_PROJECT,
    assert_one_line_error,
    files_under,
    load_yaml,
    make_template,
    run_cli,
    run_ok,
)

PRESET = "go-stdlib"


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=Platform", "-c", "user.email=platform@example.com",
                           "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True,
                          check=True)
    return proc.stdout


def git_repo(template: Path) -> str:
    git(template, "init", "-q")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "org template v1")
    return f"git+file://{template}"  # cookiecutter needs git+ when the URL does not say git


def project_files(dest: Path) -> dict[str, bytes]:
    return {rel: data for rel, data in files_under(dest).items() if rel != ".hardcase.yml"}


# --- fetching: dir, git, zip ---------------------------------------------------------------------


def test_a_template_directory_renders_like_the_builtin(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    ours, builtin = tmp_path / "ours", tmp_path / "builtin"
    run_ok("new", ours, "--template", template, "--preset", PRESET, "--no-input")
    run_ok("new", builtin, "--preset", PRESET, "--no-input")
    assert project_files(ours) == project_files(builtin)
    assert load_yaml(ours / ".hardcase.yml")["_template"] == str(template)
    assert load_yaml(builtin / ".hardcase.yml")["_template"] == "service"


def test_a_git_template_is_cloned_and_a_checkout_picks_a_version(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    url = git_repo(template)
    git(template, "tag", "v1")
    compose = template / TEMPLATE_PROJECT / "compose.yaml"
    compose.write_text(compose.read_text().replace("stop_grace_period: 10s", "stop_grace_period: 20s"))
    git(template, "commit", "-qam", "longer grace period")

    latest, pinned = tmp_path / "latest", tmp_path / "pinned"
    run_ok("new", latest, "--template", url, "--preset", PRESET, "--no-input")
    run_ok("new", pinned, "--template", url, "--checkout", "v1", "--preset", PRESET, "--no-input")
    assert "stop_grace_period: 20s" in (latest / "compose.yaml").read_text()
    assert "stop_grace_period: 10s" in (pinned / "compose.yaml").read_text()
    recorded = load_yaml(pinned / ".hardcase.yml")
    assert (recorded["_template"], recorded["_checkout"]) == (url, "v1")


def test_a_zip_template_is_unpacked(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    archive = tmp_path / "org-template.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in [template, *sorted(template.rglob("*"))]:  # the top-level directory first, as cookiecutter wants
            handle.write(path, path.relative_to(tmp_path).as_posix())
    dest = tmp_path / "svc"
    run_ok("new", dest, "--template", archive, "--preset", PRESET, "--no-input")
    reference = tmp_path / "ref"
    run_ok("new", reference, "--preset", PRESET, "--no-input")
    assert project_files(dest) == project_files(reference)


def test_a_missing_template_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("new", tmp_path / "svc", "--template", tmp_path / "nope", "--no-input"), 2,
                          mentions="template")
    assert not (tmp_path / "svc").exists()


def test_checkout_cannot_smuggle_a_git_option(tmp_path: Path) -> None:
    url = git_repo(make_template(tmp_path))
    assert_one_line_error(run_cli("new", tmp_path / "svc", "--template", url, "--checkout=--orphan=x",
                                  "--no-input"), 2, mentions="--checkout")


# --- security: answers are data, outputs confined, hooks only when trusted -----------------------


def test_answers_stay_data_in_a_custom_template(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / TEMPLATE_PROJECT / "NOTE.txt").write_text("{{ cookiecutter.description }} / {{ cookiecutter.team }}\n")
    config = json.loads((template / "cookiecutter.json").read_text())
    config["team"] = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    (template / "cookiecutter.json").write_text(json.dumps(config))
    dest = tmp_path / "svc"
    payload = "{{ 7 * 7 }}"
    run_ok("new", dest, "--template", template, "--preset", PRESET, "--no-input", "--set", f"description={payload}")
    assert (dest / "NOTE.txt").read_text() == f"{payload} / {config['team']}\n"


@pytest.mark.parametrize(("variable", "filename"), [
    ("..", f"{TEMPLATE_PROJECT}/{{{{cookiecutter.escape}}}}/evil"),
    ("/tmp/hardcase-evil", "{{cookiecutter.escape}}"),
    ("a/../../evil", "{{cookiecutter.escape}}"),
])
def test_template_paths_cannot_escape_dest(tmp_path: Path, variable: str, filename: str) -> None:
    template = make_template(tmp_path)
    config = json.loads((template / "cookiecutter.json").read_text())
    config["escape"] = variable
    (template / "cookiecutter.json").write_text(json.dumps(config))
    target = template / TEMPLATE_PROJECT / filename.removeprefix(f"{TEMPLATE_PROJECT}/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("pwned\n")
    dest = tmp_path / "out" / "svc"
    message = assert_one_line_error(run_cli("new", dest, "--template", template, "--preset", PRESET, "--no-input"),
                                    3, mentions="outside the destination")
    assert "evil" in message
    assert not (tmp_path / "out").exists() and not Path("/tmp/hardcase-evil").exists()


def test_a_symlink_in_a_git_template_is_refused(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    os.symlink("/etc/passwd", template / TEMPLATE_PROJECT / "passwd")
    url = git_repo(template)  # git stores the link as a link; the clone recreates it
    dest = tmp_path / "svc"
    assert_one_line_error(run_cli("new", dest, "--template", url, "--preset", PRESET, "--no-input"), 3,
                          mentions="symlink")
    assert not dest.exists()


def hooked_template(root: Path) -> Path:
    template = make_template(root)
    (template / "hooks").mkdir()
    # The hook records its own source: it must arrive unrendered (no answers spliced in).
    (template / "hooks" / "post_gen_project.py").write_text(
        "from pathlib import Path\n"
        "source = Path(__file__).read_text()\n"
        "Path('HOOK_RAN.txt').write_text('{{ cookiecutter.name }}' + ' ' + str(len(source)) + '\\n')\n"
        "Path('README.Docker.md').unlink()\n")
    return template


def test_hooks_do_not_run_without_trust(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    result = run_ok("new", dest, "--template", hooked_template(tmp_path), "--preset", PRESET, "--no-input")
    assert "note: template hooks not run: post_gen_project.py (pass --trust-template-hooks" in result.stdout
    assert not (dest / "HOOK_RAN.txt").exists()
    assert (dest / "README.Docker.md").is_file()


def test_trusted_hooks_run_unrendered_and_their_output_is_planned(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    result = run_ok("new", dest, "--template", hooked_template(tmp_path), "--preset", PRESET, "--no-input",
                    "--trust-template-hooks")
    assert "note: ran template hooks: post_gen_project.py" in result.stdout
    assert (dest / "HOOK_RAN.txt").read_text().startswith("{{ cookiecutter.name }} ")
    assert not (dest / "README.Docker.md").exists()
    assert (dest / ".hardcase" / "base" / "HOOK_RAN.txt").is_file()


def test_a_failing_trusted_hook_writes_nothing(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / "hooks").mkdir()
    (template / "hooks" / "pre_gen_project.py").write_text("import sys\nsys.exit('no network here')\n")
    dest = tmp_path / "svc"
    assert_one_line_error(run_cli("new", dest, "--template", template, "--preset", PRESET, "--no-input",
                                  "--trust-template-hooks"), 2, mentions="no network here")
    assert not dest.exists()


# --- org presets ---------------------------------------------------------------------------------


ORG_PRESET = """\
description: Payments team Go service
answers:
  language: go
  name: payments
  ports: [9000]
  memory: 128m
"""


def test_org_presets_dir_by_flag_and_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    org = tmp_path / "org-presets"
    org.mkdir()
    (org / "payments-go.yaml").write_text(ORG_PRESET)
    (org / "go-stdlib.yaml").write_text(ORG_PRESET.replace("payments", "shadowed"))
    listed = {p["name"]: p for p in json.loads(run_ok("presets", "--presets-dir", org, "--format", "json").stdout)}
    assert listed["payments-go"]["description"] == "Payments team Go service"
    assert listed["go-stdlib"]["description"] == "Payments team Go service"  # the org's copy wins
    assert "python-fastapi" in listed

    run_ok("new", tmp_path / "a", "--preset", "payments-go", "--presets-dir", org, "--no-input")
    assert load_yaml(tmp_path / "a" / ".hardcase.yml")["ports"] == [9000]
    monkeypatch.setenv("HARDCASE_PRESETS_DIR", str(org))
    run_ok("new", tmp_path / "b", "--preset", "go-stdlib", "--no-input")
    assert load_yaml(tmp_path / "b" / ".hardcase.yml")["name"] == "shadowed"


def test_a_missing_presets_dir_is_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("presets", "--presets-dir", tmp_path / "nope"), 2, mentions="presets directory")


# --- templates check -----------------------------------------------------------------------------


def gate_lines(stdout: str) -> dict[tuple[str, str], str]:
    found = {}
    for line in stdout.splitlines()[:-1]:
        status, preset, gate = line.split()[:3]
        found[(preset, gate)] = status
    return found


GATES = ["contract", "hadolint", "checkov", "compose", "seccomp", "policy"]


def test_templates_check_passes_a_sound_template_with_its_own_presets(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / "presets").mkdir()
    (template / "presets" / "payments-go.yaml").write_text(ORG_PRESET)
    (template / "hardcase-policy.yaml").write_text("require: {read_only: true, max_syscalls: 120}\n")
    result = run_ok("templates", "check", template)
    assert gate_lines(result.stdout) == {("payments-go", gate): "ok" for gate in GATES}
    assert result.stdout.splitlines()[-1] == "6/6 gates passed over 1 preset(s)"


def test_templates_check_fails_the_gates_a_broken_template_breaks(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / TEMPLATE_PROJECT / "README.Docker.md").unlink()
    dockerfile = template / "templates" / "go.Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("FROM {{ hc.runtime_image }}", "FROM alpine:latest"))
    compose = template / TEMPLATE_PROJECT / "compose.yaml"
    compose.write_text(compose.read_text().replace("    read_only: true\n", "    read_only: maybe\n"))
    policy_file = tmp_path / "org.yaml"
    policy_file.write_text("require: {pinned_base_images: true}\n")
    result = run_cli("templates", "check", template, "--preset", PRESET, "--policy", policy_file,
                     "--format", "json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    status = {r["gate"]: r["ok"] for r in report["results"]}
    assert status == {"contract": False, "hadolint": False, "checkov": False, "compose": False, "seccomp": True,
                      "policy": False}
    details = {r["gate"]: r["detail"] for r in report["results"]}
    assert "README.Docker.md" in details["contract"]
    assert "DL3007" in details["hadolint"]
    assert "CKV_DOCKER_7" in details["checkov"]  # the base image uses the latest tag
    assert "read_only" in details["compose"]
    assert "POL014" in details["policy"]
    assert report["passed"] is False


def test_a_missing_judge_fails_its_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARDCASE_CHECKOV", str(tmp_path / "no-checkov"))
    result = run_cli("templates", "check", make_template(tmp_path), "--preset", PRESET)
    assert result.exit_code == 1
    lines = gate_lines(result.stdout)
    assert lines[(PRESET, "checkov")] == "FAIL"
    assert "HARDCASE_CHECKOV" in result.stdout
    assert {gate for (_, gate), status in lines.items() if status == "FAIL"} == {"checkov"}


def test_the_template_contract_documents_every_context_variable() -> None:
    from generator.scaffold.answers import resolve
    from generator.scaffold.context import template_context

    documented = (REPO / "docs" / "templates.md").read_text(encoding="utf-8")
    for key in template_context(resolve([{}])):
        assert f"`{key}`" in documented, f"docs/templates.md does not describe _hc.{key}"
