"""A service's `security_opt` list read the way Docker applies it.

Docker (the daemon's `parseSecurityOpt`, after Compose's and the CLI's own pass) reads the entries in
order and the *last* one of each kind wins: `seccomp=a` then `seccomp:unconfined` runs unconfined,
`no-new-privileges:true` then `no-new-privileges=false` runs without it. An entry is split at the
first `=` if it has one, otherwise at the first `:`; `no-new-privileges`, `writable-cgroups` and
`disable` (a label option) may stand alone and mean true; booleans are Go's `strconv.ParseBool`
(1, t, T, TRUE, true, True / 0, f, F, FALSE, false, False). Labels accumulate: any `label=disable`
disables SELinux separation. `systempaths=unconfined` (exactly that) is handled by the CLI and
Compose and unmasks /proc and /sys paths. An entry Docker would reject is ignored here: the
container would not start. An entry whose value is not known before the deployment (`${X}`, a
non-string) is kept in `unknown`: whoever reads the result cannot tell what runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
KINDS = frozenset({"seccomp", "apparmor", "label", "no-new-privileges", "systempaths", "writable-cgroups"})
WEAK_LABEL_TYPES = ("type:spc_t", "type:unconfined_t", "type:container_runtime_t")


def literal(value: Any) -> str | None:
    """A compose string as Compose reads it after interpolation, or None when it depends on the
    environment (`$X`, `${X:-y}`; `$$` is a literal `$`) or is not a string."""
    if not isinstance(value, str):
        return None
    if "$" in value.replace("$$", ""):
        return None
    return value.replace("$$", "$")


def _go_bool(text: str) -> bool | None:
    return True if text in GO_TRUE else False if text in GO_FALSE else None


@dataclass
class SecurityOpts:
    no_new_privileges: bool | None = None  # None: not set
    seccomp: str | None = None
    apparmor: str | None = None
    writable_cgroups: bool | None = None
    systempaths_unconfined: bool = False
    labels: list[str] = field(default_factory=list)
    unknown: list[tuple[str | None, str]] = field(default_factory=list)  # (kind or None: any, entry) not knowable
    seccomp_values: list[str] = field(default_factory=list)  # every seccomp value, in order

    def unknown_for(self, kind: str) -> list[str]:
        """Entries that may set KIND to a value nobody can know before the deployment."""
        return [entry for entry_kind, entry in self.unknown if entry_kind in (None, kind)]

    def weakened(self) -> list[tuple[str, str]]:
        """(kind, entry) for each confinement the options switch off, kinds as `allow.unconfined` names them."""
        out: list[tuple[str, str]] = []
        if self.seccomp == "unconfined":
            out.append(("seccomp", "seccomp=unconfined"))
        if self.apparmor == "unconfined":
            out.append(("apparmor", "apparmor=unconfined"))
        for label in self.labels:
            if label == "disable" or label.startswith(WEAK_LABEL_TYPES):
                out.append(("label", f"label={label}"))
        if self.no_new_privileges is False:
            out.append(("no-new-privileges", "no-new-privileges=false"))
        if self.systempaths_unconfined:
            out.append(("systempaths", "systempaths=unconfined"))
        if self.writable_cgroups:
            out.append(("writable-cgroups", "writable-cgroups=true"))
        return out


def _apply(opts: SecurityOpts, entry: str) -> None:
    if entry in ("no-new-privileges", "writable-cgroups", "disable", "systempaths=unconfined"):
        if entry == "no-new-privileges":
            opts.no_new_privileges = True
        elif entry == "writable-cgroups":
            opts.writable_cgroups = True
        elif entry == "disable":
            opts.labels.append("disable")
        else:
            opts.systempaths_unconfined = True
        return
    match = re.fullmatch(r"([^=]*)=(.*)", entry, re.DOTALL) or re.fullmatch(r"([^:]*):(.*)", entry, re.DOTALL)
    if match is None:
        return
    key, value = match.group(1), match.group(2)
    if key == "label":
        opts.labels.append(value)
    elif key == "apparmor":
        opts.apparmor = value
    elif key == "seccomp":
        opts.seccomp = value
        opts.seccomp_values.append(value)
    elif key in ("no-new-privileges", "writable-cgroups"):
        flag = _go_bool(value)
        if flag is not None:
            setattr(opts, key.replace("-", "_"), flag)


def security_opts(service: Mapping[str, Any]) -> SecurityOpts:
    opts = SecurityOpts()
    entries = service.get("security_opt")
    if entries is None:
        return opts
    if not isinstance(entries, list):
        opts.unknown.append((None, str(entries)[:80]))
        return opts
    for entry in entries:
        text = literal(entry)
        if text is None:
            key = re.match(r"([a-z-]+)[=:]", entry) if isinstance(entry, str) else None
            kind = key.group(1) if key and key.group(1) in KINDS else None
            opts.unknown.append((kind, str(entry)[:80]))
        else:
            _apply(opts, text)
    return opts
