"""Runtime controls that bound what a service's processes may do: capabilities, no-new-privileges,
a read-only root filesystem (HC120-HC122). What the engine does around the service (health check,
restart policy, log rotation) is in supervision.py; resource limits are in limits.py.

Fixes that may change what a service does (needs review) are only offered for images described in
`data/images.yaml`: there hardcase knows the capabilities, paths and probe the image needs. Other
images get only the safe fixes; the rest is reported for review by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.compose import ParsedCompose, Service
from generator.audit.compose_rules._support import (
    anchor_note,
    as_list,
    image_info,
    key_line,
    mapping,
    needed_caps,
    seq,
    set_key,
    target_service,
    unknown_image,
    writable,
)
from generator.audit.model import ComposeFix, ComposeRule, FixSafety, Severity, Violation

NO_NEW_PRIVILEGES = "no-new-privileges:true"


# --- capabilities ------------------------------------------------------------------------------

def _drops_all(service: Service) -> bool:
    return any(str(cap).upper().removeprefix("CAP_") == "ALL" for cap in as_list(service.node.get("cap_drop")))


def check_cap_drop(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service drops all capabilities (`cap_drop: [ALL]`) and adds back only those it
    needs.

    Why is this bad?
    Docker leaves 14 capabilities to every container (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, …);
    each is a kernel privilege an attacker inside the container can use (CIS Docker Benchmark 5.4).

    Example:
    ```yaml
    services:
      db:
        image: postgres:16
    ```

    Use instead:
    ```yaml
    services:
      db:
        image: postgres:16
        cap_drop: [ALL]
        cap_add: [CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID]   # its entrypoint, started as root
    ```

    Fix safety:
    Needs review. For images in hardcase's image knowledge the fix adds back the capabilities the
    image's entrypoint needs (none when `user:` is already non-root). Other images are reported
    only: which capabilities they need is for their owner to find.
    """
    for service in parsed.services:
        if not _drops_all(service):
            info = image_info(service)
            detail = service.name if info else unknown_image(service)
            yield CAP_DROP.violation(key_line(service, "cap_drop"), detail, service=service.index)


def fix_cap_drop(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)
    info = image_info(service)
    if info is None:
        return None
    existing = [str(cap) for cap in as_list(service.node.get("cap_add"))]
    add = existing + [cap for cap in needed_caps(service, info) if cap not in existing]

    def apply() -> None:
        set_key(service, "cap_drop", seq(["ALL"]))
        if add and add != existing:
            set_key(service, "cap_add", seq(add))

    note = f"{service.name}: cap_drop ALL" + (f", cap_add {', '.join(add)}" if add else "")
    return ComposeFix(FixSafety.NEEDS_REVIEW, note, apply)


# --- no-new-privileges -------------------------------------------------------------------------

def _has_nnp(service: Service) -> bool:
    for option in as_list(service.node.get("security_opt")):
        name, _, value = str(option).replace("=", ":", 1).partition(":")
        if name.strip() == "no-new-privileges" and value.strip().lower() in ("", "true"):
            return True
    return False


def check_no_new_privileges(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service sets `security_opt: [no-new-privileges:true]`.

    Why is this bad?
    Without it a process can gain privileges after start through setuid binaries or file
    capabilities (CIS Docker Benchmark 5.26).

    Example:
    ```yaml
    services:
      web:
        image: nginx:1.27
    ```

    Use instead:
    ```yaml
    services:
      web:
        image: nginx:1.27
        security_opt: [no-new-privileges:true]
    ```

    Fix safety:
    Safe. Entrypoints that drop from root to a user with gosu or setpriv keep working (they call
    setuid as root; they do not run setuid binaries); other options in `security_opt` are kept.
    """
    for service in parsed.services:
        if not _has_nnp(service):
            yield NNP.violation(key_line(service, "security_opt"), service.name, service=service.index)


def fix_no_new_privileges(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)

    def apply() -> None:
        if _has_nnp(service):
            return  # another service's fix added it to a list they share
        options = service.node.get("security_opt")
        if isinstance(options, list):
            writable(service, "security_opt", uniform=True).append(NO_NEW_PRIVILEGES)
        else:
            set_key(service, "security_opt", seq([NO_NEW_PRIVILEGES]), uniform=True)

    return ComposeFix(FixSafety.SAFE, f"{service.name}: security_opt {NO_NEW_PRIVILEGES}"
                      f"{anchor_note(service, 'security_opt')}", apply)


# --- read-only root filesystem -----------------------------------------------------------------

def _mount_targets(service: Service) -> set[str]:
    targets: set[str] = set()
    for entry in as_list(service.node.get("volumes")):
        if isinstance(entry, dict):
            targets.add(str(entry.get("target", "")).rstrip("/"))
        else:
            parts = str(entry).split(":")
            targets.add((parts[1] if len(parts) > 1 else parts[0]).rstrip("/"))
    for entry in as_list(service.node.get("tmpfs")):
        targets.add(str(entry).split(":", 1)[0].rstrip("/"))
    return targets


def check_read_only(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service runs with a read-only root filesystem (`read_only: true`), writing only
    to tmpfs mounts and volumes.

    Why is this bad?
    A writable root filesystem lets an attacker replace binaries, drop tools and persist inside the
    container (CIS Docker Benchmark 5.13).

    Example:
    ```yaml
    services:
      cache:
        image: redis:7
    ```

    Use instead:
    ```yaml
    services:
      cache:
        image: redis:7
        read_only: true
        tmpfs: ["/tmp:size=16m,mode=1777,noexec,nosuid,nodev"]
        volumes: ["cache-data:/data"]
    ```

    Fix safety:
    Needs review. For images in hardcase's image knowledge the fix mounts a tmpfs on each scratch
    path the image writes and a named volume (`SERVICE-data`) on each data directory no volume
    covers yet; existing volumes stay. Other images are reported only.
    """
    for service in parsed.services:
        if service.node.get("read_only") is not True:
            info = image_info(service)
            detail = service.name if info else unknown_image(service)
            yield READ_ONLY.violation(key_line(service, "read_only"), detail, service=service.index)


def _volume_name(parsed: ParsedCompose, service: Service, path: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_.-]+", "-", service.name.lower()).strip("-.") or "service"
    suffix = "data" if path.rstrip("/").endswith("data") else re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    name = f"{base}-{suffix}"
    taken = taken | set(parsed.data.get("volumes") or {})
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}-{number}", number + 1
    return candidate


def fix_read_only(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)
    info = image_info(service)
    if info is None:
        return None
    mounted = _mount_targets(service)
    tmpfs = [entry for entry in info.tmpfs if entry.split(":", 1)[0].rstrip("/") not in mounted]
    data = [path for path in info.data if path.rstrip("/") not in mounted]
    names: dict[str, str] = {}
    for path in data:
        names[path] = _volume_name(parsed, service, path, set(names.values()))

    def apply() -> None:
        set_key(service, "read_only", True)
        if tmpfs:
            current = service.node.get("tmpfs")
            if isinstance(current, list):
                writable(service, "tmpfs").extend(tmpfs)
            else:
                set_key(service, "tmpfs", seq(([str(current)] if current else []) + tmpfs))
        if not data:
            return
        if not isinstance(parsed.data.get("volumes"), dict):
            parsed.data["volumes"] = mapping({})
        entries = []
        for path in data:
            name = names[path]
            if name in parsed.data["volumes"]:  # taken by another fix of this pass
                name = _volume_name(parsed, service, path, set())
            parsed.data["volumes"][name] = None
            entries.append(f"{name}:{path}")
        if isinstance(service.node.get("volumes"), list):
            writable(service, "volumes").extend(entries)
        else:
            set_key(service, "volumes", seq(entries))

    parts = ["read_only"] + [f"tmpfs {entry.split(':', 1)[0]}" for entry in tmpfs] + \
        [f"volume {names[path]}:{path}" for path in data]
    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: {', '.join(parts)}", apply)


CAP_DROP = ComposeRule("HC120", "compose-capabilities-not-dropped", Severity.WARNING, "capabilities are not dropped",
                       "5.4", check_cap_drop, fix_cap_drop, FixSafety.NEEDS_REVIEW)
NNP = ComposeRule("HC121", "compose-no-new-privileges", Severity.WARNING, "no-new-privileges is not set", "5.26",
                  check_no_new_privileges, fix_no_new_privileges, FixSafety.SAFE)
READ_ONLY = ComposeRule("HC122", "compose-writable-root-filesystem", Severity.WARNING, "root filesystem is writable",
                        "5.13", check_read_only, fix_read_only, FixSafety.NEEDS_REVIEW)
RULES = (CAP_DROP, NNP, READ_ONLY)
