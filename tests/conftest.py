"""Shared fixtures: every preset generated once per session (with and without --with-app, plus
variants), and one checkov run over all of their Dockerfiles."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scaffold_support import Case, Generated, all_cases, checkov_bin, clean_env, run_cli


@pytest.fixture(scope="session", autouse=True)
def private_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`new --template` records the trusted template source per user ($XDG_STATE_HOME/hardcase): the
    tests keep those records in a temporary directory, never in the home directory."""
    import os

    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state-home"))
    yield
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture(scope="session")
def generate(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Case], Generated]:
    """Generate a case once per session (in-process CLI, --no-input) and hand back where it went."""
    root = tmp_path_factory.mktemp("generated")
    done: dict[Case, Generated] = {}

    def _generate(case: Case) -> Generated:
        if case not in done:
            dest = root / case.id
            result = run_cli(*case.argv(dest))
            assert result.exit_code == 0, f"{case.id}: {result.stderr}"
            assert result.stderr == ""
            done[case] = Generated(case, dest)
        return done[case]

    return _generate


@pytest.fixture(scope="session")
def checkov_report(
    generate: Callable[[Case], Generated], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """checkov run once over a directory holding the Dockerfile of every case (DIR/<case id>/Dockerfile).

    Returns {"files": {case id: {"passed": [...], "failed": [...], "skipped": [...]}}, "summary": ...}.
    """
    binary = checkov_bin()
    scan = tmp_path_factory.mktemp("checkov")
    for case in all_cases():
        target = scan / case.id / "Dockerfile"
        target.parent.mkdir()
        shutil.copyfile(generate(case).dest / "Dockerfile", target)
    proc = subprocess.run(
        [binary, "-d", str(scan), "--framework", "dockerfile", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=scan,
        env=clean_env("CKV_", "BC_", "PRISMA_"),
    )
    assert proc.returncode in (0, 1), f"checkov could not run (exit {proc.returncode}): {proc.stderr[-2000:]}"
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not print a JSON report: {proc.stdout[:500]!r} {proc.stderr[-1000:]!r}")
    reports = report if isinstance(report, list) else [report]
    dockerfile_reports = [r for r in reports if r.get("check_type") == "dockerfile"]
    assert len(dockerfile_reports) == 1, f"expected one dockerfile report, got {reports!r:.500}"
    (dockerfile_report,) = dockerfile_reports
    files: dict[str, dict[str, list[dict[str, Any]]]] = {
        case.id: {"passed": [], "failed": [], "skipped": []} for case in all_cases()
    }
    for outcome in ("passed", "failed", "skipped"):
        for check in dockerfile_report["results"].get(f"{outcome}_checks", []):
            case_id = Path(check["file_abs_path"]).parent.name
            assert case_id in files, f"checkov reported a file it was not given: {check['file_abs_path']}"
            files[case_id][outcome].append(check)
    return {"files": files, "summary": dockerfile_report["summary"]}
