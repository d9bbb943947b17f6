"""The package layout and its import contracts (README "Layout").

`lint-imports` (import-linter) checks the contracts on the real tree in the test command; these tests
prove each contract can fail (a copy of the package with one forbidden import per contract breaks
exactly that contract) and keep the layout's other promises: only packages at the top, no module
over ~400 lines, every package says what it is for.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "generator"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
FLOWS = ("cli", "scaffold", "audit", "profiles", "engine", "policy", "core")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def contract_lines(output: str) -> dict[str, str]:
    """Contract name -> KEPT/BROKEN from lint-imports' summary (names may wrap onto a second line)."""
    statuses: dict[str, str] = {}
    pending = ""
    for line in output.splitlines():
        words = line.rstrip().rsplit(" ", 1)
        if len(words) == 2 and words[1] in ("KEPT", "BROKEN"):
            statuses[(pending + " " + words[0]).strip()] = words[1]
            pending = ""
        elif line and not line.startswith(("-", "Analyzed", "Contracts", " ")) and line[0].isalnum():
            pending = (pending + " " + line.strip()).strip()
        else:
            pending = ""
    return statuses


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = contract_lines(result.stdout)
    assert len(statuses) == 4 and set(statuses.values()) == {"KEPT"}, statuses


def test_each_contract_breaks_on_a_forbidden_import(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "generator", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    injected = {
        "core/errors.py": "from generator.cli import main as _layer_breach  # a core module importing the CLI\n",
        "audit/model.py": "from generator.audit import lint as _cycle  # model <- lint <- model\n",
        "audit/rules/user.py": "from generator.audit.packages import index as _network  # network code in a rule\n",
        "engine/hostproc.py": "import questionary as _prompt  # a prompt outside scaffold.questions\n",
    }
    for relative, line in injected.items():
        path = tmp_path / "generator" / relative
        path.write_text(path.read_text(encoding="utf-8") + line, encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    statuses = contract_lines(result.stdout)
    assert len(statuses) == 4 and set(statuses.values()) == {"BROKEN"}, result.stdout


def test_the_top_level_holds_only_packages() -> None:
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "__main__.py", "data", *FLOWS}
    for flow in FLOWS:
        assert (PACKAGE / flow / "__init__.py").is_file(), flow


def test_no_module_is_over_400_lines() -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {path: size for path, size in sizes.items() if size > 400} == {}


def test_every_package_says_what_it_is_for_and_what_it_may_import() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 12, f"{init.relative_to(REPO)} has no docstring saying what it is for"
        if init.parent.parent == PACKAGE:  # the flows and the core also say what they may import
            assert "import" in doc.lower(), f"{init.relative_to(REPO)} does not say what it may import"
