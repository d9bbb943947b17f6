"""3-way text merge with git's own algorithm (`git merge-file`), conflicts marked the way git marks them.

Why git and not a Python diff3: `git merge-file` is the merge every developer already reads, its
conflict markers are what editors and `git mergetool` understand, and it is on every machine that
holds a repository (Debian: `apt-get install git`). It runs on temporary copies, never on the
user's files.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator.core.errors import UsageError


@dataclass(frozen=True)
class Merged:
    content: bytes
    conflicts: int


def git_binary() -> str:
    found = shutil.which("git")
    if found is None:
        raise UsageError("hardcase update needs git for its 3-way merge (Debian: apt-get install git)")
    return found


def merge3(ours: bytes, base: bytes, theirs: bytes, labels: tuple[str, str, str]) -> Merged:
    """Merge the change base→theirs into ours. `labels` name ours, base and theirs in the markers."""
    with tempfile.TemporaryDirectory(prefix="hardcase-merge-") as tmp:
        paths = [Path(tmp) / name for name in ("ours", "base", "theirs")]
        for path, content in zip(paths, (ours, base, theirs), strict=True):
            path.write_bytes(content)
        args = [git_binary(), "merge-file", "-p"]
        for label in labels:
            args += ["-L", label]
        proc = subprocess.run([*args, *map(str, paths)], capture_output=True, timeout=60, check=False)
    # Exit status: 0 clean, N > 0 the number of conflicts (capped at 127), negative/255 on errors.
    if proc.returncode < 0 or proc.returncode > 127:
        raise UsageError(f"git merge-file failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return Merged(proc.stdout, proc.returncode)
