"""Where a template comes from: the built-in one, or `--template DIR|git URL|zip` with cookiecutter semantics.

Fetching is cookiecutter's own `determine_repo_dir` (git clone of URLs including file://, unzip of
.zip files, a plain directory as is), into a private temporary directory that is removed afterwards.
Only fetching is delegated: rendering stays with `templating.render` (sandboxed, answers as data,
outputs confined to DEST), and cookiecutter never sees an answer. A fetched template whose symlinks
leave it is refused before any of its files is read (`template_guard`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from generator.core.errors import UsageError
from generator.core.resources import templates_dir
from generator.scaffold.template_guard import refuse_escaping_links

BUILTIN = "service"
HOOK_NAMES = ("pre_gen_project", "post_gen_project")


@dataclass(frozen=True)
class Template:
    root: Path  # the directory holding cookiecutter.json
    source: str  # what to record in .hardcase.yml (`service` for the built-in one)
    checkout: str | None = None

    @property
    def builtin(self) -> bool:
        return self.source == BUILTIN

    @property
    def presets_dir(self) -> Path | None:
        """A custom template may ship presets in `presets/` next to its cookiecutter.json."""
        candidate = self.root / "presets"
        return candidate if not self.builtin and candidate.is_dir() else None

    def hooks(self) -> list[Path]:
        """The template's cookiecutter hooks (pre_gen_project.*, post_gen_project.*), in run order."""
        hooks_dir = self.root / "hooks"
        if self.builtin or not hooks_dir.is_dir():
            return []
        return [path for name in HOOK_NAMES for path in sorted(hooks_dir.glob(f"{name}.*"))
                if path.is_file() and not path.name.endswith("~")]


def _recorded_source(source: str) -> str:
    """Local directories and zips are recorded as absolute paths so `update` finds them from anywhere."""
    from cookiecutter.repository import is_repo_url

    if is_repo_url(source):
        return source
    return str(Path(source).expanduser().resolve())


@contextmanager
def open_template(source: str | None, checkout: str | None = None) -> Iterator[Template]:
    """The template for `source` (None or 'service': the built-in one), valid inside the `with` block."""
    if source in (None, BUILTIN):
        yield Template(root=templates_dir() / BUILTIN, source=BUILTIN)
        return
    assert source is not None
    if checkout is not None and (checkout.startswith("-") or not checkout.strip()):
        raise UsageError(f"--checkout {checkout!r}: not a branch, tag or commit")
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.repository import determine_repo_dir

    workdir = Path(tempfile.mkdtemp(prefix="hardcase-template-"))
    cleanup_dirs = [workdir]
    try:
        try:
            repo_dir, cleanup = determine_repo_dir(
                template=source, abbreviations={}, clone_to_dir=workdir, checkout=checkout, no_input=True)
        except (CookiecutterException, OSError, ValueError) as exc:
            raise UsageError(f"template {source}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
        except Exception as exc:  # git's CalledProcessError and friends: report, don't trace back
            raise UsageError(f"template {source}: cannot fetch ({type(exc).__name__})") from None
        if cleanup:
            cleanup_dirs.append(Path(repo_dir).parent)
        root = Path(repo_dir).resolve()
        refuse_escaping_links(root)  # before anything in it is read: cookiecutter.json, presets, policy
        yield Template(root=root, source=_recorded_source(source), checkout=checkout)
    finally:
        for directory in cleanup_dirs:
            shutil.rmtree(directory, ignore_errors=True)
