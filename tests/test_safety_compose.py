"""YAML inputs are bounded (issue #11, item 11): an alias bomb or deep nesting is refused at once with
one `hardcase: error:` line, never minutes of work or a RecursionError traceback.

A 400-byte compose file of nested aliases ("billion laughs") expands to 9^9 nodes: ruamel composes
it instantly (aliases share nodes), but every walk over the loaded tree (a rule reading values,
`str()`, a copy, a report) expands it again. Nesting a few thousand levels deep exhausts Python's
stack in ruamel's recursive composer. Every YAML file a user hands hardcase goes through the same
bounded loader (generator.core.yamlio): compose files for `check`, `harden` and `pin`, answers and
preset files for `new`, policies, `.hardcase-check.yaml` configs, package-versions files. Each is
tried here with each shape of attack, through the command line, under a one-second budget (and an
alarm at ten, so the old code fails instead of hanging).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from scaffold_support import assert_one_line_error, run_cli

MAX_DEPTH = 100  # generator.core.yamlio's bounds, as the issue sets them
MIN_NODE_LIMIT = 100_000
SERVICE = "services:\n  web:\n    image: nginx:1.27\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    """x-a .. x-i: each a list of WIDTH aliases of the one before; width^levels nodes expanded."""
    lines = ["x-a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    for previous, name in zip("abcdefghijklmnop", "bcdefghijklmnopq", strict=False):
        if len(lines) == levels:
            break
        lines.append(f"x-{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]")
    return "\n".join(lines) + "\n"


def merge_laughs(levels: int = 30) -> str:
    """Merge keys doubling at each level: `<<: [*m0, *m0]`."""
    lines = ["x-m0: &m0 {a: 1, b: 2}"]
    lines += [f"x-m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}], k{n}: {n}}}" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMBS = {
    "billion-laughs": laughs() + SERVICE + "    labels: *i\n",
    "laughs-unreferenced": laughs() + SERVICE,  # expanded in the document even if no service uses it
    "mapping-laughs": "x-a: &a {" + ", ".join(f"k{n}: lol" for n in range(9)) + "}\n"
                      + "".join(f"x-{b}: &{b} {{" + ", ".join(f"k{n}: *{a}" for n in range(9)) + "}\n"
                                for a, b in zip("abcdefgh", "bcdefghi", strict=True)) + SERVICE + "    labels: *i\n",
    "merge-keys": merge_laughs() + SERVICE + "    <<: *m29\n",
    "deep-flow": SERVICE + "    labels: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep-flow-mapping": SERVICE + "    labels: " + "{a: " * 3000 + "b" + "}" * 3000 + "\n",
    "deep-block": SERVICE + "    labels:\n" + "".join(" " * (6 + n) + f"k{n}:\n" for n in range(300)),
    "deep-sequence": SERVICE + "    command:\n      " + "- " * 3000 + "x\n",
    "alias-chain": "".join(f"x-{n}: &c{n} [" + (f"*c{n - 1}" if n else "1") + "]\n" for n in range(300)) + SERVICE,
    "recursive-alias": "x-a: &a [1, *a]\n" + SERVICE,
    "recursive-mapping": "x-a: &a {self: *a}\n" + SERVICE,
}
EXPECTED = {"billion-laughs": "alias", "laughs-unreferenced": "alias", "mapping-laughs": "alias",
            "merge-keys": "alias", "deep-flow": "nested", "deep-flow-mapping": "nested", "deep-block": "nested",
            "deep-sequence": "nested", "alias-chain": "nested", "recursive-alias": "recursive",
            "recursive-mapping": "recursive"}


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the body runs longer than SECONDS."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused_fast(command: Callable[[], object], mentions: str) -> str:
    started = time.perf_counter()
    with deadline(10):
        result = command()
    elapsed = time.perf_counter() - started
    message = assert_one_line_error(result)  # type: ignore[arg-type]
    assert mentions in message, message
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    return message


@pytest.mark.parametrize("name", list(BOMBS))
def test_compose_check_and_harden_refuse_bombs_at_once(name: str, tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    assert len(BOMBS[name]) < 64_000
    message = refused_fast(lambda: run_cli("check", path), EXPECTED[name])
    assert message.startswith(f"{path}: refused: ")
    refused_fast(lambda: run_cli("check", path, "--format", "json"), EXPECTED[name])
    refused_fast(lambda: run_cli("harden", path), EXPECTED[name])
    refused_fast(lambda: run_cli("harden", path, "-o", tmp_path / "out.yaml", "--unsafe-fixes"), EXPECTED[name])
    assert not (tmp_path / "out.yaml").exists()
    refused_fast(lambda: run_cli("pin", "--check", path), EXPECTED[name])


@pytest.mark.parametrize("name", ["billion-laughs", "deep-flow", "alias-chain", "recursive-alias"])
def test_every_user_yaml_input_is_bounded(name: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMBS[name], encoding="utf-8")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12-slim\nUSER 10001\n", encoding="utf-8")
    mentions = EXPECTED[name]
    refused_fast(lambda: run_cli("new", tmp_path / "a", "--answers", bomb, "--no-input"), mentions)  # .hardcase.yml
    refused_fast(lambda: run_cli("new", tmp_path / "p", "--preset", bomb, "--no-input"), mentions)
    refused_fast(lambda: run_cli("policy", "check", bomb), mentions)
    refused_fast(lambda: run_cli("check", dockerfile, "--policy", bomb), mentions)
    refused_fast(lambda: run_cli("check", dockerfile, "--config", bomb), mentions)
    refused_fast(lambda: run_cli("harden", dockerfile, "--unsafe-fixes", "--package-versions", bomb), mentions)
    assert not (tmp_path / "a").exists() and not (tmp_path / "p").exists()


def test_bounds_leave_room_for_real_files(tmp_path: Path) -> None:
    """The bounds are far from real compose files: 60 services merging one 40-node block, nested
    just under MAX_DEPTH, check and harden in bounded time."""
    shared = "x-common: &common\n  labels:\n" + "".join(f"    l{n}: v{n}\n" for n in range(20))
    services = "".join(f"  s{n}:\n    <<: *common\n    image: redis:7\n" for n in range(60))
    nested = "    x-deep: " + "[" * (MAX_DEPTH - 10) + "]" * (MAX_DEPTH - 10) + "\n"
    path = tmp_path / "compose.yaml"
    path.write_text(shared + "services:\n" + services + nested, encoding="utf-8")
    with deadline(60):
        assert run_cli("check", path).exit_code == 1
        assert run_cli("harden", path, "-o", tmp_path / "out.yaml").exit_code == 0


def test_an_expansion_just_under_the_limit_is_walked_in_bounded_time(tmp_path: Path) -> None:
    """What the limit buys: a file that expands to nearly MIN_NODE_LIMIT nodes is accepted, and every
    walk over it (rules, copies, the dump, the report) stays within seconds."""
    width = 10
    levels = 4  # x-d: 11,111 nodes expanded; 7 services use it: about 90,000 in all
    text = laughs(levels, width) + "services:\n" + "".join(
        f"  s{n}:\n    image: redis:7\n    labels: *d\n" for n in range(7))
    path = tmp_path / "compose.yaml"
    path.write_text(text, encoding="utf-8")
    with deadline(60):
        started = time.perf_counter()
        checked = run_cli("check", path)
        hardened = run_cli("harden", path, "-o", tmp_path / "out.yaml", "--unsafe-fixes")
    assert checked.exit_code == 1, checked.stderr
    assert hardened.exit_code == 0, hardened.stderr
    assert time.perf_counter() - started < 30


def test_a_repeated_anchor_prints_no_warning_from_a_real_process(tmp_path: Path) -> None:
    """A repeated anchor is legal YAML (the later one counts); ruamel warned about it on stderr, ten
    lines of its own before hardcase's answer."""
    import subprocess
    import sys

    from scaffold_support import REPO

    path = tmp_path / "compose.yaml"
    path.write_text("x-a: &a 1\nx-b: &a 2\nservices:\n  web:\n    image: nginx:1.27\n    labels: {n: *a}\n",
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "generator", "check", str(path)], capture_output=True, text=True,
                          timeout=60, check=False, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
