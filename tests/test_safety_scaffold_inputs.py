"""Issue #11, the generate flow's inputs: limits the engine would refuse are refused up front, odd
package.json files never trace back, unreadable paths are one line, and the Jinja bytecode cache is used
only from a directory that only this user controls."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scaffold_support import REPO, assert_one_line_error, load_yaml, run_cli, run_ok

from generator.engine import docker as engine
from tests.engine_support import MIRROR, require_engine

PRESET = "go-stdlib"
CPUS = os.cpu_count() or 1


# --- 5. memory and CPU limits within the engine's bounds -----------------------------------------------


@pytest.mark.parametrize("memory", ["1m", "5m"])
def test_a_memory_limit_below_the_engines_minimum_is_refused(tmp_path: Path, memory: str) -> None:
    message = assert_one_line_error(run_cli("new", tmp_path / "svc", "--preset", PRESET, "--no-input",
                                            "--set", f"memory={memory}"), 2, mentions="answer 'memory'")
    assert "6m" in message
    assert not (tmp_path / "svc").exists()


@pytest.mark.parametrize("cpus", [v for v in (str(CPUS + 1), f"{CPUS}.01", "64", "99.99") if float(v) > CPUS])
def test_a_cpu_limit_above_the_hosts_cpus_is_refused(tmp_path: Path, cpus: str) -> None:
    message = assert_one_line_error(run_cli("new", tmp_path / "svc", "--preset", PRESET, "--no-input",
                                            "--set", f"cpus={cpus}"), 2, mentions="answer 'cpus'")
    assert f"{CPUS} CPU" in message
    assert not (tmp_path / "svc").exists()


def test_limits_are_validated_in_answers_files_too(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yml"
    answers.write_text("memory: 2m\n")
    assert_one_line_error(run_cli("new", tmp_path / "svc", "--preset", PRESET, "--no-input", "--answers", answers),
                          2, mentions="answer 'memory'")


def boundary_project(tmp_path: Path) -> dict[str, str]:
    """The compose limits for the smallest memory and the most CPUs hardcase accepts."""
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", PRESET, "--no-input", "--set", "memory=6m", "--set", f"cpus={CPUS}")
    (service,) = load_yaml(dest / "compose.yaml")["services"].values()
    resources = service["deploy"]["resources"]
    return {"memory": resources["limits"]["memory"], "cpus": str(resources["limits"]["cpus"]),
            "memory_reservation": resources["reservations"]["memory"]}


def test_the_boundary_values_are_accepted_with_a_reservation_within_bounds(tmp_path: Path) -> None:
    limits = boundary_project(tmp_path)
    assert limits == {"memory": "6m", "cpus": str(CPUS), "memory_reservation": "6m"}


@pytest.mark.engine
def test_the_engine_accepts_what_hardcase_accepts_and_refuses_just_beyond(tmp_path: Path) -> None:
    require_engine()
    limits = boundary_project(tmp_path)
    image = f"{MIRROR}/library/debian:12-slim"

    def run(memory: str, reservation: str, cpus: str) -> engine.Result:
        return engine.docker("run", "--rm", "--memory", memory, "--memory-reservation", reservation,
                             "--cpus", cpus, image, "true", check=False, timeout=120)

    accepted = run(limits["memory"], limits["memory_reservation"], limits["cpus"])
    assert accepted.returncode == 0, accepted.stderr
    assert "Minimum memory" in run("5m", "5m", "1").stderr
    assert "Range of CPUs" in run("6m", "6m", str(CPUS + 1)).stderr


# --- 6. detection never traces back on an odd package.json ----------------------------------------------


@pytest.mark.parametrize("manifest", [
    '{"dependencies": 5}',
    '{"dependencies": "express"}',
    '{"dependencies": ["express"]}',
    '{"dependencies": null, "scripts": []}',
    '{"scripts": [], "name": 7}',
    "[]",
    '["express"]',
    "5",
    "null",
    "[" * 50_000 + "]" * 50_000,
    '{"a": ' * 50_000 + "1" + "}" * 50_000,
    "9" * 10_000,
    "\ufeff{}",
], ids=["deps-int", "deps-str", "deps-list", "deps-null", "scripts-list", "array", "array-express", "int",
        "null", "deep-array", "deep-object", "long-int", "bom"])
def test_an_odd_package_json_is_ignored_not_a_traceback(tmp_path: Path, manifest: str) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "package.json").write_text(manifest)
    run_ok("new", dest, "--no-input")
    assert load_yaml(dest / ".hardcase.yml")["language"] == "node"


def test_express_in_the_dependencies_is_still_detected(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    dest.mkdir()
    (dest / "package.json").write_text('{"dependencies": {"express": "^5"}}')
    run_ok("new", dest, "--no-input")
    assert load_yaml(dest / ".hardcase.yml")["framework"] == "express"


# --- 6. unreadable paths in the generate flow are one line ----------------------------------------------


def run_without_root_powers(*argv: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process that cannot bypass file permissions (root drops CAP_DAC_*)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv (util-linux) is needed to drop root's file-permission override")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "XDG_CACHE_HOME": str(home / "c"),
           "XDG_STATE_HOME": str(home / "s")}
    return subprocess.run([*prefix, sys.executable, "-m", "generator", *map(str, argv)], capture_output=True,
                          text=True, timeout=120, check=False, cwd=REPO, env=env)


def assert_one_line(proc: subprocess.CompletedProcess[str], mentions: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hardcase: error: "), proc.stderr
    assert mentions in lines[0], lines[0]


def test_new_under_a_directory_without_search_permission_is_one_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o000)
    try:
        proc = run_without_root_powers("new", locked / "svc", "--no-input", home=tmp_path / "home")
    finally:
        locked.chmod(0o700)
    assert_one_line(proc, "Permission denied")
    assert not (locked / "svc").exists()


def test_update_with_an_unreadable_policy_in_a_parent_is_one_line(tmp_path: Path) -> None:
    dest = tmp_path / "repo" / "svc"
    run_ok("new", dest, "--preset", PRESET, "--no-input")
    policy = tmp_path / "repo" / "hardcase-policy.yaml"
    policy.write_text("require: {read_only: true}\n")
    policy.chmod(0o000)
    assert_one_line(run_without_root_powers("update", dest, home=tmp_path / "home"), "hardcase-policy.yaml")


def test_update_of_a_project_without_search_permission_is_one_line(tmp_path: Path) -> None:
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", PRESET, "--no-input")
    dest.chmod(0o000)
    try:
        proc = run_without_root_powers("update", dest, home=tmp_path / "home")
    finally:
        dest.chmod(0o755)
    assert_one_line(proc, "Permission denied")


# --- 3. the Jinja bytecode cache: only from a private directory ----------------------------------------


def cache_dir(home: Path) -> Path:
    return home / "hardcase" / "jinja"


class Payload:
    """What an attacker writes into a cache file: unpickling it creates MARKER."""

    marker = ""

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def poison(directory: Path, marker: Path) -> int:
    from jinja2.bccache import bc_magic

    payload = Payload()
    payload.marker = str(marker)
    files = sorted(directory.glob("*.cache"))
    for path in files:
        path.write_bytes(bc_magic + pickle.dumps(payload))
    return len(files)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_the_cache_is_created_private_and_used(tmp_path: Path, cache_home: Path) -> None:
    run_ok("new", tmp_path / "a", "--preset", PRESET, "--no-input")
    directory = cache_dir(cache_home)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert list(directory.glob("*.cache")), "the cache was not written"


def test_a_poisoned_private_cache_is_loaded_the_control(tmp_path: Path, cache_home: Path) -> None:
    """The control for the tests below: the poison works when the directory passes the checks (only its
    owner could have written it), so the tests below fail if an unsafe directory were used."""
    run_ok("new", tmp_path / "a", "--preset", PRESET, "--no-input")
    marker = tmp_path / "PWNED"
    assert poison(cache_dir(cache_home), marker)
    run_ok("new", tmp_path / "b", "--preset", PRESET, "--no-input")
    assert marker.exists()


@pytest.mark.parametrize("spoil", ["group-writable", "world-writable", "other-owner", "symlink", "open-parent",
                                   "foreign-group-parent"])
def test_a_cache_directory_others_control_is_not_used(tmp_path: Path, cache_home: Path, spoil: str) -> None:
    run_ok("new", tmp_path / "a", "--preset", PRESET, "--no-input")
    directory = cache_dir(cache_home)
    marker = tmp_path / "PWNED"
    assert poison(directory, marker)
    if spoil == "group-writable":
        directory.chmod(0o770)
    elif spoil == "world-writable":
        directory.chmod(0o777)
    elif spoil == "other-owner":
        os.chown(directory, 65534, 65534)
    elif spoil == "open-parent":
        directory.parent.chmod(0o777)
    elif spoil == "foreign-group-parent":
        os.chown(directory.parent, -1, 65534)
        directory.parent.chmod(0o770)
    else:
        directory.rename(tmp_path / "elsewhere")
        os.symlink(tmp_path / "elsewhere", directory)
    before = sorted(p.name for p in (tmp_path / "elsewhere" if spoil == "symlink" else directory).iterdir())
    run_ok("new", tmp_path / "b", "--preset", PRESET, "--no-input")
    assert not marker.exists(), "a cache entry from a directory others control was unpickled"
    after = sorted(p.name for p in (tmp_path / "elsewhere" if spoil == "symlink" else directory).iterdir())
    assert after == before, "hardcase wrote into a cache directory others control"
    if spoil in ("group-writable", "world-writable"):
        assert directory.stat().st_mode & 0o777 in (0o770, 0o777), "an existing directory was chmod'ed into shape"


def test_a_parent_writable_by_the_users_own_group_is_fine(tmp_path: Path, cache_home: Path) -> None:
    """User-private groups (umask 002) make parents group-writable by the user's own group: still private."""
    run_ok("new", tmp_path / "a", "--preset", PRESET, "--no-input")
    directory = cache_dir(cache_home)
    os.chown(directory.parent, -1, os.getegid())
    directory.parent.chmod(0o770)
    marker = tmp_path / "PWNED"
    assert poison(directory, marker)
    run_ok("new", tmp_path / "b", "--preset", PRESET, "--no-input")
    assert marker.exists(), "the cache was not used"


def test_an_unusable_cache_home_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    run_ok("new", tmp_path / "svc", "--preset", PRESET, "--no-input")
    assert json.loads((tmp_path / "svc" / "seccomp.json").read_text())["defaultAction"]
