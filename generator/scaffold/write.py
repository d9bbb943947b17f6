"""Apply a plan of files to a destination directory: all-or-nothing conflict checks, atomic writes.

Invariants: nothing is written until every file has been checked; an existing file with different
content is never replaced without `force`; no write follows a symlink or lands outside DEST; each
file appears whole or not at all (temporary file in the same directory, then rename).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from generator.core.errors import ConflictError, UsageError
from generator.core.files import write_atomic
from generator.scaffold.templating import FileOp


class Action(Enum):
    CREATE = "create"
    OVERWRITE = "overwrite"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Step:
    op: FileOp
    target: Path
    action: Action


def _check_confined(dest: Path, relative: Path) -> Path:
    """The target path, refusing symlinks on the way so a link in DEST cannot redirect a write."""
    current = dest
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            raise ConflictError(f"{current} is a symlink; refusing to write through it")
    resolved = current.resolve()
    if not resolved.is_relative_to(dest.resolve()):
        raise ConflictError(f"{relative} resolves outside {dest}")
    return current


def plan_steps(dest: Path, plan: list[FileOp], force: bool) -> list[Step]:
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a directory")
    steps = []
    for op in plan:
        target = _check_confined(dest, Path(op.path))
        if target.is_dir():
            raise ConflictError(f"{target} is a directory; cannot write a file there")
        if not target.exists():
            action = Action.CREATE
        elif target.read_bytes() == op.content:
            action = Action.UNCHANGED
        else:
            action = Action.OVERWRITE if force else Action.CONFLICT
        steps.append(Step(op=op, target=target, action=action))
    return steps


def _writable_ancestor(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def apply(dest: Path, plan: list[FileOp], force: bool = False) -> list[Step]:
    steps = plan_steps(dest, plan, force)
    conflicts = [s for s in steps if s.action is Action.CONFLICT]
    if conflicts:
        names = ", ".join(str(s.op.path) for s in conflicts)
        raise ConflictError(f"would overwrite {names} in {dest}; nothing written (use --force to replace)")
    ancestor = _writable_ancestor(dest)
    if not ancestor.is_dir():
        raise UsageError(f"{ancestor} is not a directory; nothing written")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{ancestor} is not writable; nothing written")
    new_dirs = sorted({parent for step in steps for parent in step.target.parents
                       if parent.is_relative_to(ancestor) and parent != ancestor and not parent.exists()},
                      key=lambda p: len(p.parts), reverse=True)
    created: list[Path] = []
    try:
        for step in steps:
            if step.action is Action.UNCHANGED:
                continue
            write_atomic(step.target, step.op.content, step.op.mode, make_parents=True)
            if step.action is Action.CREATE:
                created.append(step.target)
    except OSError as exc:
        # Root passes every permission check, so the kernel (read-only or virtual filesystems, full
        # disks) is the last word: undo what this run created and report it on one line.
        for path in reversed(created):
            path.unlink(missing_ok=True)
        for directory in new_dirs:
            with contextlib.suppress(OSError):
                directory.rmdir()
        reason = exc.strerror or exc.__class__.__name__
        raise UsageError(f"cannot write {exc.filename or dest}: {reason}; nothing written") from None
    return steps
