"""`hardcase new`, top to bottom: layer answers → validate → plan files → write (or show the plan).

Prompts happen before rendering, never during; the plan is complete in memory before the first
byte is written, so a bad answer or a conflict leaves DEST untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__, answers, presets, scaffold, templating
from .context import template_context
from .detect import detect
from .errors import UsageError
from .resources import templates_dir
from .yamlio import dump_yaml, load_yaml_file

ANSWERS_FILE = ".hardcase.yml"
TEMPLATE_NAME = "service"


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


@dataclass(frozen=True)
class NewResult:
    answers: answers.Answers
    steps: list[scaffold.Step]
    dry_run: bool


def load_answers_file(path: Path) -> dict[str, Any]:
    raw = load_yaml_file(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a mapping of answer keys to values")
    # Keys starting with '_' are metadata written by hardcase (template, version), not answers.
    return {str(k): v for k, v in raw.items() if not str(k).startswith("_")}


def collect_answers(request: NewRequest) -> answers.Answers:
    layers: list[Mapping[str, Any]] = [detect(request.dest)]
    if request.preset:
        layers.append(presets.find(request.preset).answers)
    if request.answers_file:
        layers.append(load_answers_file(request.answers_file))
    layers.append(answers.parse_set(request.sets))
    flags: dict[str, Any] = {}
    if request.with_app:
        flags["with_app"] = True
    if request.registry_mirror is not None:
        flags["registry_mirror"] = request.registry_mirror
    layers.append(flags)
    return answers.resolve(layers, ask=request.ask)


def answers_file_content(result: answers.Answers) -> bytes:
    header = (
        "# Answers used by `hardcase new`; replay with: hardcase new --answers .hardcase.yml --no-input\n"
    )
    body = {"_template": TEMPLATE_NAME, "_hardcase_version": __version__, **result.to_dict()}
    return (header + dump_yaml(body)).encode("utf-8")


def plan(result: answers.Answers) -> list[templating.FileOp]:
    template_root = templates_dir() / TEMPLATE_NAME
    config = templating.read_template_config(template_root)
    context = {
        "name": result.name,
        "description": result.description,
        "_hc": template_context(result),
        "_copy_without_render": config.get("_copy_without_render", []),
    }
    files = templating.render(template_root, context)
    files.append(templating.FileOp(PurePosixPath(ANSWERS_FILE), answers_file_content(result)))
    return files


def run(request: NewRequest) -> NewResult:
    result = collect_answers(request)
    files = plan(result)
    if request.dry_run:
        return NewResult(result, scaffold.plan_steps(request.dest, files, request.force), dry_run=True)
    return NewResult(result, scaffold.apply(request.dest, files, request.force), dry_run=False)
