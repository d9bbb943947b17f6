"""Fuzzing compose `check` → `harden` with hypothesis, through the CLI contract (in-process API).

Realistic compose files are drawn as structures (services with image, ports, volumes, environment,
security_opt, capabilities, health checks, command forms, labels with odd scalars, `x-` anchors,
merge keys and aliases, the non-specific tag `!`) and written out by a small emitter of this file
with random layout: 2- or 4-space mappings, each list's own dash offset, flow or block collections,
quoting, comments after keys and anchors, blank lines, trailing blanks, `---` and `...`, CRLF, no
final newline. A second strategy mutates them into junk (YAML-significant lines: anchors, aliases,
tags, `? ` keys, brackets, tabs, directives, alias bombs; random insertions, deletions, truncation),
plus random text and bytes.

The property, for every input, each command under a five-second alarm (no hang):
- `check --format json` exits 0/1 with a JSON report naming the file, or 2 with one
  `hardcase: error:` line; never a traceback;
- `harden -o OUT --unsafe-fixes` (or safe fixes only) exits 0, or 2 with one error line and no OUT;
- hardening OUT again changes nothing (idempotent: harden twice = harden once);
- for realistic inputs: `harden` must succeed, and every mapping entry the fixes left alone keeps its
  exact lines (the oracle of tests/test_safety_compose_splice.py).
`check` also runs as a real process on some junk (the console entry point's fast path).

The default run does a few hundred examples; `-m slow` runs more than 10,000.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scaffold_support import ERROR_PREFIX, REPO, CliResult, run_cli
from test_safety_compose import deadline
from test_safety_compose_splice import assert_untouched_kept

DEFAULT_REALISTIC = 120
DEFAULT_JUNK = 150
DEFAULT_PROCESS = 10
SLOW_REALISTIC = 5000
SLOW_JUNK = 5000
SLOW_PROCESS = 300
PER_COMMAND = 5.0  # seconds: more is a hang
SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
            HealthCheck.filter_too_much]

# --- the document model --------------------------------------------------------------------------


@dataclass
class Scalar:
    token: str  # as written: plain, quoted, tagged


@dataclass
class Alias:
    name: str


@dataclass
class Block:
    header: str  # "|", ">-", "|+"
    lines: list[str]


@dataclass
class Seq:
    items: list[Any]
    anchor: str | None = None


@dataclass
class Map:
    items: list[tuple[str, Any]]
    anchor: str | None = None


IMAGES = ["postgres:16", "127.0.0.1:5000/library/postgres:15-bookworm", "redis:7", "mysql:8.4", "mariadb:11",
          "mongo:7", "rabbitmq:3.13", "memcached:1.6", "nginx:1.27", "nginxinc/nginx-unprivileged:1.27",
          "traefik:v3.1", "example/app:1", "ghcr.io/acme/api:2.0", "${IMAGE:-busybox}", "gcr.io/distroless/static"]
NAMES = ["web", "db", "cache", "worker", "api", "proxy", "queue", "app-1", "a_b"]
PORTS = ['"8080:80"', "'127.0.0.1:5432:5432'", '"0.0.0.0:443:443"', "9000", '"[::]:8443:443/tcp"', "80",
         '"${WEB_PORT:-8000}:8000"', '"3000-3005"', "'22:22'"]
VOLUMES = ["data:/data", "./conf:/etc/app:ro", "/var/run/docker.sock:/var/run/docker.sock", '"logs:/var/log"',
           "/:/host", "cache:/cache:rw"]
ENV_NAMES = ["POSTGRES_PASSWORD", "MYSQL_ROOT_PASSWORD", "API_TOKEN", "LOG_LEVEL", "FOO", "MODE", "DEBUG",
             "MARIADB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "EMPTY"]
ODD_SCALARS = ["! null", "! '0755'", "! 0755", "~", "", "null", "'null'", "0755", "0o755", "0x1F", "1_000", "1e3",
               "yes", "no", "on", "off", "true", "'true'", "2001-12-14t21:59:43.10-05:00", "2002-12-14",
               "'${SECRET}'", "$SECRET", "literal", '"two words"', "hunter2", '"grüße ☃"', "'it''s'",
               '"tab\\there"', "-1", ".5", "!!str 12", "'#not a comment'", "a-b", "'a: b'"]
LABEL_KEYS = ["team", "when", "com.example.tier", "traefik.enable", "x", "'quoted key'", '"8080"']
COMMENTS = ["# a comment", "# TODO ☃", "#", "# hardcase ignore=HC121", "#\tindented"]

name_st = st.sampled_from(NAMES)
scalar_st = st.sampled_from(ODD_SCALARS).map(Scalar)


@st.composite
def service(draw: st.DrawFn, anchors: list[str]) -> Map:
    items: list[tuple[str, Any]] = []
    if anchors and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=2, unique=True))
        items.append(("<<", Alias(chosen[0]) if len(chosen) == 1 else Seq([Alias(a) for a in chosen])))
    if draw(st.integers(0, 9)):
        items.append(("image", Scalar(draw(st.sampled_from(IMAGES)))))
    else:
        items.append(("build", Scalar(".")))
    optional: list[tuple[str, st.SearchStrategy[Any]]] = [
        ("ports", st.lists(st.sampled_from(PORTS), max_size=3, unique=True).map(lambda p: Seq([Scalar(x) for x in p]))),
        ("volumes", st.lists(st.sampled_from(VOLUMES), max_size=2, unique=True).map(
            lambda v: Seq([Scalar(x) for x in v]))),
        ("environment", st.one_of(
            st.dictionaries(st.sampled_from(ENV_NAMES), scalar_st, max_size=4).map(lambda d: Map(list(d.items()))),
            st.lists(st.sampled_from(ENV_NAMES), max_size=3, unique=True).map(
                lambda names: Seq([Scalar(n + "=" + "x" if n != "EMPTY" else n) for n in names])))),
        ("labels", st.dictionaries(st.sampled_from(LABEL_KEYS), scalar_st, max_size=4).map(
            lambda d: Map(list(d.items())))),
        ("security_opt", st.sampled_from([["label:disable"], ["no-new-privileges:true"], ["seccomp:unconfined"],
                                          ["apparmor=unconfined", "no-new-privileges"]]).map(
            lambda o: Seq([Scalar(x) for x in o]))),
        ("cap_add", st.sampled_from([["NET_ADMIN"], ["CHOWN"], ["SYS_PTRACE", "NET_BIND_SERVICE"], ["ALL"]]).map(
            lambda c: Seq([Scalar(x) for x in c]))),
        ("cap_drop", st.just(Seq([Scalar("ALL")]))),
        ("user", st.sampled_from(['"999:999"', "'0'", "root", "'1000'", "! '0'"]).map(Scalar)),
        ("privileged", st.sampled_from(["true", "false"]).map(Scalar)),
        ("network_mode", st.just(Scalar("host"))),
        ("pid", st.just(Scalar('"host"'))),
        ("read_only", st.sampled_from(["true", "false"]).map(Scalar)),
        ("restart", st.sampled_from(["always", "unless-stopped", '"no"', "on-failure:3"]).map(Scalar)),
        ("healthcheck", st.sampled_from([
            Map([("test", Seq([Scalar("CMD"), Scalar('"true"')])), ("interval", Scalar("30s"))]),
            Map([("disable", Scalar("true"))]),
            Map([("test", Scalar('"curl -f http://localhost/ || exit 1"'))])])),
        ("logging", st.sampled_from([Map([("driver", Scalar("json-file"))]), Map([("driver", Scalar("syslog"))]),
                                     Map([("driver", Scalar("json-file")),
                                          ("options", Map([("max-size", Scalar('"5m"'))]))])])),
        ("command", st.sampled_from([Scalar("python app.py"), Seq([Scalar("npm"), Scalar("start")]),
                                     Block(">-", ["serve", "--port 8000"]), Block("|", ["#!/bin/sh", "exec app   "]),
                                     Scalar("'sh -c \"echo hi\"'")])),
        ("deploy", st.just(Map([("resources", Map([("limits", Map([("memory", Scalar("256M"))]))]))]))),
        ("ulimits", st.just(Map([("nofile", Map([("soft", Scalar("1024")), ("hard", Scalar("2048"))]))]))),
        ("tmpfs", st.just(Seq([Scalar("/tmp")]))),
        ("x-hardcase", st.sampled_from([Map([("public", Scalar("true"))]), Map([("public", Seq([Scalar("80")]))])])),
    ]
    for key, strategy in optional:
        if draw(st.integers(0, 3)) == 0:
            items.append((key, draw(strategy)))
    return Map(items)


@st.composite
def documents(draw: st.DrawFn) -> Map:
    top: list[tuple[str, Any]] = []
    anchors: list[str] = []
    if draw(st.booleans()):
        common = [("restart", Scalar("unless-stopped"))]
        if draw(st.booleans()):
            common.append(("logging", Map([("driver", Scalar("json-file"))], anchor="log")))
        if draw(st.booleans()):
            common.append(("security_opt", Seq([Scalar("no-new-privileges:true")], anchor="nnp")))
        if draw(st.booleans()):
            common.append(("environment", Map([("TZ", Scalar("UTC")), ("FOO", Scalar("! null"))], anchor="env")))
        top.append(("x-common", Map(common, anchor="common")))
        anchors.append("common")
    if draw(st.booleans()):
        top.append(("x-limits", Map([("mem_limit", Scalar("512m")), ("pids_limit", Scalar("100"))], anchor="limits")))
        anchors.append("limits")
    names = draw(st.lists(name_st, min_size=1, max_size=4, unique=True))
    services = [(name, draw(service(anchors))) for name in names]
    # sometimes a service reuses an anchored value another one defined
    defined = [inner.anchor for _, block in top for _, inner in block.items if getattr(inner, "anchor", None)]
    for index, (name, spec) in enumerate(services):
        if defined and draw(st.integers(0, 3)) == 0:
            anchor = draw(st.sampled_from(defined))
            key = {"log": "logging", "nnp": "security_opt", "env": "environment"}[anchor]
            services[index] = (name, Map([(k, v) for k, v in spec.items if k != key] + [(key, Alias(anchor))]))
    top.append(("services", Map(services)))
    mounts = {getattr(v, "token", "") for _, s in services for k, vs in s.items if k == "volumes" for v in vs.items}
    named = sorted({m.strip('"').split(":")[0] for m in mounts if not m.strip('"').startswith(("/", "."))})
    if named:
        top.append(("volumes", Map([(n, Map([])) for n in named])))
    return Map(top)


# --- the emitter ---------------------------------------------------------------------------------


class Emitter:
    """YAML text for the model, laid out by RND (each collection makes its own choices)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.step = rnd.choice([2, 2, 2, 4])
        self.offset = rnd.choice([0, self.step]) if rnd.random() < 0.8 else None  # None: each list chooses

    def tail(self) -> str:
        roll = self.rnd.random()
        return "   # note ☃" if roll < 0.08 else " " if roll < 0.12 else ""

    def flowable(self, value: Any) -> bool:
        if isinstance(value, (Seq, Map)):
            return value.anchor is None and all(self.flowable(v) for v in self.children(value))
        return isinstance(value, (Scalar, Alias)) and not (isinstance(value, Scalar) and value.token in ("", "! null"))

    @staticmethod
    def children(value: Seq | Map) -> list[Any]:
        return list(value.items) if isinstance(value, Seq) else [v for _, v in value.items]

    def flow(self, value: Any) -> str:
        if isinstance(value, Scalar):
            plain = value.token[:1] not in ("'", '"', "!", "")
            return json.dumps(value.token) if plain and any(c in value.token for c in "[]{},") else value.token
        if isinstance(value, Alias):
            return f"*{value.name}"
        pad = " " if self.rnd.random() < 0.3 else ""
        if isinstance(value, Seq):
            return "[" + pad + ", ".join(self.flow(v) for v in value.items) + pad + "]"
        return "{" + pad + ", ".join(f"{k}: {self.flow(v)}" for k, v in value.items) + pad + "}"

    def entry(self, key: str, value: Any, indent: int) -> list[str]:
        pad = " " * indent
        if isinstance(value, (Scalar, Alias)):
            text = self.flow(value)
            return [f"{pad}{key}:{' ' + text if text else ''}{self.tail()}"]
        if isinstance(value, Block):
            inner = " " * (indent + self.step)
            return [f"{pad}{key}: {value.header}"] + [inner + line for line in value.lines]
        anchor = f" &{value.anchor}" if value.anchor else ""
        if not self.children(value) or (self.flowable(value) and self.rnd.random() < 0.3):
            return [f"{pad}{key}:{anchor} {self.flow(value)}{self.tail()}"]
        comment = "  # " + self.rnd.choice(["shared", "anchor ☃", "x"]) if anchor and self.rnd.random() < 0.3 else ""
        head = f"{pad}{key}:{anchor}{comment}{self.tail() if not comment else ''}"
        return [head, *self.body(value, indent + self.step)]

    def body(self, value: Seq | Map, indent: int) -> list[str]:
        lines: list[str] = []
        if isinstance(value, Map):
            for key, item in value.items:
                if self.rnd.random() < 0.05:
                    lines.append(" " * indent + self.rnd.choice(COMMENTS))
                lines.extend(self.entry(key, item, indent))
                if self.rnd.random() < 0.05:
                    lines.append("")
            return lines
        offset = self.offset if self.offset is not None else self.rnd.choice([0, 2, 4])
        dash = indent - self.step + offset
        for item in value.items:
            prefix = " " * dash + "-" + self.rnd.choice([" ", " ", " ", "   "])
            if isinstance(item, Map) and item.items and not item.anchor:
                inner = self.body(item, 0)
                item_indent = len(prefix)
                lines.append(prefix + inner[0])
                lines.extend((" " * item_indent + line) if line else line for line in inner[1:])
            else:
                lines.append(prefix + self.flow(item) + self.tail())
        return lines

    @staticmethod
    def last_entries(model: Map) -> list[tuple[str, Any]]:
        """The last entry at each depth along the end of the document."""
        found: list[tuple[str, Any]] = []
        node: Any = model
        while isinstance(node, Map) and node.items:
            found.append(node.items[-1])
            node = node.items[-1][1]
        return found

    def document(self, model: Map) -> str:
        lines: list[str] = []
        if self.rnd.random() < 0.2:
            lines.append(self.rnd.choice(COMMENTS))
        if self.rnd.random() < 0.15:
            lines.append("---")
        for key, value in model.items:
            lines.extend(self.entry(key, value, 0))
            if self.rnd.random() < 0.3:
                lines.append("")
        if self.rnd.random() < 0.08:
            lines.append("...")
        # Known limit (not a bug: the result is right, only not minimal): a block scalar ending the file
        # without a final newline means `|-`; once a fix appends after it, its header must change, and
        # harden writes the whole file as ruamel dumps it. Such files are left out of the line oracle.
        ends_in_block = any(isinstance(v, Block) for _, v in self.last_entries(model))
        text = "\n".join(lines) + self.rnd.choice(["\n"] if ends_in_block else ["\n", "\n", "\n", "", "\n\n"])
        return text.replace("\n", "\r\n") if self.rnd.random() < 0.1 else text


@st.composite
def realistic_compose(draw: st.DrawFn) -> str:
    model = draw(documents())
    return Emitter(random.Random(draw(st.integers(0, 2**32 - 1)))).document(model)


JUNK_LINES = [
    "&a", "*nope", "<<: *undefined", "x: !!python/object/apply:os.system [id]", "? [a, b]", "? complex", "- [", "{",
    "}", "]", "%YAML 1.1", "%TAG ! tag:x,2000:", "---", "...", "\t", "\tkey: value", "key: &a [*a]", "\x00", "\ufeff",
    "services:", "services: []", "services: {web: 1}", "  web: ~", "    <<: 5", "    <<: [1, 2]", "!!binary aGk=",
    "x: |", "x: >-\n", "  - - - -", "x: *a", "'unterminated", '"unterminated', "a: b: c", ": x", "- x\ny: z",
    "x-a: &a [lol, lol]\nx-b: &b [*a, *a, *a]", "    ports: {8080: 80}", "    environment: [FOO, 1, ~]",
    "    image: !reset", "    ports: !override [\"80\"]", "    security_opt: !!set {a, b}", "    user: ! 0",
    "k: " + "[" * 200 + "]" * 200, "k: " + "x" * 2000,
]


@st.composite
def junk_compose(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["mutated"] * 6 + ["text", "binary"]))
    if kind == "text":
        return draw(st.text(max_size=400)).encode("utf-8", "surrogatepass")
    if kind == "binary":
        return draw(st.binary(max_size=400))
    text = draw(realistic_compose())
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["insert", "insert-line", "insert-line", "delete", "duplicate", "truncate",
                                          "indent"]))
        start = text.rfind("\n", 0, position) + 1
        if operation == "insert":
            text = text[:position] + draw(st.text(min_size=1, max_size=10)) + text[position:]
        elif operation == "insert-line":
            line = draw(st.sampled_from(JUNK_LINES))
            text = text[:start] + " " * draw(st.sampled_from([0, 2, 4, 6])) + line + "\n" + text[start:]
        elif operation == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 30)):]
        elif operation == "duplicate":
            text = text[:start] + text[start:position + 40] + "\n" + text[start:]
        elif operation == "indent":
            text = text[:start] + draw(st.sampled_from([" ", "  ", "\t", "- "])) + text[start:]
        else:
            text = text[:position]
    return text.encode("utf-8", "surrogatepass")


# --- the contract --------------------------------------------------------------------------------


def assert_one_line_error(result: CliResult, what: str) -> None:
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, f"{what}: exit {result.exit_code}, stderr {result.stderr[-500:]!r}"
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), f"{what}: stderr {result.stderr[-500:]!r}"
    assert lines[0][len(ERROR_PREFIX):].strip(), f"{what}: empty error message"


def timed(*argv: str | os.PathLike[str]) -> CliResult:
    with deadline(PER_COMMAND):
        return run_cli(*argv)


def check_contract(tmp: Path, data: bytes, unsafe: bool = True) -> str | None:
    """The contract above; the hardened text, or None when harden refused the input."""
    source, out = tmp / "compose.yaml", tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    source.write_bytes(data)
    checked = timed("check", source, "--format", "json")
    if checked.exit_code in (0, 1):
        assert [f["path"] for f in json.loads(checked.stdout)["files"]] == [str(source)]
    else:
        assert_one_line_error(checked, "check")
    fixes = ["--unsafe-fixes"] if unsafe else []
    hardened = timed("harden", source, "-o", out / "compose.yaml", *fixes)
    if hardened.exit_code != 0:
        assert_one_line_error(hardened, "harden")
        assert not (out / "compose.yaml").exists(), "harden failed but wrote its output file"
        event("harden: clear error")
        return None
    output = (out / "compose.yaml").read_bytes()
    again = timed("harden", out / "compose.yaml", "-o", out / "again.yaml", *fixes)
    assert again.exit_code == 0, f"hardening the output failed: {again.stderr}"
    assert (out / "again.yaml").read_bytes() == output, "not idempotent: harden(harden(x)) != harden(x)"
    event("harden: idempotent output")
    return output.decode("utf-8")


def realistic_property(tmp: Path, text: str, unsafe: bool) -> None:
    output = check_contract(tmp, text.encode("utf-8"), unsafe)
    assert output is not None, f"harden refused a realistic compose file:\n{text}"
    assert_untouched_kept(text, output)


def check_process_contract(tmp: Path, data: bytes) -> None:
    source = tmp / "compose.yaml"
    source.write_bytes(data)
    proc = subprocess.run([sys.executable, "-m", "generator", "check", str(source), "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    result = CliResult(proc.returncode, proc.stdout, proc.stderr)
    if result.exit_code in (0, 1):
        assert result.stderr == "", result.stderr
        assert [f["path"] for f in json.loads(result.stdout)["files"]] == [str(source)]
    else:
        assert_one_line_error(result, "check (process)")


# --- tests ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True, scope="module")
def _reuse_cli_parser() -> Iterator[None]:
    """As in tests/test_fuzz.py: one argparse parser for all examples (no behaviour changes)."""
    from generator.cli import main as cli

    with pytest.MonkeyPatch.context() as patch:
        if hasattr(cli, "_build_parser"):
            patch.setattr(cli, "_build_parser", functools.cache(cli._build_parser))
        yield


@settings(max_examples=DEFAULT_REALISTIC, deadline=None, suppress_health_check=SUPPRESS)
@given(text=realistic_compose(), unsafe=st.booleans())
def test_fuzz_realistic_compose(tmp_path: Path, text: str, unsafe: bool) -> None:
    realistic_property(tmp_path, text, unsafe)


@settings(max_examples=DEFAULT_JUNK, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_compose())
def test_fuzz_junk_compose(tmp_path: Path, data: bytes) -> None:
    check_contract(tmp_path, data)


@settings(max_examples=DEFAULT_PROCESS, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_compose())
def test_fuzz_compose_check_as_a_process(tmp_path: Path, data: bytes) -> None:
    check_process_contract(tmp_path, data)


@pytest.mark.slow
@settings(max_examples=SLOW_REALISTIC, deadline=None, suppress_health_check=SUPPRESS)
@given(text=realistic_compose(), unsafe=st.booleans())
def test_fuzz_realistic_compose_long(tmp_path: Path, text: str, unsafe: bool) -> None:
    realistic_property(tmp_path, text, unsafe)


@pytest.mark.slow
@settings(max_examples=SLOW_JUNK, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_compose())
def test_fuzz_junk_compose_long(tmp_path: Path, data: bytes) -> None:
    check_contract(tmp_path, data)


@pytest.mark.slow
@settings(max_examples=SLOW_PROCESS, deadline=None, suppress_health_check=SUPPRESS)
@given(data=junk_compose())
def test_fuzz_compose_check_as_a_process_long(tmp_path: Path, data: bytes) -> None:
    check_process_contract(tmp_path, data)


def test_generators_produce_what_they_claim(tmp_path: Path) -> None:
    """Realistic inputs are compose files Compose itself accepts (most of them: a few odd scalars are
    refused by its schema), with anchors, merge keys, tags and CRLF among them; most junk is refused."""
    from test_safety_compose_splice import compose_view

    realistic: list[str] = []
    junk: list[bytes] = []

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=SUPPRESS)
    @given(text=realistic_compose(), data=junk_compose())
    def collect(text: str, data: bytes) -> None:
        realistic.append(text)
        junk.append(data)

    collect()
    accepted = 0
    for text in realistic[:25]:
        try:
            compose_view(text, tmp_path)
            accepted += 1
        except AssertionError:
            pass
    assert accepted >= 20, f"Compose accepts only {accepted}/25 realistic inputs"
    joined = "".join(realistic)
    for feature in ("<<: ", "&common", "! null", "\r\n", "- "):
        assert feature in joined, f"no realistic input has {feature!r}"
    source = tmp_path / "compose.yaml"
    refused = 0
    for data in junk[:30]:
        source.write_bytes(data)
        refused += timed("check", source).exit_code == 2
    assert refused >= 5, f"only {refused}/30 junk inputs refused: the mutations do too little"
