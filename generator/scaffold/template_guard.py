"""What a template may read and what it may write: the two boundaries of a template nobody reviewed;
and the per-user directories whose content hardcase trusts (the Jinja bytecode cache, trust records).

Read: only files inside the template root. A symlink anywhere in the template (the `{{cookiecutter.*}}`
directory, `templates/` and its includes, cookiecutter.json, presets, hooks) that points outside the
root would make the template a reader of the user's own files (~/.ssh, ~/.docker/config.json) and put
their content into the rendered project, so such a link is refused before anything is read.

Write: rendered output paths stay relative and below DEST (checked in `templating`), and never name a
version-control or hardcase control directory. A file under `.git/` is obeyed by git itself (hooks,
`core.fsmonitor`, `core.hooksPath`) and appears in no diff, so a template that writes one runs code on
the next `git commit` of whoever generated or updated the project. The same holds for the other VCSs.
`.hardcase/` and `.hardcase.yml` are hardcase's own record of the project (the template source `update`
follows, the base it merges against): a template writing them could redirect the next `update`.
`.github/` (workflows) is *not* refused: it is tracked content that shows in every review, and org
templates legitimately ship CI workflows.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path, PurePosixPath

from generator.core.errors import ConflictError

# Compared case-insensitively (case-insensitive filesystems, and git on them, treat `.GIT` as `.git`),
# with trailing dots and spaces removed (Windows drops them: `.git.` is `.git`); `git~1` is the 8.3
# short name of `.git` on NTFS. `_fossil_` and `.fslckout` are Fossil's checkout databases.
CONTROL_NAMES = frozenset({
    ".git", "git~1", ".hg", ".svn", ".bzr", "cvs", "_darcs", ".jj", ".pijul", ".fslckout", "_fossil_",
    ".hardcase", ".hardcase.yml",
})
# Invisible characters (format, control, separators, surrogates): HFS+ ignores some of them in names,
# so `.g\u200cit` would be `.git` there; no template has a reason to put one in a file name.
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")


def control_component(path: PurePosixPath) -> str | None:
    """The first component of `path` that names a VCS or hardcase control directory, if any."""
    for part in path.parts:
        if any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in part):
            return part
        if part.casefold().rstrip(". ") in CONTROL_NAMES:
            return part
    return None


def refuse_control_path(path: PurePosixPath, origin: str) -> None:
    """Refuse an output path under a control directory; `origin` names what produced it."""
    component = control_component(path)
    if component is not None:
        raise ConflictError(f"{origin} would write {path.as_posix()!r}: {component!r} is a version-control or "
                            "hardcase control directory, which no template may write; nothing written")


def refuse_escaping_links(root: Path) -> None:
    """Refuse a template holding a symlink that resolves outside `root` (see the module docstring).

    Links that stay inside the root are left alone here (the rendered project directory refuses every
    link itself). The checkout's own `.git` directory is skipped: nothing in it is ever read.
    """
    root = root.resolve()
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        if here == root and ".git" in dirs:
            dirs.remove(".git")
        for name in [*dirs, *files]:
            path = here / name
            if not path.is_symlink():
                continue
            # realpath, not Path.resolve: a link loop must not raise here (reading it later fails cleanly).
            target = Path(os.path.realpath(path))
            if target != root and not target.is_relative_to(root):
                raise ConflictError(f"template symlink {path.relative_to(root).as_posix()!r} points outside the "
                                    f"template (to {os.readlink(path)!r}); refusing to follow it")


def private_dir(path: Path) -> bool:
    """Whether `path` is a directory only this user controls, creating it (mode 0700) when missing.

    Used for directories whose content hardcase acts on: a bytecode cache entry is unpickled and
    unmarshalled (run), a trust record lets `update` follow a template without asking. The test is
    Jinja's own for its default cache directory: a real directory (not a symlink), owned by this user,
    mode 0700, in a parent nobody else can swap it in.
    An existing directory is never chmod'ed into shape: what it holds may already be planted.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)  # just made by this process; the umask may have taken bits away
        except FileExistsError:
            pass
        info, parent = os.lstat(path), os.stat(path.parent)
    except OSError:
        return False
    # Who may write the parent can rename the directory away and put theirs in its place: only its owner
    # (or root), its group when that is this user's own group (user-private groups, umask 002), or anyone
    # when the sticky bit stops them renaming what is not theirs (/tmp).
    mode = stat.S_IMODE(parent.st_mode)
    foreign_group = mode & 0o020 and parent.st_gid != os.getegid()
    others_can_swap = not mode & stat.S_ISVTX and (mode & 0o002 or foreign_group)
    parent_safe = parent.st_uid in (0, os.geteuid()) and not others_can_swap
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and stat.S_IMODE(info.st_mode) == 0o700 and parent_safe)
