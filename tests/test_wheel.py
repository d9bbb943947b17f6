"""The wheel carries everything `hardcase new` needs: templates, presets and data come from inside
the installed package, not from a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scaffold_support import REPO, files_under, run_ok

PRESET = "go-stdlib"


def _run(argv: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )
    assert proc.returncode == 0, (
        f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    try:
        import build  # noqa: F401
    except ImportError:
        pytest.fail("the `build` package is missing from the test environment (pip install -e '.[test]')")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)], cwd=dist)
    (built,) = dist.glob("hardcase-*.whl")
    return built


def test_wheel_contains_templates_presets_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    template_files = {
        f"generator/templates/{p.relative_to(REPO / 'templates').as_posix()}"
        for p in (REPO / "templates").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    preset_files = {f"generator/presets/{p.name}" for p in (REPO / "presets").glob("*.yaml")}
    data_files = {f"generator/data/{p.name}" for p in (REPO / "generator" / "data").glob("*.yaml")}
    assert template_files and preset_files and data_files
    assert template_files | preset_files | data_files <= names, sorted(
        (template_files | preset_files | data_files) - names
    )


def test_installed_wheel_generates_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _run([sys.executable, "-m", "venv", str(venv)], cwd=outside)
    _run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheel),
        ],
        cwd=outside,
    )

    where = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import json; from generator.core import resources as r; "
            "print(json.dumps([str(r.templates_dir()), str(r.presets_dir()), str(r.DATA_DIR)]))",
        ],
        cwd=outside,
    )
    for location in json.loads(where.stdout):
        assert Path(location).resolve().is_relative_to(venv.resolve()), location

    listed = _run([str(venv / "bin" / "hardcase"), "presets", "--format", "json"], cwd=outside)
    assert PRESET in {p["name"] for p in json.loads(listed.stdout)}

    out = outside / "out"
    _run([str(venv / "bin" / "hardcase"), "new", "out", "--preset", PRESET, "--no-input"], cwd=outside)
    reference = tmp_path / "reference"
    run_ok("new", reference, "--preset", PRESET, "--no-input")
    installed, local = files_under(out), files_under(reference)
    assert "Dockerfile" in installed and "compose.yaml" in installed
    assert sorted(installed) == sorted(local)
    for relative, content in local.items():
        assert installed[relative] == content, relative
