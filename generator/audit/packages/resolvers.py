"""The package resolver `harden`'s options ask for: a versions file, the online indexes, or none.

Kept apart from `versions` so that HC048 (which imports `versions`) never imports the network code
of `index`: only a harden run that asked for `--pin-packages` loads it.
"""

from __future__ import annotations

from pathlib import Path

from generator.audit.packages.versions import Resolver, load_file
from generator.core.errors import UsageError


def package_resolver(online: bool, versions_file: Path | None, debian_mirror: str | None,
                     unsafe: bool, ubuntu_mirror: str | None = None) -> Resolver | None:
    """The resolver `harden`'s options ask for (None: HC048's fix pins nothing)."""
    if (online or versions_file is not None) and not unsafe:
        raise UsageError("--pin-packages and --package-versions go with --unsafe-fixes (pins need review)")
    for option, mirror in (("--debian-mirror", debian_mirror), ("--ubuntu-mirror", ubuntu_mirror)):
        if mirror is not None and not online:
            raise UsageError(f"{option} only goes with --pin-packages")
    if versions_file is not None:
        return load_file(versions_file)  # a missing, unreadable or non-regular file is named as such
    if online:
        from generator.audit.packages.index import OnlineResolver

        return OnlineResolver.from_environment(debian_mirror, ubuntu_mirror)
    return None
