"""Writing one file the user asked for: atomically (a temporary file beside it, then rename), never
replacing a different file without `force`. Every flow writes through here, so an interrupted run
never leaves a half-written Dockerfile, profile or secret behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from generator.core.errors import ConflictError


def write_output(target: Path, text: str, force: bool) -> None:
    """Write a generated file a user asked for: an existing different file only with --force."""
    if target.exists() and not force and target.read_text(encoding="utf-8") != text:
        raise ConflictError(f"{target} exists; use --force to replace it")
    write_atomic(target, text.encode("utf-8"))


def write_atomic(target: Path, content: bytes, mode: int = 0o644) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
