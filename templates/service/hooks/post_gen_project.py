"""Remove files that rendered empty: they belong to another language or to --with-app.

hardcase applies the same rule itself when it plans files; this hook gives plain `cookiecutter`
the same result. It reads no answers, so no user value is ever part of its code.
"""

from pathlib import Path

for path in sorted(Path.cwd().rglob("*"), reverse=True):
    if path.is_file() and not path.read_text(encoding="utf-8").strip():
        path.unlink()
    elif path.is_dir() and not any(path.iterdir()):
        path.rmdir()
