"""Which files below a directory `check` and `pin` look at: the same walk for both, so that a
directory means the same thing to every command."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: `check` does not import typing (or pathlib) at all
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def files_below(directory: Path, wanted: Callable[[Path], object]) -> list[Path]:
    """The files below DIRECTORY that WANTED accepts, sorted; hidden directories and node_modules
    are skipped (VCS metadata and vendored dependencies are not the project's own files)."""
    return sorted(p for p in directory.rglob("*") if p.is_file() and wanted(p)
                  and not any(part.startswith(".") or part == "node_modules"
                              for part in p.relative_to(directory).parts[:-1]))
