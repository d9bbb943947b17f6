"""Run a custom template's cookiecutter hooks, only when the user said they trust the template.

Cookiecutter renders hook scripts as Jinja templates with the answers spliced in, so an answer can
become code. Here a hook runs exactly as written (never rendered, no answers in its source or its
arguments), in a private staging directory that holds the rendered files: `pre_gen_project` runs
in the empty directory, the files are written, `post_gen_project` runs, and what is left becomes
the plan. The plan then goes through the same checks as any other (no VCS or control directory,
policy, confinement, conflicts), so a hook can shape the output but cannot write into DEST or outside
it by itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from generator.core.errors import ConflictError, UsageError
from generator.scaffold.template_guard import refuse_control_path
from generator.scaffold.templating import FileOp

HOOK_TIMEOUT = 120


def _command(hook: Path) -> list[str]:
    if hook.suffix == ".py":
        return [sys.executable, str(hook)]
    if hook.suffix == ".sh":
        return ["/bin/sh", str(hook)]
    if os.access(hook, os.X_OK):
        return [str(hook)]
    raise UsageError(f"template hook {hook.name}: not a .py or .sh file and not executable")


def _run(hook: Path, cwd: Path) -> None:
    try:
        proc = subprocess.run(_command(hook), cwd=cwd, capture_output=True, text=True, timeout=HOOK_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise UsageError(f"template hook {hook.name} ran longer than {HOOK_TIMEOUT}s; nothing written") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        raise UsageError(f"template hook {hook.name} failed (exit {proc.returncode}): {last}; nothing written")


def _write(stage: Path, files: list[FileOp]) -> None:
    for op in files:
        target = stage / op.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(op.content)
        target.chmod(op.mode)


def _read(stage: Path) -> list[FileOp]:
    plan: list[FileOp] = []
    for path in sorted(stage.rglob("*")):
        relative = PurePosixPath(path.relative_to(stage).as_posix())
        if path.is_symlink():
            raise ConflictError(f"template hook left a symlink, refusing: {relative}")
        if path.is_file():
            refuse_control_path(relative, "a template hook")
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            plan.append(FileOp(relative, path.read_bytes(), mode))
    return plan


def run_hooks(hooks: list[Path], files: list[FileOp]) -> list[FileOp]:
    """The plan after the hooks ran over it in a staging directory (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="hardcase-hooks-") as tmp:
        stage = Path(tmp)
        for hook in hooks:
            if hook.name.startswith("pre_gen_project"):
                _run(hook, stage)
        _write(stage, files)
        for hook in hooks:
            if hook.name.startswith("post_gen_project"):
                _run(hook, stage)
        return _read(stage)
