"""Render a cookiecutter-format template into an in-memory plan, safely.

Why not cookiecutter's own `generate_files`: it renders with an unsandboxed Jinja environment and
re-renders answer values as templates, so an answer such as `{{ cycler.__init__.__globals__... }}`
would run code. Here answers are only ever *values* in the context; the template text is rendered
in a sandboxed environment with strict undefined variables, and every output path is confined to
the destination. The template format is cookiecutter's (cookiecutter.json, a `{{cookiecutter.*}}`
root directory, a `templates/` directory for includes, `_copy_without_render`), so plain
`cookiecutter` renders the same template.

A file that renders to only whitespace is left out of the plan: that is how a template says a file
belongs to another language or to `--with-app` (the template's post-generation hook does the same
for plain cookiecutter).
"""

from __future__ import annotations

import fnmatch
import json
import time
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from generator.core.errors import ConflictError, UsageError
from generator.scaffold.template_guard import private_dir, refuse_control_path


@dataclass(frozen=True)
class FileOp:
    path: PurePosixPath  # relative to the destination
    content: bytes
    mode: int = 0o644


PROJECT_PREFIX = "__project__"


def _bytecode_cache() -> Any:
    """Compiled templates cached per user, so a run does not recompile unchanged templates (a third of
    the render time); not used at all unless the directory passes `private_dir`: a cache entry is
    unpickled and unmarshalled, that is, run.

    Jinja keys the cache by template name and source checksum, so an edited template recompiles.
    """
    import os

    from jinja2 import FileSystemBytecodeCache

    try:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hardcase" / "jinja"
    except RuntimeError:  # no home directory to be found
        return None
    # Its own file names: entries compiled before rendering was bounded (see _code_generator) never load.
    return FileSystemBytecodeCache(str(base), "__hardcase_bounded_%s.cache") if private_dir(base) else None


# Bounds on the two operators that let a few characters of template allocate without limit
# (`"x" * 10**12`, `9 ** 9 ** 9`): the sandbox bounds ranges but not these.
MAX_SEQUENCE = 10_000_000
MAX_POWER_BITS = 100_000


def _bounded_binop(operator: str, left: Any, right: Any) -> None:
    from jinja2.exceptions import SecurityError

    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int) \
                    and len(seq) * count > MAX_SEQUENCE:
                raise SecurityError(f"a repetition of {len(seq) * count} items is too large")
    elif operator == "+":
        if isinstance(left, str | bytes | list | tuple) and isinstance(right, str | bytes | list | tuple):
            _bounded_sequence(len(left) + len(right))
    elif isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
            and right * abs(left).bit_length() > MAX_POWER_BITS:
        raise SecurityError(f"{left} ** {right} is too large")


def _bounded_sequence(size: int) -> None:
    """A string or list built by `+`, `~` or a call (a macro, `str.replace`): doubling one in a loop
    would otherwise reach gigabytes in a few dozen steps, with no output to count."""
    from jinja2.exceptions import SecurityError

    if size > MAX_SEQUENCE:
        raise SecurityError(f"a string or list of {size} items is too large")


# Bounds on rendering one file (its path and its content), so that no template can hang `new` or
# `update`: loops nested in loops (each range is capped by the sandbox, their product is not),
# recursive macros, or a loop that outputs nothing and so never yields. Every loop iteration and
# every call counts as an operation, every character output (template text and `{{ }}` values,
# counted where produced, so a macro's text counts again where it is output) counts as output, and
# the clock is read at each of them. Jinja has no hook for loop iterations: the code generator
# wraps each `{% for %}` iterable (see _code_generator). Counting is per file, with no threads or
# signals, so rendering from any thread is bounded alike.
MAX_OPERATIONS = 1_000_000
MAX_OUTPUT = 16 * 1024 * 1024
MAX_RENDER_SECONDS = 5.0
LOOP_FILTER = "__hardcase_counted_loop__"


class RenderBudgetExceeded(Exception):
    """Raised from inside a template's code when a bound is passed; `render` reports it as one line."""


@dataclass
class _Budget:
    deadline: float
    operations: int = 0
    output: int = 0

    def charge(self, operations: int, output: int) -> None:
        self.operations += operations
        self.output += output
        if self.operations > MAX_OPERATIONS or self.output > MAX_OUTPUT or time.monotonic() > self.deadline:
            self._exceeded()

    def _exceeded(self) -> None:
        if self.operations > MAX_OPERATIONS:
            raise RenderBudgetExceeded(f"{MAX_OPERATIONS} loop iterations and calls")
        if self.output > MAX_OUTPUT:
            raise RenderBudgetExceeded(f"{MAX_OUTPUT // 2**20} MiB of output")
        raise RenderBudgetExceeded(f"{MAX_RENDER_SECONDS:g} s")


_BUDGET: ContextVar[_Budget | None] = ContextVar("hardcase_render_budget", default=None)


def _charge(operations: int = 0, output: int = 0) -> None:
    budget = _BUDGET.get()
    if budget is not None:  # outside `render` (e.g. compiling) nothing is counted
        budget.charge(operations, output)


def _counted_loop(context: Any, iterable: Any) -> Any:
    """What every `{% for %}` iterates instead of its iterable: the same items, one operation each."""
    budget = _BUDGET.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.charge(1, 0)
        yield item


def _counted_output(context: Any, value: Any) -> str:
    """The environment's `finalize`: each `{{ value }}` as the text it was already turned into."""
    text = str(value)
    _charge(output=len(text))
    return text


@cache
def _code_generator() -> Any:
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator

    class CountingCodeGenerator(CodeGenerator):
        """Jinja's code generator, plus a count for every loop iteration and every piece of template text."""

        def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
            for loop in list(node.find_all(nodes.For)):
                counted = nodes.Filter(loop.iter, LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
                loop.iter = counted.set_environment(self.environment)
            super().visit_Template(node, frame)

        def _output_const_repr(self, group: Any) -> str:
            return f"environment.counted_text({super()._output_const_repr(group)})"

        def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:
            self.write("environment.bounded_result(")
            super().visit_Concat(node, frame)
            self.write(")")

    return CountingCodeGenerator


@cache
def _sandbox() -> Any:
    from jinja2 import pass_context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+"})
        code_generator_class = _code_generator()

        def __init__(self, **options: Any) -> None:
            # pass_context: never run at compile time, so constants are counted when rendered too.
            super().__init__(finalize=pass_context(_counted_output), **options)
            self.filters[LOOP_FILTER] = pass_context(_counted_loop)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _bounded_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _charge(operations=1)
            return __self.bounded_result(super().call(__context, __obj, *args, **kwargs))

        @staticmethod
        def counted_text(text: str) -> str:
            _charge(output=len(text))
            return text

        @staticmethod
        def bounded_result(value: Any) -> Any:
            if isinstance(value, str | bytes | list | tuple):
                _bounded_sequence(len(value))
            return value

    return BoundedSandbox


def _environment(template_root: Path, project: Path, cached: bool) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined

    return _sandbox()(
        # Includes resolve in the template's `templates/` directory (cookiecutter's convention);
        # the project files themselves load under a prefix that no include can name by accident.
        loader=ChoiceLoader([
            FileSystemLoader(str(template_root / "templates")),
            PrefixLoader({PROJECT_PREFIX: FileSystemLoader(str(project))}),
        ]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache() if cached else None,
    )


def read_template_config(template_root: Path) -> dict[str, Any]:
    config_path = template_root / "cookiecutter.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{template_root}: not a cookiecutter template (no cookiecutter.json)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{config_path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8; nested deeper than the parser goes
        raise UsageError(f"{config_path}: not readable as JSON ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{config_path}: expected a JSON object of template variables")
    copy_raw = config.get("_copy_without_render", [])
    if not isinstance(copy_raw, list) or not all(isinstance(item, str) for item in copy_raw):
        raise UsageError(f"{config_path}: _copy_without_render must be a list of glob patterns")
    return config


def _project_dir(template_root: Path) -> Path:
    candidates = [p for p in template_root.iterdir() if p.is_dir() and "cookiecutter" in p.name and "{{" in p.name]
    if len(candidates) != 1:
        raise UsageError(f"{template_root}: expected exactly one '{{{{cookiecutter.…}}}}' directory")
    return candidates[0]


def _safe_relative(rendered: str, shown: str) -> PurePosixPath:
    path = PurePosixPath(rendered)
    if path.is_absolute() or any(part in ("", ".", "..") for part in rendered.split("/")) or "\\" in rendered:
        raise ConflictError(f"template path {shown!r} renders outside the destination: {rendered!r}")
    refuse_control_path(path, f"template path {shown!r}")
    return path


def _render_errors() -> tuple[type[BaseException], ...]:
    """What rendering a template's own code can raise: Jinja's errors (syntax, undefined, the sandbox's
    SecurityError, missing includes) and the Python errors of its expressions (`1/0`, `[][1]`,
    `"a" + 1`, text that is not UTF-8, recursion)."""
    from jinja2 import TemplateError

    return (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, RecursionError, MemoryError)


def _where(exc: BaseException, template_root: Path, fallback: str) -> str:
    """`FILE line N` of the template the error comes from (an include, a macro...), else `fallback`."""
    from jinja2 import TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError) and exc.filename:
        name = Path(exc.filename)
        shown = name.relative_to(template_root).as_posix() if name.is_relative_to(template_root) else fallback
        return f"{shown} line {exc.lineno}"
    # Jinja rewrites tracebacks so that template code shows as frames of the template file.
    found = fallback
    for frame in traceback.extract_tb(exc.__traceback__):
        name = Path(frame.filename)
        if name.is_absolute() and name.is_relative_to(template_root):
            found = f"{name.relative_to(template_root).as_posix()} line {frame.lineno}"
    return found


def _one_line(exc: BaseException, where: str) -> UsageError:
    from jinja2 import TemplateSyntaxError

    text = exc.message if isinstance(exc, TemplateSyntaxError) and exc.message else str(exc)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()[:300] or "no detail"
    return UsageError(f"template {where}: {type(exc).__name__}: {text}")


def _render_file(env: Any, namespace: dict[str, Any], source: Path, relative_template: str, copy_raw: list[str],
                 where: tuple[Path, str]) -> tuple[PurePosixPath, bytes]:
    """One file's output path and content (the caller holds its budget)."""
    template_root, shown = where
    errors = _render_errors()
    try:
        rendered_parts = [env.from_string(part).render(namespace) if "{" in part else part
                          for part in relative_template.split("/")]
    except errors as exc:
        raise _one_line(exc, f"path {shown}") from None
    relative = _safe_relative("/".join(rendered_parts), shown)
    raw = source.read_bytes()
    if any(fnmatch.fnmatch(relative_template, pattern) for pattern in copy_raw):
        return relative, raw
    try:
        template = env.get_template(f"{PROJECT_PREFIX}/{relative_template}")
        return relative, template.render(namespace).encode("utf-8")
    except errors as exc:
        raise _one_line(exc, _where(exc, template_root, shown)) from None


def render(template_root: Path, context: dict[str, Any], cached: bool = False) -> list[FileOp]:
    """The files the template produces for `context` (the `cookiecutter` namespace), in path order.

    An error in the template's own code is the template author's to fix: it is reported on one line
    naming the template file (and line), never as a traceback. `cached`: use the bytecode cache (for the
    built-in template only: a fetched template lives in a new temporary directory each run, so its
    entries, keyed by file name, would only pile up).
    """
    template_root = template_root.resolve()
    project = _project_dir(template_root)
    env = _environment(template_root, project, cached)
    copy_raw = list(context.get("_copy_without_render", []))
    namespace = {"cookiecutter": context}
    plan: list[FileOp] = []
    for source in sorted(project.rglob("*")):
        if source.is_symlink():
            raise ConflictError(f"template contains a symlink, refusing: {source.relative_to(template_root)}")
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative_template = source.relative_to(project).as_posix()
        shown = f"{project.name}/{relative_template}"
        budget = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_RENDER_SECONDS))
        try:
            relative, content = _render_file(env, namespace, source, relative_template, copy_raw,
                                             (template_root, shown))
        except RenderBudgetExceeded as exc:
            raise UsageError(f"template {shown}: rendering exceeded {exc}") from None
        finally:
            _BUDGET.reset(budget)
        if not content.strip():
            continue
        mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
        plan.append(FileOp(path=relative, content=content, mode=mode))
    return plan
