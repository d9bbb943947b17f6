"""Which template source `hardcase update` may follow without asking, per project, on this machine.

`update` renders the template named by `_template` (and `_checkout`) in the project's `.hardcase.yml`,
a file that travels with the repository: a one-line pull request could point it at a template of the
author's choosing. So a template source is followed without asking only when it is the one this user
last used for this project on this machine (`new --template`, or an `update` they confirmed); any
other source needs a yes at an interactive prompt or `--template-source-ok`, and is an error
otherwise. The built-in template ships with hardcase and is always trusted (and never recorded).

The records live in one user-owned file, `$XDG_STATE_HOME/hardcase/trusted-templates.json` (default
`~/.local/state/hardcase/`), mode 0600 in a 0700 directory, replaced atomically. A record file or
directory that someone else could have written is not believed: every source is then unconfirmed.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.core.errors import HardcaseError, UsageError
from generator.core.files import write_atomic
from generator.scaffold.template_guard import private_dir
from generator.scaffold.template_source import BUILTIN

STATE_FILE = "trusted-templates.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Source:
    """A template source as `.hardcase.yml` records it: `_template` and `_checkout`."""

    template: str
    checkout: str | None = None

    @property
    def builtin(self) -> bool:
        return self.template == BUILTIN

    def describe(self) -> str:
        # repr: the text comes from a file anyone could edit; escapes keep it from forging terminal output
        return repr(self.template) + (f" at {self.checkout!r}" if self.checkout else "")


def state_path() -> Path | None:
    """Where the records live; None when neither $XDG_STATE_HOME nor a home directory is known."""
    try:
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    except RuntimeError:
        return None
    return Path(base) / "hardcase" / STATE_FILE


def _key(project: Path) -> str:
    return str(project.resolve())


def _load(path: Path) -> dict[str, Any]:
    """The records, or none when the file is missing, unreadable, malformed or writable by others."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    projects = data.get("projects") if isinstance(data, dict) else None
    return projects if isinstance(projects, dict) else {}


def trusted(project: Path) -> Source | None:
    """The template source last used for `project` on this machine, if a believable record says so."""
    path = state_path()
    if path is None or not private_dir(path.parent):
        return None
    entry = _load(path).get(_key(project))
    if not isinstance(entry, dict) or not isinstance(entry.get("template"), str):
        return None
    checkout = entry.get("checkout")
    return Source(entry["template"], checkout if isinstance(checkout, str) else None)


def record(project: Path, source: Source) -> str | None:
    """Remember `source` as the one used for `project`; a note when it could not be recorded."""
    if source.builtin:
        return None
    path = state_path()
    if path is None:
        return "template source not recorded: no $XDG_STATE_HOME and no home directory"
    if not private_dir(path.parent):
        return f"template source not recorded: {path.parent} is not a private (0700, own) directory"
    projects = _load(path)
    projects[_key(project)] = {"template": source.template, "checkout": source.checkout}
    content = json.dumps({"version": FORMAT_VERSION, "projects": projects}, indent=2, sort_keys=True) + "\n"
    try:
        write_atomic(path, content.encode("utf-8"), 0o600, exact_mode=True)
    except OSError as exc:
        return f"template source not recorded in {path}: {exc.strerror or type(exc).__name__}"
    except HardcaseError as exc:  # a symlink or FIFO where the file should be: refused, and said so
        return f"template source not recorded: {exc}"
    return None


def require(project: Path, source: Source, origin: Path, *, source_ok: bool,
            confirm: Callable[[str], bool] | None) -> None:
    """Refuse to use `source` for `project` unless it is trusted, confirmed, or `--template-source-ok`."""
    if source.builtin or source_ok:
        return
    last = trusted(project)
    if last == source:
        return
    since = f"the last one used here was {last.describe()}" if last else "none was recorded on this machine"
    if confirm is not None:
        question = (f"{origin} names the template {source.describe()} for this project ({since}). "
                    "A template decides every file it writes. Use it?")
        if confirm(question):
            return
        raise UsageError("update cancelled: the template source was not confirmed; nothing written")
    raise UsageError(f"{origin} names the template {source.describe()}, not the one this machine last used for "
                     f"this project ({since}); review it, then pass --template-source-ok")
