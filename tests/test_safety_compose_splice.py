"""`harden` on a compose file changes only the lines its fixes change (issue #11, item 13).

ruamel's dump of an untouched tree is not what the user wrote: `! null` became empty (Compose then
reads the variable from the host), `! '0755'` lost its quotes (a number for ruamel, the string
"0755" for Compose), timestamps changed form, lists were re-indented, trailing blanks stripped,
a comment after an anchor moved to its own line, a `...` end marker vanished. Each property here is
checked on a corpus of such tricky files and on tests/compose:
- every mapping entry whose value the fixes left alone (compared on the parsed trees, at any depth)
  is in the output with exactly its original lines;
- Compose itself (`docker-compose config`) sees the same configuration for every service and key
  the fixes left alone;
- hardening the output again reproduces it byte for byte (nothing left to fix: the input comes back
  as it was, CRLF, tags, missing final newline and all).
`untouched_entries` and `compose_view` are also the fuzzers' oracles (tests/test_fuzz_compose.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compose_support import CORPUS, docker_compose, harden_compose
from ruamel.yaml import YAML

from generator.core.yamlio import load_yaml_text

TRICKY = {
    "bang-tags": (
        "services:\n"
        "  web:\n"
        "    image: nginx:1.27\n"
        "    environment:\n"
        "      FOO: ! null\n"
        "      MODE: ! '0755'\n"
        "      PLAIN: ! 0755\n"
        "    labels:\n"
        "      when: 2001-12-14t21:59:43.10-05:00\n"
        "      day: 2002-12-14\n"
        "      big: 1_000\n"
        "      octal: 0o755\n"
        "      tilde: ~\n"
    ),
    "indentation-and-blanks": (
        "services:\n"
        "  web:\n"
        "    image: nginx:1.27\n"
        "    ports:\n"
        "    - \"127.0.0.1:8080:80\"   \n"
        "    volumes:\n"
        "        - ./html:/usr/share/nginx/html:ro\n"
        "        - type: tmpfs\n"
        "          target: /tmp\n"
        "  db:\n"
        "    image: postgres:16   \n"
        "    volumes:\n"
        "      -   data:/var/lib/postgresql/data\n"
        "    environment: { POSTGRES_DB: app,  POSTGRES_USER: app }\n"
        "volumes:\n"
        "   data: {}\n"
    ),
    "anchor-comments": (
        "# shared settings\n"
        "x-common: &common # every service gets these\n"
        "  restart: unless-stopped   # keep running\n"
        "  labels: &labels\n"
        "    team: core\n"
        "services:\n"
        "  api:\n"
        "    <<: *common\n"
        "    image: example/api:1\n"
        "    labels: *labels\n"
        "  cache:   # the cache\n"
        "    <<: *common\n"
        "    image: redis:7\n"
        "    command: redis-server\n"
        "      --save 60 1\n"
        "      --loglevel warning\n"
    ),
    "crlf-no-final-newline": (
        "services:\r\n  web:\r\n    image: nginx:1.27\r\n    environment:\r\n      FOO: ! null\r\n"
        "    command: [\"nginx\", \"-g\", \"daemon off;\"]"
    ),
    "scalars-and-blocks": (
        "---\n"
        "services:\n"
        "  app:\n"
        "    image: \"example/app:2\"\n"
        "    entrypoint: |\n"
        "      #!/bin/sh\n"
        "      exec app   \n"
        "    command: >-\n"
        "      serve\n"
        "      --port 8000\n"
        "    environment:\n"
        "      - GREETING=grüße ☃\n"
        "      - 'QUOTED=a b'\n"
        "      - EMPTY\n"
        "    healthcheck:\n"
        "      test: [ \"CMD\", \"/app\", \"health\" ]\n"
        "      interval: 30s\n"
        "    x-note: " + "x" * 5000 + "\n"
        "...\n"
        "# after the end marker\n"
    ),
    "hardened-next-to-legacy": (
        "services:\n"
        "  done:\n"
        "    image: redis:7\n"
        "    environment:\n"
        "      FOO: ! null\n"
        "      MODE: ! '0755'\n"
        "    labels:\n"
        "    - \"when=2001-12-14t21:59:43.10-05:00\"\n"
        "    user: \"999:999\"\n"
        "    read_only: true\n"
        "    cap_drop: [ALL]\n"
        "    security_opt:\n"
        "    - no-new-privileges:true\n"
        "    healthcheck:\n"
        "      test: [CMD, redis-cli, ping]\n"
        "      interval: 30s\n"
        "      timeout: 5s\n"
        "      start_period: 30s\n"
        "      retries: 5\n"
        "    restart: on-failure:5\n"
        "    logging:\n"
        "      driver: json-file\n"
        "      options:\n"
        "        max-size: \"10m\"\n"
        "        max-file: \"3\"\n"
        "  legacy:\n"
        "    image: postgres:16\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: ${PG_PASSWORD}\n"
        "      FOO: ! null\n"
        "      MODE: ! '0755'\n"
        "    labels:\n"
        "      when: 2001-12-14t21:59:43.10-05:00   \n"
    ),
}
# Lines of the tricky files that no fix touches: each must come out exactly as it went in.
KEPT = ["      FOO: ! null", "      MODE: ! '0755'", "      PLAIN: ! 0755", "      when: 2001-12-14t21:59:43.10-05:00",
        "    - \"127.0.0.1:8080:80\"   ", "        - ./html:/usr/share/nginx/html:ro", "    image: postgres:16   ",
        "      -   data:/var/lib/postgresql/data", "x-common: &common # every service gets these",
        "  restart: unless-stopped   # keep running", "      --save 60 1", "    x-note: " + "x" * 5000, "...",
        "      test: [ \"CMD\", \"/app\", \"health\" ]", "      exec app   ", "   data: {}"]
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())
CASES = {**{name: text for name, text in TRICKY.items()},
         **{path.parent.name: path.read_text(encoding="utf-8") for path in CORPUS_FILES}}


# --- oracles (shared with the fuzzers) -----------------------------------------------------------


def _rt(text: str) -> Any:
    return YAML(typ="rt").load(text)


def _value(value: Any) -> str:
    """A value's identity for "did a fix change it": its content, in order (not its spelling)."""
    return json.dumps(value, default=repr)


def _bodies(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n")]


def _entry_lines(lines: list[str], line: int, column: int) -> list[str]:
    """The lines of the mapping entry whose key is at (LINE, COLUMN): the key's line and what is
    indented below it (an indentless list at the key's column too), without trailing comments/blanks."""
    end = line + 1
    while end < len(lines):
        text = lines[end]
        stripped = text.lstrip(" ")
        indent = len(text) - len(stripped)
        list_item = indent == column and (stripped == "-" or stripped.startswith("- "))
        if stripped and not stripped.startswith("#") and indent <= column and not list_item:
            break
        end += 1
    while end > line + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return lines[line:end]


def untouched_entries(original: str, output: str) -> Iterator[tuple[str, list[str]]]:
    """(path, original lines) of every block-mapping entry, at any depth, that the output has with
    the same value; `assert_untouched_kept` then requires those lines, unchanged, in the output."""
    lines = _bodies(original)

    def walk(before: Any, after: Any, path: str) -> Iterator[tuple[str, list[str]]]:
        if not isinstance(before, dict) or not isinstance(after, dict) or before.fa.flow_style():
            return
        for key in [k for k in before if k in before._ok]:
            if key not in after:
                continue
            line, column = before.lc.key(key)
            if _value(before[key]) == _value(after[key]):
                yield f"{path}/{key}", _entry_lines(lines, line, column)
            elif before.lc.value(key)[0] > line:  # a block value of its own (not an alias written inline)
                yield from walk(before[key], after[key], f"{path}/{key}")

    yield from walk(_rt(original), _rt(output), "")


def assert_untouched_kept(original: str, output: str) -> None:
    joined = "\n" + "\n".join(_bodies(output)) + "\n"
    for path, block in untouched_entries(original, output):
        assert "\n" + "\n".join(block) + "\n" in joined, f"{path}: untouched lines rewritten: {block!r}"


def compose_view(text: str, directory: Path) -> dict[str, Any]:
    """The services as Compose itself reads TEXT (`docker-compose config`, JSON), variables set."""
    path = directory / "compose.yaml"
    path.write_text(text, encoding="utf-8", newline="")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(directory)}
    env.update({name: "set-by-test" for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?!\w|:?-)", text)})
    result = subprocess.run([docker_compose(), "-f", str(path), "--project-directory", str(directory), "config",
                             "--format", "json", "--no-interpolate"], capture_output=True, text=True, env=env,
                            cwd=directory, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    services: dict[str, Any] = json.loads(result.stdout)["services"]
    return services


def assert_compose_agrees(original: str, output: str, directory: Path) -> None:
    """Compose sees the same value for each service (and each key of a service) the fixes left alone."""
    before_tree, after_tree = _rt(original)["services"], _rt(output)["services"]
    before, after = compose_view(original, directory), compose_view(output, directory)
    for name, service in before_tree.items():
        if _value(service) == _value(after_tree[name]):
            assert before[name] == after[name], f"{name}: untouched service reads differently"
            continue
        for key in service:
            untouched = key in after_tree[name] and _value(service[key]) == _value(after_tree[name][key])
            if untouched and key in before[name]:
                assert before[name][key] == after[name].get(key), f"{name}.{key}: untouched key reads differently"


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("name", list(CASES))
def test_only_lines_a_fix_touches_change(name: str, unsafe: bool) -> None:
    text = CASES[name]
    out = harden_compose(text, unsafe=unsafe).text
    assert out != text, "every case has something to fix"
    entries = list(untouched_entries(text, out))
    assert entries, "every case has entries no fix touches"
    assert_untouched_kept(text, out)


@pytest.mark.parametrize("name", list(TRICKY))
def test_tricky_lines_come_out_as_they_went_in(name: str) -> None:
    text = TRICKY[name]
    for unsafe in (False, True):
        out = harden_compose(text, unsafe=unsafe).text
        for line in KEPT:
            if line in _bodies(text):
                assert line in _bodies(out), f"rewritten: {line[:80]!r}"
        if "\r\n" in text:
            assert out.count("\r\n") == out.count("\n"), "inserted lines take the file's CRLF line ends"


@pytest.mark.parametrize("name", list(CASES))
def test_compose_reads_untouched_services_and_keys_the_same(name: str, tmp_path: Path) -> None:
    text = CASES[name]
    for unsafe in (False, True):
        assert_compose_agrees(text, harden_compose(text, unsafe=unsafe).text, tmp_path)


@pytest.mark.parametrize("name", list(CASES))
def test_nothing_left_to_fix_gives_the_input_back_byte_for_byte(name: str) -> None:
    for unsafe in (False, True):
        once = harden_compose(CASES[name], unsafe=unsafe).text
        again = harden_compose(once, unsafe=unsafe)
        assert not again.applied
        assert again.text == once


def test_the_non_specific_tag_reads_as_a_string_as_in_compose(tmp_path: Path) -> None:
    """`! null` is the string "null" for Compose (and the YAML spec), not null: hardcase reads it so
    too, in compose files and in every other YAML input."""
    text = "services:\n  web:\n    image: nginx:1.27\n    environment:\n      FOO: ! null\n      MODE: ! '0755'\n"
    assert compose_view(text, tmp_path)["web"]["environment"] == {"FOO": "null", "MODE": "0755"}
    assert load_yaml_text(text, "x")["services"]["web"]["environment"] == {"FOO": "null", "MODE": "0755"}
    out = harden_compose(text, unsafe=True).text
    assert compose_view(out, tmp_path)["web"]["environment"] == {"FOO": "null", "MODE": "0755"}


def test_a_comment_above_a_key_stays_there_when_the_list_before_it_grows() -> None:
    """ruamel keeps the comment lines after a list's last item with that item: a fix appending to the
    list put its new items between `# hardcase ignore=HC108` and the key it suppresses, and the
    suppression was lost on the next run."""
    text = ("services:\n  app:\n    image: redis:7\n    security_opt:\n      - label:disable\n"
            "    # hardcase ignore=HC108\n    cap_add:\n      - SYS_ADMIN\n")
    out = harden_compose(text, unsafe=False).text
    lines = out.splitlines()
    assert lines[lines.index("    cap_add:") - 1] == "    # hardcase ignore=HC108"
    assert "      - no-new-privileges:true" in lines
    assert "HC108" not in {v.rule_id for v in harden_compose(out, unsafe=False).remaining}


def test_a_merged_value_of_the_wrong_shape_is_fixed_in_its_anchor_without_a_traceback() -> None:
    """Found by the fuzzer: `logging` merged from an anchor where it is a string. The fix replaced it
    in the anchor, then read the service's stale merged view (still the string) and crashed."""
    text = ("x-common: &common\n  restart: unless-stopped\n  logging: driver:0 json-file\n"
            "services:\n  web:\n    <<: *common\n    image: nginx:1.27\n")
    out = harden_compose(text, unsafe=False).text
    assert _rt(out)["x-common"]["logging"]["options"] == {"max-size": "10m", "max-file": "3"}
    assert harden_compose(out, unsafe=False).text == out
