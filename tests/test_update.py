"""`hardcase update`: 3-way merges of a new rendering into the user's files (base = .hardcase/base)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scaffold_support import (
    TEMPLATE_PROJECT,
    assert_one_line_error,
    files_under,
    load_yaml,
    make_template,
    run_cli,
    run_ok,
)

from generator.core import catalog

PRESET = "python-fastapi"
USER_ENV = "      API_KEY_FILE: /run/secrets/api_key\n"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, Path]:
    """(template, project): a project generated from an org template the test can change."""
    template = make_template(tmp_path)
    project = tmp_path / "svc"
    run_ok("new", project, "--template", template, "--preset", PRESET, "--no-input")
    return template, project


def test_a_fresh_project_is_up_to_date(generated: tuple[Path, Path]) -> None:
    _, project = generated
    before = files_under(project)
    assert run_ok("update", project).stdout.splitlines()[-1] == f"update 0 file(s) in {project}"
    assert files_under(project) == before


def test_user_edit_and_template_change_merge_cleanly(generated: tuple[Path, Path]) -> None:
    template, project = generated
    edit(project / "compose.yaml", USER_ENV, USER_ENV + "      LOG_LEVEL: debug\n")  # the user's edit
    edit(template / TEMPLATE_PROJECT / "compose.yaml", "stop_grace_period: 10s", "stop_grace_period: 30s")  # the org's
    edit(template / "templates" / "python.Dockerfile", "PYTHONUNBUFFERED=1", "PYTHONUNBUFFERED=1 \\\n    TZ=UTC")

    result = run_ok("update", project)
    assert f"merged    {project / 'compose.yaml'}" in result.stdout
    assert f"updated   {project / 'Dockerfile'}" in result.stdout
    compose = (project / "compose.yaml").read_text()
    assert "LOG_LEVEL: debug" in compose and "stop_grace_period: 30s" in compose and "<<<<<<<" not in compose
    assert "TZ=UTC" in (project / "Dockerfile").read_text()
    assert load_yaml(project / "compose.yaml")["services"]["fastapi-service"]["environment"]["LOG_LEVEL"] == "debug"
    # The new rendering is the next base: a second update has nothing to do and keeps the user's edit.
    assert "stop_grace_period: 30s" in (project / ".hardcase" / "base" / "compose.yaml").read_text()
    assert run_ok("update", project).stdout.splitlines()[-1] == f"update 0 file(s) in {project}"
    assert "LOG_LEVEL: debug" in (project / "compose.yaml").read_text()


def test_conflicting_edits_are_marked_like_git_and_exit_1(generated: tuple[Path, Path]) -> None:
    template, project = generated
    edit(project / "compose.yaml", "stop_grace_period: 10s", "stop_grace_period: 60s")
    edit(template / TEMPLATE_PROJECT / "compose.yaml", "stop_grace_period: 10s", "stop_grace_period: 30s")
    result = run_cli("update", project)
    assert result.exit_code == 1, result.stderr
    assert f"conflict  {project / 'compose.yaml'} (1 conflict(s) marked)" in result.stdout
    assert "1 conflict(s): resolve the <<<<<<< / >>>>>>> markers" in result.stdout
    compose = (project / "compose.yaml").read_text()
    assert ("<<<<<<< yours (compose.yaml)\n    stop_grace_period: 60s\n=======\n"
            "    stop_grace_period: 30s\n>>>>>>> hardcase 0.1.0\n") in compose
    assert "stop_grace_period: 30s" in (project / ".hardcase" / "base" / "compose.yaml").read_text()


def test_dry_run_prints_a_unified_diff_and_writes_nothing(generated: tuple[Path, Path]) -> None:
    template, project = generated
    edit(template / TEMPLATE_PROJECT / "compose.yaml", "stop_grace_period: 10s", "stop_grace_period: 30s")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.rglob("*") if p.is_file()}
    result = run_ok("update", project, "--dry-run")
    assert "--- a/compose.yaml\n+++ b/compose.yaml\n" in result.stdout
    assert "-    stop_grace_period: 10s\n+    stop_grace_period: 30s\n" in result.stdout
    assert result.stdout.splitlines()[-1] == f"would update 1 file(s) in {project} (dry run: nothing written)"
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in project.rglob("*") if p.is_file()} == before


def test_deleted_files_stay_deleted_and_new_template_files_are_created(generated: tuple[Path, Path]) -> None:
    template, project = generated
    (project / "README.Docker.md").unlink()
    edit(template / TEMPLATE_PROJECT / "README.Docker.md", "# ", "# (updated) ")
    security = template / TEMPLATE_PROJECT / "SECURITY.md"
    security.write_text("Report issues to security@{{ cookiecutter.name }}.example\n")
    result = run_ok("update", project)
    assert f"deleted   {project / 'README.Docker.md'} (you deleted it; not restored)" in result.stdout
    assert f"create    {project / 'SECURITY.md'}" in result.stdout
    assert not (project / "README.Docker.md").exists()
    assert (project / "SECURITY.md").read_text() == "Report issues to security@fastapi-service.example\n"


def test_a_catalog_digest_bump_flows_into_the_users_dockerfile(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "svc"
    run_ok("new", project, "--preset", "go-stdlib", "--no-input")
    dockerfile = project / "Dockerfile"
    edit(dockerfile, "USER 65532:65532", "LABEL org.example.team=\"payments\"\nUSER 65532:65532")
    old = catalog.images()["gcr.io/distroless/static-debian12:nonroot"].digest
    new = "sha256:" + "b" * 64
    bumped = tmp_path / "base-images.yaml"
    bumped.write_text(catalog.catalog_path().read_text().replace(old, new))
    monkeypatch.setenv("HARDCASE_CATALOG", str(bumped))

    result = run_ok("update", project)
    assert f"merged    {dockerfile}" in result.stdout
    text = dockerfile.read_text()
    assert f"gcr.io/distroless/static-debian12:nonroot@{new}" in text and old not in text
    assert 'LABEL org.example.team="payments"' in text


def test_changed_answers_are_rendered_and_merged(generated: tuple[Path, Path]) -> None:
    _, project = generated
    edit(project / "compose.yaml", USER_ENV, USER_ENV + "      LOG_LEVEL: debug\n")
    edit(project / ".hardcase.yml", "memory: 256m", "memory: 512m")
    run_ok("update", project)
    service = load_yaml(project / "compose.yaml")["services"]["fastapi-service"]
    assert service["deploy"]["resources"]["limits"]["memory"] == "512m"
    assert service["environment"]["LOG_LEVEL"] == "debug"


def test_update_refuses_a_rendering_the_policy_forbids(generated: tuple[Path, Path]) -> None:
    template, project = generated
    edit(template / "templates" / "python.Dockerfile", "COPY app/", "ADD app/")
    (project / "hardcase-policy.yaml").write_text("banned_instructions: [ADD]\n")
    before = files_under(project)
    assert_one_line_error(run_cli("update", project), 1, mentions="POL012")
    assert files_under(project) == before


def test_update_needs_a_generated_project(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("update", tmp_path), 2, mentions=".hardcase.yml")
    project = tmp_path / "svc"
    run_ok("new", project, "--preset", "go-stdlib", "--no-input")
    shutil.rmtree(project / ".hardcase")
    assert_one_line_error(run_cli("update", project), 2, mentions=".hardcase/base")
