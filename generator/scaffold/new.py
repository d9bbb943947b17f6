"""`hardcase new`, top to bottom: policy → template → layer answers → validate → render → policy check →
plan files → write (or show the plan).

Prompts happen before rendering, never during; the plan is complete in memory before the first
byte is written, so a bad answer, a policy violation or a conflict leaves DEST untouched.

Besides the project files, the plan holds `.hardcase.yml` (the answers, for replay and update) and
`.hardcase/base/` (a copy of this rendering): `hardcase update` uses it as the base of its 3-way
merge, because an older hardcase's templates and catalog cannot be re-run by a newer one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from generator import __version__
from generator.core.errors import UsageError
from generator.core.yamlio import dump_yaml, load_yaml_file
from generator.policy import files as policy
from generator.policy.audit import refuse_violations
from generator.scaffold import answers, presets, templating, trust
from generator.scaffold import write as scaffold
from generator.scaffold.context import template_context
from generator.scaffold.detect import detect
from generator.scaffold.template_hooks import run_hooks
from generator.scaffold.template_source import Template, open_template

ANSWERS_FILE = ".hardcase.yml"
BASE_DIR = PurePosixPath(".hardcase/base")


@dataclass
class NewRequest:
    dest: Path
    preset: str | None = None
    answers_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    with_app: bool = False
    registry_mirror: str | None = None
    force: bool = False
    dry_run: bool = False
    ask: Callable[[answers.Question, Any, answers.Partial], Any] | None = None
    template: str | None = None  # None: the built-in template
    checkout: str | None = None
    trust_template_hooks: bool = False
    presets_dir: Path | None = None
    policy_file: Path | None = None


@dataclass(frozen=True)
class NewResult:
    answers: answers.Answers
    steps: list[scaffold.Step]
    dry_run: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rendering:
    """The project files a template produced (before `.hardcase.yml` and the base copy are added)."""

    files: list[templating.FileOp]
    notes: list[str]


def load_answers_file(path: Path) -> dict[str, Any]:
    raw = load_yaml_file(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a mapping of answer keys to values")
    # Keys starting with '_' are metadata written by hardcase (template, version), not answers.
    return {str(k): v for k, v in raw.items() if not str(k).startswith("_")}


def load_metadata(path: Path) -> dict[str, Any]:
    """The `_`-prefixed keys hardcase writes into .hardcase.yml (template, version)."""
    raw = load_yaml_file(path)
    return {str(k): v for k, v in raw.items() if str(k).startswith("_")} if isinstance(raw, dict) else {}


def collect_answers(request: NewRequest, template: Template | None = None,
                    policies: list[policy.Policy] | None = None) -> answers.Answers:
    layers: list[Mapping[str, Any]] = [detect(request.dest)]
    if request.preset:
        template_presets = template.presets_dir if template else None
        layers.append(presets.find(request.preset, request.presets_dir, template_presets).answers)
    if request.answers_file:
        layers.append(load_answers_file(request.answers_file))
    layers.append(answers.parse_set(request.sets))
    flags: dict[str, Any] = {}
    if request.with_app:
        flags["with_app"] = True
    policy_mirror = policy.registry_mirror(policies or [])
    if request.registry_mirror is not None:
        flags["registry_mirror"] = request.registry_mirror
    elif policy_mirror is not None:
        flags["registry_mirror"] = policy_mirror
    layers.append(flags)
    return answers.resolve(layers, ask=request.ask)


def answers_file_content(result: answers.Answers, template: Template) -> bytes:
    header = (
        "# Answers used by `hardcase new`; replay with: hardcase new --answers .hardcase.yml --no-input\n"
        "# `hardcase update` re-renders from them and merges; .hardcase/base/ holds the last rendering.\n"
    )
    meta: dict[str, Any] = {"_template": template.source, "_hardcase_version": __version__}
    if template.checkout:
        meta["_checkout"] = template.checkout
    return (header + dump_yaml({**meta, **result.to_dict()})).encode("utf-8")


def _template_variables(config: Mapping[str, Any]) -> dict[str, Any]:
    """A custom template's own cookiecutter.json variables, as literal data (never rendered: a
    default such as `{{ cookiecutter.name }}` stays that text). A list means a choice: its first item."""
    found: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_") or key in ("name", "description"):
            continue
        found[key] = (value[0] if value else "") if isinstance(value, list) else value
    return found


def render_project(result: answers.Answers, template: Template, trust_hooks: bool) -> Rendering:
    """The template's files for these answers; hooks run only when trusted (see template_hooks)."""
    config = templating.read_template_config(template.root)
    context = {
        **_template_variables(config),
        "name": result.name,
        "description": result.description,
        "_hc": template_context(result),
        "_copy_without_render": config.get("_copy_without_render", []),
    }
    files = templating.render(template.root, context, cached=template.builtin)
    notes: list[str] = []
    hooks = template.hooks()
    if hooks and trust_hooks:
        files = run_hooks(hooks, files)
        notes.append(f"ran template hooks: {', '.join(h.name for h in hooks)}")
    elif hooks:
        notes.append(f"template hooks not run: {', '.join(h.name for h in hooks)} "
                     "(pass --trust-template-hooks to run them)")
    return Rendering(files, notes)


def with_metadata(rendering: Rendering, result: answers.Answers, template: Template) -> list[templating.FileOp]:
    """The project files, plus `.hardcase.yml` and the base copy `update` merges against."""
    base = [templating.FileOp(BASE_DIR / op.path, op.content, 0o644) for op in rendering.files]
    answers_op = templating.FileOp(PurePosixPath(ANSWERS_FILE), answers_file_content(result, template))
    return [*rendering.files, answers_op, *base]


def as_mapping(files: list[templating.FileOp]) -> dict[str, bytes]:
    return {op.path.as_posix(): op.content for op in files}


@contextmanager
def filesystem_errors() -> Iterator[None]:
    """An OSError while reading DEST, a policy or a template (a directory without search permission,
    an unreadable file) is the user's to fix: one line naming the path, not a traceback. Writes report
    their own errors (`write.apply` undoes what it created first)."""
    try:
        yield
    except OSError as exc:
        where = exc.filename if exc.filename is not None else "a file"
        raise UsageError(f"cannot access {where}: {exc.strerror or type(exc).__name__}; nothing written") from None


def run(request: NewRequest) -> NewResult:
    with filesystem_errors():
        return _run(request)


def _run(request: NewRequest) -> NewResult:
    policies = policy.discover(request.dest, request.policy_file, upward=False)
    with open_template(request.template, request.checkout) as template:
        result = collect_answers(request, template, policies)
        rendering = render_project(result, template, request.trust_template_hooks)
        refuse_violations(policies, as_mapping(rendering.files))
        files = with_metadata(rendering, result, template)
        source = trust.Source(template.source, template.checkout)
    if request.dry_run:
        steps = scaffold.plan_steps(request.dest, files, request.force)
        return NewResult(result, steps, dry_run=True, notes=rendering.notes)
    steps = scaffold.apply(request.dest, files, request.force)
    # The source the user chose on the command line is the one `update` may follow without asking.
    note = trust.record(request.dest, source)
    return NewResult(result, steps, dry_run=False, notes=[*rendering.notes, *([note] if note else [])])
