"""`hardcase templates check SOURCE`: render a template with each of its presets and run the static gates
the built-in template is held to in hardcase's own tests.

Gates per preset: contract (the five files a template must produce), hadolint (zero findings at any
severity, no config file, ignore pragmas disabled), checkov (zero failed checks, and at least one
check really ran), `docker-compose config -q`, the seccomp profile (libseccomp compile, unknown
names, dangerous allowances), and the policy. A judge tool that cannot be found fails its gate: a
check that did not run never counts as passed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from generator.policy import files as policy
from generator.policy.audit import audit_files, read_project
from generator.profiles import seccomp_check
from generator.scaffold import answers, presets
from generator.scaffold import write as scaffold
from generator.scaffold.new import render_project
from generator.scaffold.template_source import Template, open_template

REQUIRED_FILES = ("Dockerfile", "compose.yaml", "seccomp.json", ".dockerignore", "README.Docker.md")
GATE_INPUT = {"hadolint": "Dockerfile", "checkov": "Dockerfile", "compose": "compose.yaml", "seccomp": "seccomp.json"}
TOOL_TIMEOUT = 600


@dataclass(frozen=True)
class GateResult:
    preset: str
    gate: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ToolMissing(Exception):
    pass


def find_tool(name: str, env_var: str) -> str:
    """The judge binary: $ENV_VAR, then PATH, then next to the running Python (a venv's bin)."""
    configured = os.environ.get(env_var)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise ToolMissing(f"{env_var}={configured} is not an executable file")
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    raise ToolMissing(f"{name} not found on PATH or next to {sys.executable} (install it or set {env_var})")


def _clean_env(*prefixes: str) -> dict[str, str]:
    """The environment without variables that would configure a judge to look away."""
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def _run(args: list[str], cwd: Path, drop: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False, cwd=cwd,
                          env=_clean_env(*drop))


def gate_contract(project: Path) -> tuple[bool, str]:
    missing = [name for name in REQUIRED_FILES if not (project / name).is_file()]
    return (not missing, f"missing {', '.join(missing)}" if missing else "all required files produced")


def gate_hadolint(project: Path) -> tuple[bool, str]:
    config = project.parent / "hadolint-empty.yaml"
    config.write_text("{}\n", encoding="utf-8")
    proc = _run([find_tool("hadolint", "HARDCASE_HADOLINT"), "--config", str(config), "--disable-ignore-pragma",
                 "--format", "json", "--failure-threshold", "style", "--no-fail", "Dockerfile"],
                project, ("HADOLINT_",))
    if proc.returncode != 0:
        return False, f"hadolint could not run: {proc.stderr.strip()[:200]}"
    findings = json.loads(proc.stdout or "[]")
    if findings:
        return False, "; ".join(f"{f['code']} line {f['line']}: {f['message']}" for f in findings)
    return True, "no findings"


def gate_checkov(project: Path) -> tuple[bool, str]:
    proc = _run([find_tool("checkov", "HARDCASE_CHECKOV"), "-f", "Dockerfile", "--framework", "dockerfile",
                 "--skip-download", "-o", "json"], project, ("CKV_", "BC_", "PRISMA_"))
    if proc.returncode not in (0, 1):
        return False, f"checkov could not run (exit {proc.returncode}): {proc.stderr.strip()[-200:]}"
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return False, f"checkov printed no JSON report: {proc.stdout[:200]!r}"
    reports = report if isinstance(report, list) else [report]
    results = [r.get("results", {}) for r in reports if r.get("check_type") == "dockerfile"]
    failed = [c["check_id"] for r in results for c in r.get("failed_checks", [])]
    passed = [c["check_id"] for r in results for c in r.get("passed_checks", [])]
    if failed:
        return False, "failed: " + ", ".join(sorted(set(failed)))
    if not passed:
        return False, "checkov ran no check on the Dockerfile"
    return True, f"{len(passed)} checks passed, none failed"


def gate_compose(project: Path) -> tuple[bool, str]:
    proc = _run([find_tool("docker-compose", "HARDCASE_COMPOSE"), "config", "-q"], project, ("COMPOSE_",))
    if proc.returncode != 0:
        return False, (proc.stderr.strip().splitlines() or ["config failed"])[-1]
    return True, "docker-compose config -q accepts it"


def gate_seccomp(project: Path) -> tuple[bool, str]:
    try:
        profile = json.loads((project / "seccomp.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return False, f"seccomp.json unreadable ({exc.__class__.__name__})"
    problems = seccomp_check.validate_profile(profile)
    return (not problems, "; ".join(problems) if problems else "compiles for x86_64 and aarch64")


def _gate_policy(policies: list[policy.Policy]) -> Callable[[Path], tuple[bool, str]]:
    def gate(project: Path) -> tuple[bool, str]:
        if not policies:
            return True, "no policy in force"
        violations = audit_files(policies, read_project(project))
        return (not violations, "; ".join(f"{v.rule} {v.message}" for v in violations) or "complies")

    return gate


def _presets_of(template: Template, only: list[str], presets_dir: Path | None) -> list[presets.Preset]:
    if only:
        return [presets.find(name, presets_dir, template.presets_dir) for name in only]
    if template.presets_dir is not None:
        return presets.in_directory(template.presets_dir)
    return presets.available(presets_dir)


def _gates(policies: list[policy.Policy]) -> list[tuple[str, Callable[[Path], tuple[bool, str]]]]:
    return [("contract", gate_contract), ("hadolint", gate_hadolint), ("checkov", gate_checkov),
            ("compose", gate_compose), ("seccomp", gate_seccomp), ("policy", _gate_policy(policies))]


def _run_gate(name: str, gate: Callable[[Path], tuple[bool, str]], project: Path) -> tuple[bool, str]:
    needed = GATE_INPUT.get(name)
    if needed is not None and not (project / needed).is_file():
        return False, f"nothing to check ({needed} not produced)"
    try:
        return gate(project)
    except ToolMissing as exc:
        return False, str(exc)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {TOOL_TIMEOUT}s"


def check_template(source: str, checkout: str | None = None, only: list[str] | None = None,
                   presets_dir: Path | None = None, policy_file: Path | None = None,
                   trust_hooks: bool = False) -> Iterator[GateResult]:
    """Gate results, preset by preset (rendered into a private temporary directory)."""
    with open_template(source, checkout) as template, tempfile.TemporaryDirectory(prefix="hardcase-gates-") as tmp:
        policies = policy.discover(template.root, policy_file, upward=False)
        mirror = policy.registry_mirror(policies)
        for preset in _presets_of(template, only or [], presets_dir):
            layers: list[Mapping[str, Any]] = [preset.answers]
            if mirror is not None:
                layers.append({"registry_mirror": mirror})
            result = answers.resolve(layers)
            project = Path(tmp) / preset.name / "project"
            scaffold.apply(project, render_project(result, template, trust_hooks).files)
            for name, gate in _gates(policies):
                ok, detail = _run_gate(name, gate, project)
                yield GateResult(preset.name, name, ok, detail)
