"""The template stays a real cookiecutter template: plain `cookiecutter` renders the same files
`hardcase new --preset python-fastapi --no-input` writes (cookiecutter.json is kept in sync by
scripts/sync_cookiecutter_json.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scaffold_support import REPO, dump_yaml, files_under, run_ok

TEMPLATE = REPO / "templates" / "service"
SYNC_SCRIPT = REPO / "scripts" / "sync_cookiecutter_json.py"
DEFAULT_PRESET = "python-fastapi"


def test_cookiecutter_json_is_in_sync(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(SYNC_SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, f"{proc.stdout}{proc.stderr}"


def test_plain_cookiecutter_renders_what_hardcase_renders(tmp_path: Path) -> None:
    from cookiecutter.main import cookiecutter

    # Keep cookiecutter's replay and clone directories out of the home directory.
    config = tmp_path / "cookiecutter-config.yaml"
    dump_yaml(
        {"cookiecutters_dir": str(tmp_path / "cookiecutters"), "replay_dir": str(tmp_path / "replay")}, config
    )
    before = files_under(TEMPLATE)
    project = Path(
        cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path / "cc"), config_file=str(config))
    )
    assert files_under(TEMPLATE) == before, "cookiecutter changed the template"

    ours = tmp_path / "hardcase"
    run_ok("new", ours, "--preset", DEFAULT_PRESET, "--no-input")
    expected = {rel: content for rel, content in files_under(ours).items()
                if rel != ".hardcase.yml" and not rel.startswith(".hardcase/")}
    rendered = files_under(project)
    assert sorted(rendered) == sorted(expected)
    for relative, content in expected.items():
        assert rendered[relative] == content, relative
        assert (project / relative).stat().st_mode & 0o111 == (ours / relative).stat().st_mode & 0o111, (
            relative
        )
