"""Answers: the questions `new` asks, how layers of answers combine, and how each is validated.

Layers, lowest first (later wins): built-in defaults → detected from the source in DIR → preset →
answers file → `--set` → interactive prompts. Every answer is data: it is validated here, and the
templates only ever insert it, they never evaluate it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from generator.core import catalog
from generator.core.errors import AnswerError

NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SECRET_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/-]*$")
MEMORY_RE = re.compile(r"^[1-9][0-9]{0,5}[mg]$")
CPUS_RE = re.compile(r"^[0-9]{1,2}(\.[0-9]{1,2})?$")
# The engine's own bounds: runc refuses a memory limit below 6 MiB, and `cpus` below 0.01.
MEMORY_MIN_MB = 6
CPUS_MIN = 0.01
MIRROR_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)*$")
DESCRIPTION_MAX = 200
# Control characters (C0, DEL and C1, which include NEL), line and paragraph separators, and lone
# surrogates (what undecodable bytes in argv become): each would break a line or the UTF-8 encoding.
UNPRINTABLE_CATEGORIES = ("Cc", "Zl", "Zp", "Cs")
PUBLISH_CHOICES = ("localhost", "all", "none")
# Paths a tmpfs must never hide: the app itself, the interpreter, system config.
FORBIDDEN_WRITABLE = ("/", "/app", "/opt/app", "/usr", "/bin", "/lib", "/etc", "/proc", "/sys", "/dev",
                      "/run/secrets")


@dataclass(frozen=True)
class Answers:
    name: str
    description: str
    language: str
    runtime_version: str
    framework: str
    flavour: str
    ports: tuple[int, ...]
    writable_paths: tuple[str, ...]
    secrets: tuple[str, ...]
    memory: str
    cpus: str
    pids: int
    publish: str
    with_app: bool = False
    registry_mirror: str = ""
    syntax_line: bool = False
    apparmor: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


Partial = Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    """One answer key: its help line, how to coerce raw input, its default and allowed values."""

    key: str
    help: str
    kind: str  # str | choice | int | ints | strs | bool
    default: Callable[[Partial], Any]
    choices: Callable[[Partial], tuple[str, ...]] | None = None
    check: Callable[[Any, Partial], str | None] = field(default=lambda value, partial: None)


def _lang(p: Partial) -> catalog.Language:
    return catalog.languages()[p["language"]]


def _check_name(value: str, _: Partial) -> str | None:
    if not NAME_RE.fullmatch(value):
        return ("must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, "
                "at most 63 characters")
    return None


def _check_description(value: str, _: Partial) -> str | None:
    if len(value) > DESCRIPTION_MAX:
        return f"must be at most {DESCRIPTION_MAX} characters"
    if any(unicodedata.category(ch) in UNPRINTABLE_CATEGORIES for ch in value):
        return "must be one line of text without control characters"
    if "\\" in value:
        # A Dockerfile LABEL value cannot carry a backslash that every parser reads the same way:
        # BuildKit unescapes '\\' but hadolint's parser rejects '\\' before a quote.
        return "must not contain a backslash"
    return None


def _check_ports(value: tuple[int, ...], p: Partial) -> str | None:
    if not value:
        return "at least one port is needed (the first one is health-checked)"
    if len(set(value)) != len(value):
        return "ports must be unique"
    for port in value:
        if not 1024 <= port <= 65535:
            return f"{port} is not in 1024-65535 (a port below 1024 would need NET_BIND_SERVICE)"
    return None


def _check_paths(value: tuple[str, ...], _: Partial) -> str | None:
    for path in value:
        parts = path.split("/")
        if not PATH_RE.fullmatch(path) or ".." in parts or "." in parts or "//" in path:
            return f"{path!r} is not an absolute, normalised path"
        if path.rstrip("/") in FORBIDDEN_WRITABLE or path.rstrip("/") == "":
            return f"{path!r} must stay read-only"
    if len(set(value)) != len(value):
        return "paths must be unique"
    return None


def _check_secrets(value: tuple[str, ...], _: Partial) -> str | None:
    for name in value:
        if not SECRET_RE.fullmatch(name):
            return f"{name!r} is not a valid secret name (a-z, 0-9, '_', starting with a letter)"
    if len(set(value)) != len(value):
        return "secret names must be unique"
    return None


def _check_memory(value: str, _: Partial) -> str | None:
    if not MEMORY_RE.fullmatch(value):
        return "must look like 256m or 1g"
    if value.endswith("m") and int(value[:-1]) < MEMORY_MIN_MB:
        return f"must be at least {MEMORY_MIN_MB}m (the engine refuses a smaller memory limit)"
    return None


def _check_cpus(value: str, _: Partial) -> str | None:
    if not CPUS_RE.fullmatch(value) or float(value) < CPUS_MIN:
        return f"must be a number of CPUs from {CPUS_MIN} up, such as 0.5 or 2"
    available = os.cpu_count() or 1
    if float(value) > available:
        # The engine refuses `cpus` above the CPUs of the host it runs on (`docker compose up` fails
        # with "range of CPUs is from 0.01 to N"); this host is the best guess of the one that runs it.
        return f"{value} is more than this host's {available} CPU(s) (the engine refuses a limit above them)"
    return None


def _check_pids(value: int, _: Partial) -> str | None:
    return None if 16 <= value <= 32768 else "must be between 16 and 32768"


def _check_mirror(value: str, _: Partial) -> str | None:
    if value and not MIRROR_RE.fullmatch(value):
        return "must look like HOST[:PORT][/PREFIX]"
    return None


QUESTIONS: tuple[Question, ...] = (
    Question("language", "Language of the service.", "choice",
             default=lambda p: "python", choices=lambda p: tuple(catalog.languages())),
    Question("runtime_version", "Runtime version; the default is the newest one with a distroless image.",
             "choice", default=lambda p: _lang(p).versions[0], choices=lambda p: _lang(p).versions),
    Question("framework", "Web framework the service uses.", "choice",
             default=lambda p: _lang(p).default_framework, choices=lambda p: _lang(p).frameworks),
    Question("name", "Service name: a lowercase DNS label, used for the image, container and network.",
             "str", default=lambda p: "my-service", check=_check_name),
    Question("description", "One line describing the service (free text, stored as an image label).",
             "str", default=lambda p: "A hardened service", check=_check_description),
    Question("publish",
             "Where ports are published: localhost (127.0.0.1), all interfaces, or none (internal backend).",
             "choice", default=lambda p: "localhost", choices=lambda p: PUBLISH_CHOICES),
    Question("ports",
             "Ports the service listens on (1024-65535; the first one is served and health-checked).",
             "ints", default=lambda p: (_lang(p).default_port,), check=_check_ports),
    Question("writable_paths",
             "Paths the app writes to; each becomes a small noexec tmpfs, the rest is read-only.",
             "strs", default=lambda p: ("/tmp",), check=_check_paths),  # noqa: S108 (a tmpfs in the container)
    Question("secrets", "Secret names; each is mounted at /run/secrets/NAME and passed as NAME_FILE.",
             "strs", default=lambda p: (), check=_check_secrets),
    Question("memory", "Memory limit (e.g. 256m, 1g).", "str", default=lambda p: "256m", check=_check_memory),
    Question("cpus", "CPU limit in CPUs (e.g. 0.5).", "str", default=lambda p: "0.50", check=_check_cpus),
    Question("pids", "Maximum number of processes and threads (stops fork bombs).", "int",
             default=lambda p: 128, check=_check_pids),
    Question("flavour",
             "Runtime base image: distroless has no shell or package manager (smallest attack surface).",
             "choice", default=lambda p: _lang(p).flavours[p["runtime_version"]][0],
             choices=lambda p: _lang(p).flavours[p["runtime_version"]]),
    Question("with_app", "Also write a minimal runnable app with a /healthz endpoint.", "bool",
             default=lambda p: False),
    Question("registry_mirror",
             "Registry mirror HOST[:PORT][/PREFIX] that base images are pulled through ('' = none).",
             "str", default=lambda p: "", check=_check_mirror),
    Question("syntax_line", "Add a '# syntax=' line (pulls the Dockerfile frontend image at build time).",
             "bool", default=lambda p: False),
    Question("apparmor", "Also write an AppArmor profile and apply it from compose (load it with apparmor_parser).",
             "bool", default=lambda p: False),
)
QUESTION_BY_KEY = {q.key: q for q in QUESTIONS}
# Asked interactively in this order; the rest keep their layered value unless set explicitly.
INTERACTIVE_KEYS = ("language", "runtime_version", "framework", "name", "description", "ports",
                    "writable_paths", "secrets", "memory", "cpus", "pids", "flavour")


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def coerce(question: Question, raw: Any) -> Any:
    """Turn a raw value (YAML scalar or list, or a `--set` string) into the question's type."""
    key, kind = question.key, question.kind
    if kind in ("str", "choice"):
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise AnswerError(key, "must be a string")
        return str(raw)
    if kind == "int":
        if isinstance(raw, bool):
            raise AnswerError(key, "must be an integer")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise AnswerError(key, f"{raw!r} is not an integer") from None
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise AnswerError(key, f"{raw!r} is not true or false")
    items = _split(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise AnswerError(key, "must be a list")
    if kind == "ints":
        out = []
        for item in items:
            if isinstance(item, bool):
                raise AnswerError(key, f"{item!r} is not a port number")
            try:
                out.append(int(str(item).strip()))
            except ValueError:
                raise AnswerError(key, f"{item!r} is not a port number") from None
        return tuple(out)
    if not all(isinstance(item, str) for item in items):
        raise AnswerError(key, "must be a list of strings")
    return tuple(items)


def resolve(layers: list[Mapping[str, Any]],
            ask: Callable[[Question, Any, Partial], Any] | None = None) -> Answers:
    """Combine layers (lowest first) into validated Answers, asking for interactive keys if `ask` is given.

    Unknown keys are rejected so a typo in a preset or answers file never passes silently.
    """
    merged: ChainMap[str, Any] = ChainMap(*reversed(layers))
    unknown = sorted(set(merged) - set(QUESTION_BY_KEY))
    if unknown:
        raise AnswerError(unknown[0], f"unknown answer key (known: {', '.join(QUESTION_BY_KEY)})")
    partial: dict[str, Any] = {}
    for question in QUESTIONS:
        value = coerce(question, merged[question.key]) if question.key in merged else question.default(partial)
        if ask is not None and question.key in INTERACTIVE_KEYS:
            value = coerce(question, ask(question, value, partial))
        partial[question.key] = _validated(question, value, partial)
    return Answers(**partial)


def _validated(question: Question, value: Any, partial: Partial) -> Any:
    if question.choices is not None:
        allowed = question.choices(partial)
        if value not in allowed:
            raise AnswerError(question.key, f"{value!r} is not one of: {', '.join(allowed)}")
    problem = question.check(value, partial)
    if problem:
        raise AnswerError(question.key, problem)
    return value


def parse_set(items: list[str]) -> dict[str, str]:
    """`--set KEY=VALUE` pairs; the value is kept as text and coerced per question later."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AnswerError(item or "--set", "expected KEY=VALUE")
        result[key.strip()] = value
    return result
