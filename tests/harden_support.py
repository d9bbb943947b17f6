"""Shared helpers for the `check`/`harden` tests: the per-rule YAML cases and the pipeline entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from generator.audit.dockerfile import parse
from generator.audit.fix import HardenResult, harden
from generator.audit.lint import Config, check
from generator.audit.packages.versions import from_mapping
from generator.audit.rules.pins import active

REPO = Path(__file__).resolve().parent.parent
RULE_CASES = Path(__file__).resolve().parent / "rules"
# `hardcase check PATH` in a fresh interpreter, then which of the named modules it had imported.
CHECK_IMPORTS = ("import sys\nmodules = sys.argv[2:]\nsys.argv = ['hardcase', 'check', sys.argv[1]]\n"
                 "from generator.cli.main import entry\ntry:\n    entry()\nexcept SystemExit:\n    pass\n"
                 "print(sorted(m for m in modules if m in sys.modules), file=sys.stderr)")


@dataclass(frozen=True)
class Case:
    rule: str
    kind: str  # pass, fail, fix
    number: int
    text: str
    expected: str | None = None  # fix: the expected output
    versions: dict[str, Any] | None = None  # fix: package versions the fix may use (a --package-versions file)

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.kind}-{self.number}"


@cache
def rule_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for path in sorted(RULE_CASES.glob("HC0*.yaml")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        assert set(data) <= {"pass", "fail", "fix"}, path
        for kind in ("pass", "fail"):
            cases.extend(Case(path.stem, kind, n, text) for n, text in enumerate(data.get(kind) or []))
        cases.extend(Case(path.stem, "fix", n, item["in"], item["out"], item.get("versions"))
                     for n, item in enumerate(data.get("fix") or []))
    return tuple(cases)


def all_inputs() -> list[str]:
    """Every Dockerfile in the rule cases: inputs for whole-pipeline properties."""
    return sorted({case.text for case in rule_cases()} | {case.expected for case in rule_cases() if case.expected})


def rule_ids(text: str) -> set[str]:
    return {v.rule_id for v in check(parse(text), Config())}


def harden_text(text: str, unsafe: bool = True, config: Config | None = None,
                versions: dict[str, Any] | None = None) -> HardenResult:
    """Harden TEXT; with VERSIONS (a package-versions mapping) HC048 may pin packages to them."""
    resolver = from_mapping(versions, "versions") if versions is not None else None
    with active(resolver):
        return harden(parse(text), config or Config(), unsafe=unsafe)


def check_imports(path: Path, modules: Sequence[str]) -> tuple[str, list[str]]:
    """`hardcase check PATH` in a new Python process: its stdout, and which of MODULES it imported
    (the fast path's promise is about a cold start, which only a fresh interpreter shows)."""
    proc = subprocess.run([sys.executable, "-c", CHECK_IMPORTS, str(path), *modules], capture_output=True, text=True,
                          cwd=REPO, env={"PYTHONPATH": str(REPO)}, check=False)
    loaded = ast.literal_eval(proc.stderr.strip().splitlines()[-1])
    assert isinstance(loaded, list), proc.stderr
    return proc.stdout, [str(m) for m in loaded]
