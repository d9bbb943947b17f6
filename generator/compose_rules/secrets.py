"""Secrets passed as environment variables, and moving them to file secrets read as `NAME_FILE`.

What is written where: a variable whose value comes from the host environment (`${DB_PASSWORD}`)
becomes a top-level secret with that variable as its source (`secrets: {SERVICE_NAME: {environment:
DB_PASSWORD}}`, Compose reads it from the shell or `.env` at `up`), mounted at `/run/secrets/…` and
passed as `NAME_FILE`; the value itself never enters the file. A literal value is only reported:
hardcase never copies a secret value into another file, so nothing it writes can leak it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..compose import ParsedCompose, Service
from ..fix import FixSafety
from . import ComposeFix, ComposeRule, Severity, Violation
from ._support import environment, image_info, mapping, seq, set_key, writable

SECRET_NAME_RE = re.compile(r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)",
                            re.IGNORECASE)
INTERPOLATION_RE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?\?[^}]*)?\}?$")


def _secret_vars(service: Service) -> Iterator[tuple[str, str, int]]:
    for name, value, line in environment(service):
        if name.upper().endswith("_FILE") or not SECRET_NAME_RE.search(name):
            continue
        text = "" if value is None else str(value)
        if text and not text.startswith("/run/secrets/"):
            yield name, text, line


def check_env_secrets(parsed: ParsedCompose) -> Iterator[Violation]:
    """What it does:
    Checks that no service passes a secret (a variable named like `*PASSWORD*`, `*SECRET*`,
    `*TOKEN*`, `*API_KEY*`, …) as a plain environment variable.

    Why is this bad?
    Environment variables show in `docker inspect`, in `/proc/*/environ`, in crash reports and in
    every child process; a file secret is readable only where it is mounted (CIS Docker Benchmark
    4.10).

    Example:
    ```yaml
    services:
      db:
        image: postgres:16
        environment:
          POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
    ```

    Use instead:
    ```yaml
    services:
      db:
        image: postgres:16
        environment:
          POSTGRES_PASSWORD_FILE: /run/secrets/db_postgres_password
        secrets: [db_postgres_password]
    secrets:
      db_postgres_password:
        environment: POSTGRES_PASSWORD
    ```

    Fix safety:
    Needs review. Only for images in hardcase's image knowledge that read `NAME_FILE` for the
    variable, and only when the value comes from the host environment (`${VAR}`): the secret's
    source is that variable, so no value is copied anywhere. Literal values, and images that do not
    read `NAME_FILE`, are reported for the owner to move.
    """
    for service in parsed.services:
        for name, _, line in _secret_vars(service):
            yield ENV_SECRET.violation(line, f"{service.name}: {name}", service=service.index)


def _secret_name(parsed: ParsedCompose, service: Service, variable: str) -> str:
    base = re.sub(r"[^a-z0-9_]+", "_", f"{service.name}_{variable}".lower())
    taken = set(parsed.data.get("secrets") or {})
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


def fix_env_secrets(parsed: ParsedCompose, violation: Violation) -> ComposeFix | None:
    service = parsed.services[violation.instruction]
    info = image_info(service)
    if info is None:
        return None
    existing = {name for name, _, _ in environment(service)}
    moves = []
    for variable, value, line in _secret_vars(service):
        match = INTERPOLATION_RE.match(value)
        if line != violation.line:
            continue  # each finding moves its own variable
        if variable in info.file_env and match and f"{variable}_FILE" not in existing:
            moves.append((variable, match.group(1)))
    if not moves:
        return None
    names = {variable: _secret_name(parsed, service, variable) for variable, _ in moves}

    def apply() -> None:
        from ruamel.yaml.comments import CommentedMap

        if not isinstance(parsed.data.get("secrets"), dict):
            parsed.data["secrets"] = mapping({})
        env = writable(service, "environment")
        for variable, source in moves:
            if variable not in {name for name, _, _ in environment(service)}:
                continue  # moved by the finding of a variable on the same (flow-style) line
            secret = names[variable]
            parsed.data["secrets"][secret] = mapping({"environment": source})
            target = f"/run/secrets/{secret}"
            if isinstance(env, CommentedMap):
                position = list(env).index(variable)
                comment = env.ca.items.pop(variable, None)
                del env[variable]
                env.insert(position, f"{variable}_FILE", target)
                if comment is not None:
                    env.ca.items[f"{variable}_FILE"] = comment
            else:
                position = next(i for i, item in enumerate(env) if str(item).partition("=")[0] == variable)
                env[position] = f"{variable}_FILE=/run/secrets/{secret}"
            current = service.node.get("secrets")
            if isinstance(current, list):
                writable(service, "secrets").append(secret)
            else:
                set_key(service, "secrets", seq([secret]))

    listed = ", ".join(f"{v} -> {v}_FILE (secret {names[v]} from ${s})" for v, s in moves)
    return ComposeFix(FixSafety.NEEDS_REVIEW, f"{service.name}: {listed}", apply)


ENV_SECRET = ComposeRule("HC140", "compose-secret-in-environment", Severity.WARNING, "secret passed as an "
                         "environment variable", "4.10", check_env_secrets, fix_env_secrets, FixSafety.NEEDS_REVIEW)
RULES = (ENV_SECRET,)
