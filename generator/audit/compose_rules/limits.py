"""Resource limits every service should carry: CPU, memory and pids limits, and ulimits.

As in runtime.py, fixes are only offered for images described in `data/images.yaml`, whose limits
suit the service; other images are reported for review by hand.
"""

from __future__ import annotations

from collections.abc import Iterator

from generator.audit.compose import ParsedCompose, Service
from generator.audit.compose_images import default_limits, default_ulimits
from generator.audit.compose_rules._support import (
    child,
    image_info,
    key_line,
    mapping,
    quoted,
    set_key,
    target_service,
    unknown_image,
    writable,
)
from generator.audit.model import ComposeFix, ComposeRule, FixSafety, Severity, Violation

# --- resource limits ---------------------------------------------------------------------------

def _limits(service: Service) -> dict[str, object]:
    deploy = service.node.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, dict) else None
    limits = resources.get("limits") if isinstance(resources, dict) else None
    return dict(limits) if isinstance(limits, dict) else {}


def _has_limit(service: Service, resource: str) -> bool:
    legacy = {"memory": "mem_limit", "cpus": "cpus", "pids": "pids_limit"}[resource]
    return service.node.get(legacy) is not None or _limits(service).get(resource) is not None


def _check_limit(parsed: ParsedCompose, rule: ComposeRule, resource: str) -> Iterator[Violation]:
    for service in parsed.services:
        if not _has_limit(service, resource):
            detail = service.name if image_info(service) else unknown_image(service)
            yield rule.violation(key_line(service, "deploy"), detail, service=service.index)


def _fix_limit(parsed: ParsedCompose, violation: Violation, resource: str) -> ComposeFix | None:
    service = target_service(parsed, violation)
    info = image_info(service)
    if info is None:
        return None
    value = info.limits.get(resource, default_limits()[resource])
    written = quoted(str(value)) if resource == "cpus" else value

    def apply() -> None:
        deploy = service.node.get("deploy")
        if not isinstance(deploy, dict):
            set_key(service, "deploy", mapping({}))
        deploy = writable(service, "deploy")
        limits = child(child(deploy, "resources", False), "limits", False)
        limits[resource] = written

    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: deploy.resources.limits.{resource} {value}", apply)


def check_memory_limit(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service has a memory limit (`deploy.resources.limits.memory` or `mem_limit`).

    Why is this bad?
    Without one a leak or an attack takes all of the host's memory and the kernel starts killing
    other services (CIS Docker Benchmark 5.11).

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
        deploy:
          resources:
            limits:
              memory: 1g
    ```

    Fix safety:
    Needs review. A limit below what the service really uses gets it killed; the fix uses the
    value from hardcase's image knowledge, and reports images it does not know.
    """
    yield from _check_limit(parsed, MEMORY, "memory")


def fix_memory_limit(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    return _fix_limit(parsed, violation, "memory")


def check_cpu_limit(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service has a CPU limit (`deploy.resources.limits.cpus` or `cpus`).

    Why is this bad?
    One busy or compromised service can starve every other service on the host of CPU (CIS Docker
    Benchmark 5.12).

    Example:
    ```yaml
    services:
      worker:
        image: rabbitmq:3.13
    ```

    Use instead:
    ```yaml
    services:
      worker:
        image: rabbitmq:3.13
        deploy:
          resources:
            limits:
              cpus: "1.0"
    ```

    Fix safety:
    Needs review. A low limit slows the service down; the fix uses the value from hardcase's image
    knowledge, and reports images it does not know.
    """
    yield from _check_limit(parsed, CPU, "cpus")


def fix_cpu_limit(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    return _fix_limit(parsed, violation, "cpus")


def check_pids_limit(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service has a process limit (`deploy.resources.limits.pids` or `pids_limit`).

    Why is this bad?
    A fork bomb in one container exhausts the host's process table (CIS Docker Benchmark 5.29).

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
        deploy:
          resources:
            limits:
              pids: 128
    ```

    Fix safety:
    Needs review. A service that forks per connection needs room; the fix uses the value from
    hardcase's image knowledge, sets only `deploy.resources.limits.pids` (Compose rejects a
    different `pids_limit` beside it) and reports images it does not know.
    """
    yield from _check_limit(parsed, PIDS, "pids")


def fix_pids_limit(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    return _fix_limit(parsed, violation, "pids")


# --- ulimits -----------------------------------------------------------------------------------

def check_ulimits(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service bounds its open files (`ulimits: {nofile: …}`).

    Why is this bad?
    The daemon's default limits are the host's; an explicit bound keeps a descriptor leak inside
    the service (CIS Docker Benchmark 5.19).

    Example:
    ```yaml
    services:
      db:
        image: mongo:7
    ```

    Use instead:
    ```yaml
    services:
      db:
        image: mongo:7
        ulimits:
          nofile: {soft: 8192, hard: 8192}
          nproc: 4096
    ```

    Fix safety:
    Needs review. The fix sets `nofile` to 8192 (and `nproc` to 4096 when missing); a server with
    many connections may need more, and a limit can only be set up to the daemon's own hard limit
    (with all capabilities dropped it cannot be raised). Only offered for images in hardcase's
    image knowledge.
    """
    for service in parsed.services:
        ulimits = service.node.get("ulimits")
        if not isinstance(ulimits, dict) or "nofile" not in ulimits:
            detail = service.name if image_info(service) else unknown_image(service)
            yield ULIMITS.violation(key_line(service, "ulimits"), detail, service=service.index)


def fix_ulimits(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)
    if image_info(service) is None:
        return None
    defaults = default_ulimits()

    def apply() -> None:
        if not isinstance(service.node.get("ulimits"), dict):
            set_key(service, "ulimits", mapping({}))
        ulimits = writable(service, "ulimits")
        ulimits.setdefault("nofile", mapping({"soft": defaults["nofile"], "hard": defaults["nofile"]}))
        ulimits.setdefault("nproc", defaults["nproc"])

    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: ulimits nofile {defaults['nofile']}, "
                      f"nproc {defaults['nproc']}", apply)




MEMORY = ComposeRule("HC123", "compose-no-memory-limit", Severity.WARNING, "no memory limit", "5.11",
                     check_memory_limit, fix_memory_limit, FixSafety.NEEDS_REVIEW)
CPU = ComposeRule("HC124", "compose-no-cpu-limit", Severity.WARNING, "no CPU limit", "5.12", check_cpu_limit,
                  fix_cpu_limit, FixSafety.NEEDS_REVIEW)
PIDS = ComposeRule("HC125", "compose-no-pids-limit", Severity.WARNING, "no pids limit", "5.29", check_pids_limit,
                   fix_pids_limit, FixSafety.NEEDS_REVIEW)
ULIMITS = ComposeRule("HC126", "compose-no-ulimits", Severity.INFO, "open files are not bounded by ulimits", "5.19",
                      check_ulimits, fix_ulimits, FixSafety.NEEDS_REVIEW)
RULES = (MEMORY, CPU, PIDS, ULIMITS)
