"""How the engine looks after a running service: a health check, a bounded restart policy, log
rotation (HC127-HC129).

These say nothing about what the service's processes may do (runtime.py) or use (limits.py): they
decide whether a hung service is noticed, how often a crashing one comes back and how much of the
host's disk its logs may fill. As in runtime.py, fixes that need review are only offered for images
described in `data/images.yaml`; the safe ones (a known health probe, a missing restart policy, log
rotation) go to every service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.compose import ParsedCompose, Service
from generator.audit.compose_rules._support import (
    anchor_note,
    child,
    image_info,
    key_line,
    mapping,
    quoted,
    seq,
    set_key,
    target_service,
    unknown_image,
    writable,
)
from generator.audit.model import ComposeFix, ComposeRule, FixSafety, Severity, Violation

RESTART = "on-failure:5"
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
HEALTH_TIMING = {"interval": "30s", "timeout": "5s", "start_period": "30s", "retries": 5}


# --- health check ------------------------------------------------------------------------------

def check_healthcheck(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service has a health check that is not disabled.

    Why is this bad?
    Without one the engine reports a hung service as running, and `depends_on` cannot wait for it
    to be ready (CIS Docker Benchmark 5.27).

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
        healthcheck:
          test: [CMD, pg_isready, -q]
    ```

    Fix safety:
    Safe. The probe comes from hardcase's image knowledge and runs a tool the image ships, without
    a shell; a health status changes nothing else. Images without a known probe (and images
    hardcase does not know) are reported: their image may declare a HEALTHCHECK of its own.
    """
    for service in parsed.services:
        health = service.node.get("healthcheck")
        if not isinstance(health, dict) or health.get("disable") is True or not health.get("test"):
            info = image_info(service)
            detail = service.name if info and info.healthcheck else unknown_image(service) if info is None else \
                f"{service.name}: no known probe for {info.kind}; review by hand"
            yield HEALTHCHECK.violation(key_line(service, "healthcheck"), detail, service=service.index)


def fix_healthcheck(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)
    info = image_info(service)
    health = service.node.get("healthcheck")
    if info is None or info.healthcheck is None or (isinstance(health, dict) and health.get("disable") is True):
        return None
    probe = info.healthcheck

    def apply() -> None:
        set_key(service, "healthcheck", mapping({"test": seq(list(probe), flow=True), **HEALTH_TIMING}))

    return ComposeFix(FixSafety.SAFE, f"{service.name}: healthcheck {' '.join(probe[1:])}", apply)


# --- restart policy ----------------------------------------------------------------------------

def _restart_ok(value: object) -> bool:
    text = str(value).strip().lower()
    if text == "no":
        return True  # a one-shot service (migrations, seeding) on purpose
    match = re.fullmatch(r"on-failure:(\d+)", text)
    return match is not None and 1 <= int(match.group(1)) <= 5


def check_restart(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service restarts on failure a bounded number of times (`restart:
    on-failure:5`, or `"no"` for one-shot services).

    Why is this bad?
    `always` and `unless-stopped` restart a crashing service forever, hiding the fault and turning
    an exploit attempt into an endless retry loop; no policy leaves a crashed service down (CIS
    Docker Benchmark 5.15).

    Example:
    ```yaml
    services:
      web:
        restart: always
    ```

    Use instead:
    ```yaml
    services:
      web:
        restart: on-failure:5
    ```

    Fix safety:
    Needs review when it replaces `always` or `unless-stopped` (a service that exits cleanly is no
    longer restarted), and then only offered for images in hardcase's image knowledge; adding a
    missing `restart` is safe. A `restart` merged from an anchor is overridden on the service, so
    other services sharing the anchor keep theirs.
    """
    for service in parsed.services:
        value = service.node.get("restart")
        if value is None or not _restart_ok(value):
            detail = service.name if value is None else f"{service.name}: restart {value}"
            yield RESTART_RULE.violation(key_line(service, "restart"), detail, service=service.index)


def fix_restart(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)
    current = service.node.get("restart")
    if current is not None and image_info(service) is None:
        return None
    safety = FixSafety.SAFE if current is None else FixSafety.NEEDS_REVIEW

    def apply() -> None:
        set_key(service, "restart", RESTART)

    return ComposeFix(safety, f"{service.name}: restart {RESTART}", apply)


# --- log rotation ------------------------------------------------------------------------------

def _rotates(service: Service) -> bool:
    logging = service.node.get("logging")
    if not isinstance(logging, dict):
        return False
    driver = str(logging.get("driver", "json-file"))
    if driver not in ("json-file", "local"):
        return True  # shipped elsewhere (syslog, journald, fluentd, …): rotation is that system's job
    options = logging.get("options")
    return driver == "local" or (isinstance(options, dict) and options.get("max-size") is not None)


def check_log_rotation(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that every service's logs are rotated: the `json-file` driver with `max-size` (and
    `max-file`), the `local` driver, or a driver that ships logs off the host.

    Why is this bad?
    The default `json-file` driver keeps every line forever: a chatty or attacked service fills the
    host's disk (CIS Docker Benchmark 2.13).

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
        logging:
          driver: json-file
          options: {max-size: "10m", max-file: "3"}
    ```

    Fix safety:
    Safe. Only old log lines on the host are dropped, never anything the service sees. A `logging`
    merged from an anchor is changed in the anchor, once for all its users.
    """
    for service in parsed.services:
        if not _rotates(service):
            yield LOG_ROTATION.violation(key_line(service, "logging"), service.name, service=service.index)


def fix_log_rotation(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = target_service(parsed, violation)

    def apply() -> None:
        logging = service.node.get("logging")
        if not isinstance(logging, dict):
            set_key(service, "logging", mapping({"driver": "json-file", "options": mapping({})}), uniform=True)
        logging = writable(service, "logging", uniform=True)
        options = child(logging, "options", True)
        for key, value in LOG_OPTIONS.items():
            if options.get(key) is None:
                options[key] = quoted(value)

    return ComposeFix(FixSafety.SAFE, f"{service.name}: logging json-file max-size 10m, max-file 3"
                      f"{anchor_note(service, 'logging')}", apply)


HEALTHCHECK = ComposeRule("HC127", "compose-no-healthcheck", Severity.WARNING, "no health check", "5.27",
                          check_healthcheck, fix_healthcheck, FixSafety.SAFE)
RESTART_RULE = ComposeRule("HC128", "compose-restart-policy", Severity.WARNING, "restart policy is not on-failure:5",
                           "5.15", check_restart, fix_restart, FixSafety.NEEDS_REVIEW)
LOG_ROTATION = ComposeRule("HC129", "compose-no-log-rotation", Severity.INFO, "logs are not rotated", "2.13",
                           check_log_rotation, fix_log_rotation, FixSafety.SAFE)
RULES = (HEALTHCHECK, RESTART_RULE, LOG_ROTATION)
