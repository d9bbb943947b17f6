"""`hardcase update [DIR]`: re-render a generated project with today's templates, presets dirs, catalog
and policy, and 3-way merge the result into the user's files, as copier does.

Top to bottom: read `.hardcase.yml` (answers + `_template`) → make sure the user trusts that template
source for this project (`trust`: .hardcase.yml travels with the repository) → render NEW → refuse on policy
violations → for each file merge (base = `.hardcase/base/FILE`, the last rendering; ours = the
user's file; theirs = NEW) → write atomically, with the new rendering as the next base.

Why a stored base and not "render the old version again": the old version is an older hardcase
(templates, catalog, seccomp lists), which a newer install cannot run; the stored copy is exact,
small, and travels with the project in its repository.

Per file: unchanged by the user → take NEW; unchanged by hardcase → keep the user's; both changed
→ `git merge-file` (conflicts marked like git, exit 1). A file the user deleted stays deleted
(reported); a file hardcase no longer generates stays (reported); a new template file is created.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from generator import __version__
from generator.core.errors import UsageError
from generator.policy import files as policy
from generator.policy.audit import refuse_violations
from generator.scaffold import answers, trust
from generator.scaffold import write as scaffold
from generator.scaffold.merge import merge3
from generator.scaffold.new import (
    ANSWERS_FILE,
    BASE_DIR,
    answers_file_content,
    as_mapping,
    filesystem_errors,
    load_answers_file,
    load_metadata,
    render_project,
)
from generator.scaffold.template_source import BUILTIN, open_template
from generator.scaffold.templating import FileOp


class Outcome(Enum):
    UNCHANGED = "unchanged"
    UPDATED = "updated"  # the user had not changed it: the new rendering, as is
    MERGED = "merged"  # both changed, merged cleanly
    CONFLICT = "conflict"  # both changed the same lines: markers written
    CREATED = "create"  # new in the template
    USER_DELETED = "deleted"  # the user deleted it: not restored
    NOT_GENERATED = "kept"  # the template no longer produces it: left alone


@dataclass(frozen=True)
class FileUpdate:
    path: PurePosixPath
    outcome: Outcome
    before: bytes | None  # the user's file now
    after: bytes | None  # what it becomes
    conflicts: int = 0


@dataclass(frozen=True)
class UpdateRequest:
    dest: Path
    dry_run: bool = False
    policy_file: Path | None = None
    trust_template_hooks: bool = False
    template_source_ok: bool = False  # --template-source-ok: the user reviewed `_template`
    confirm: Callable[[str], bool] | None = None  # asks the user (interactive runs only)


@dataclass
class UpdatePlan:
    dest: Path
    files: list[FileUpdate]
    writes: list[FileOp]  # project files, .hardcase.yml and the new base
    stale_base: list[Path]  # base copies of files no longer generated
    source: trust.Source  # the template source rendered: recorded as trusted once written
    notes: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> int:
        return sum(f.conflicts for f in self.files)


def _read_base(dest: Path) -> dict[PurePosixPath, bytes]:
    base_root = dest / BASE_DIR
    if not base_root.is_dir() or base_root.is_symlink():
        raise UsageError(f"{base_root} is missing: it holds the rendering `update` merges against; "
                         f"projects generated before it existed need `hardcase new --force` once")
    found: dict[PurePosixPath, bytes] = {}
    for path in sorted(base_root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[PurePosixPath(path.relative_to(base_root).as_posix())] = path.read_bytes()
    return found


def _file_update(dest: Path, path: PurePosixPath, base: bytes | None, theirs: bytes) -> FileUpdate:
    target = dest / path
    ours = target.read_bytes() if target.is_file() and not target.is_symlink() else None
    if ours is None:
        if base is not None:
            return FileUpdate(path, Outcome.USER_DELETED, None, None)
        return FileUpdate(path, Outcome.CREATED, None, theirs)
    if ours == theirs:
        return FileUpdate(path, Outcome.UNCHANGED, ours, ours)
    if base is not None and ours == base:
        return FileUpdate(path, Outcome.UPDATED, ours, theirs)
    if base is not None and theirs == base:
        return FileUpdate(path, Outcome.UNCHANGED, ours, ours)
    merged = merge3(ours, base or b"", theirs, (f"yours ({path})", "base (last generated)",
                                                f"hardcase {__version__}"))
    outcome = Outcome.CONFLICT if merged.conflicts else Outcome.MERGED
    return FileUpdate(path, outcome, ours, merged.content, merged.conflicts)


def _mode(dest: Path, path: PurePosixPath, rendered: Mapping[PurePosixPath, FileOp]) -> int:
    target = dest / path
    if target.is_file():
        return target.stat().st_mode & 0o777
    return rendered[path].mode if path in rendered else 0o644


def _template_source(meta: Mapping[str, Any], answers_path: Path) -> trust.Source:
    template, checkout = meta.get("_template"), meta.get("_checkout")
    if template is None:  # no `_template`: the built-in template, as `open_template` reads it
        template = BUILTIN
    if not isinstance(template, str) or not template.strip():
        raise UsageError(f"{answers_path}: _template must be a template source (a directory, git URL or zip)")
    if checkout is not None and not isinstance(checkout, str):
        raise UsageError(f"{answers_path}: _checkout must be a branch, tag or commit")
    return trust.Source(template, checkout)


def plan_update(request: UpdateRequest) -> UpdatePlan:
    with filesystem_errors():
        return _plan_update(request)


def _plan_update(request: UpdateRequest) -> UpdatePlan:
    dest = request.dest
    answers_path = dest / ANSWERS_FILE
    if not answers_path.is_file():
        raise UsageError(f"{answers_path}: no such file (update works on projects made by `hardcase new`)")
    meta = load_metadata(answers_path)
    source = _template_source(meta, answers_path)
    # Before anything is fetched or rendered: cloning and rendering are the template's first moves.
    trust.require(dest, source, answers_path, source_ok=request.template_source_ok, confirm=request.confirm)
    saved = load_answers_file(answers_path)
    policies = policy.discover(dest, request.policy_file, upward=True)
    layers: list[Mapping[str, Any]] = [saved]
    mirror = policy.registry_mirror(policies)
    if mirror is not None:
        layers.append({"registry_mirror": mirror})
    result = answers.resolve(layers)
    base = _read_base(dest)
    with open_template(source.template, source.checkout) as template:
        rendering = render_project(result, template, request.trust_template_hooks)
        refuse_violations(policies, as_mapping(rendering.files))
        answers_content = answers_file_content(result, template)
    rendered = {op.path: op for op in rendering.files}
    files = [_file_update(dest, path, base.get(path), op.content) for path, op in rendered.items()]
    files += [FileUpdate(path, Outcome.NOT_GENERATED, None, None) for path in base if path not in rendered]
    writes = [FileOp(f.path, f.after, _mode(dest, f.path, rendered)) for f in files
              if f.after is not None and f.after != f.before]
    writes.append(FileOp(PurePosixPath(ANSWERS_FILE), answers_content))
    writes += [FileOp(BASE_DIR / op.path, op.content) for op in rendering.files]
    stale = [dest / BASE_DIR / path for path in base if path not in rendered]
    return UpdatePlan(dest, files, writes, stale, source, rendering.notes)


def apply_update(plan: UpdatePlan) -> list[str]:
    """Write every change atomically (confined to DEST, never through symlinks), then drop stale bases and
    remember the template source as trusted for this project. Returns notes for the user."""
    scaffold.apply(plan.dest, plan.writes, force=True)
    with filesystem_errors():
        for path in plan.stale_base:
            path.unlink(missing_ok=True)
    note = trust.record(plan.dest, plan.source)
    return [note] if note else []


def unified_diff(plan: UpdatePlan) -> str:
    """What `update` would change in the user's files, as one unified diff (a/ = now, b/ = after)."""
    chunks: list[str] = []
    for item in plan.files:
        if item.after is None or item.after == item.before:
            continue
        before = (item.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        after = item.after.decode("utf-8", "replace").splitlines(keepends=True)
        source = f"a/{item.path}" if item.before is not None else "/dev/null"
        chunks.extend(difflib.unified_diff(before, after, source, f"b/{item.path}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)
