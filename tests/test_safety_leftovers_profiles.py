"""#11 leftovers in the profile flows: `seccomp learn` turns every refusal of the OS into one line, and
`seccomp check`/`diff`/`apparmor generate` turn odd input (valid JSON or YAML of the wrong shape, a
DIR that is not there) into one line or a reported problem, never a traceback.

Root bypasses file permissions, so the permission cases run the CLI in a child process without
CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv); the rest monkeypatch the OS boundary (kernel log,
printk_ratelimit, lock file, the final rename) and the engine, so no container is started.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyseccomp
import pytest

from generator.cli.main import Environment, main
from generator.core.errors import UsageError
from generator.engine import verify as verify_module
from generator.engine.verify import Project
from generator.profiles import kernel_audit, seccomp, seccomp_learn
from generator.profiles.kernel_audit import Hit

REPO = Path(__file__).resolve().parents[1]


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


def assert_one_line(code: int, err: str, mentions: str, exit_code: int = 2) -> str:
    assert code == exit_code, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hardcase: error: "), err
    assert mentions in lines[0], lines[0]
    return lines[0]


def run_without_root_powers(*argv: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process that cannot bypass file permissions (root drops CAP_DAC_*)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("setpriv (util-linux) is needed to drop root's file-permission override")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "HARDCASE_DOCKER": str(home / "no-docker")}  # should anything reach the engine, it fails fast
    return subprocess.run([*prefix, sys.executable, "-m", "generator", *map(str, argv)], capture_output=True,
                          text=True, timeout=120, check=False, cwd=REPO, env=env)


def make_project(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text("FROM scratch\n")
    (directory / "compose.yaml").write_text("services:\n  web:\n    image: web:1\n")
    return directory


# --- seccomp learn: the OS refuses -------------------------------------------------------------------


def test_learn_refuses_an_unwritable_output_directory_before_any_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "svc")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        proc = run_without_root_powers("seccomp", "learn", project, "-o", locked / "p.json", "--no-build",
                                       home=tmp_path / "home")
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"hardcase: error: cannot write {locked}/p.json: {locked} is not writable\n"


def test_learn_in_a_project_it_cannot_search_is_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "svc")
    project.chmod(0o000)
    try:
        proc = run_without_root_powers("seccomp", "learn", project, "-o", tmp_path / "p.json", "--no-build",
                                       home=tmp_path / "home")
    finally:
        project.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == f"hardcase: error: seccomp learn: {project}/Dockerfile: Permission denied\n"


@pytest.fixture
def offline_learn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`seccomp learn` up to the recording with the host, the engine and the runs faked: a run 'sees'
    read and write. Returns the project."""
    native = pyseccomp.system_arch()
    calls = [pyseccomp.resolve_syscall(native, name) for name in ("read", "write")]

    def one_run(*args: Any) -> tuple[list[Hit], str, Any]:
        return [Hit(1, native, n, None) for n in calls], "c0ffee", SimpleNamespace(lost_records=0, dropped_messages=0)

    monkeypatch.setattr(seccomp_learn, "_check_host", lambda: None)
    monkeypatch.setattr(seccomp_learn.engine, "ensure_engine", lambda: None)
    monkeypatch.setattr(seccomp_learn.engine, "docker", lambda *a, **k: SimpleNamespace(returncode=0))
    monkeypatch.setattr(seccomp_learn, "_one_run", one_run)
    monkeypatch.setattr(kernel_audit, "LOCK_FILE", tmp_path / "lock" / "learn.lock")
    return make_project(tmp_path / "svc")


def learn_offline(project: Path) -> tuple[int, str, str]:
    return run("seccomp", "learn", project, "--no-build", "--no-verify", "--runs", "1")


def test_the_offline_learn_fixture_writes_a_profile(offline_learn: Path) -> None:
    code, out, err = learn_offline(offline_learn)
    assert (code, err) == (0, ""), err
    profile = json.loads((offline_learn / "seccomp.learned.json").read_text())
    assert {"read", "write"} <= set(seccomp_learn.allowed_names(profile))
    assert out.startswith(f"{offline_learn}/seccomp.learned.json: ")


def test_a_failing_final_write_is_one_line(offline_learn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, f"cannot write {offline_learn}/seccomp.learned.json: Read-only file system")
    assert not (offline_learn / "seccomp.learned.json").exists()


def test_an_os_error_during_the_runs_is_one_line(offline_learn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the runs read (secret files, the compose file copy) can be refused by the OS mid-way."""
    def unreadable(*args: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(offline_learn / "secrets" / "db"))

    monkeypatch.setattr(seccomp_learn, "_one_run", unreadable)
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, f"seccomp learn: {offline_learn}/secrets/db: Permission denied")


def test_a_symlink_as_lock_file_is_not_followed(offline_learn: Path, tmp_path: Path) -> None:
    """/run/lock is writable by everyone: a link planted there must not make root create its target."""
    victim = tmp_path / "etc-nologin"
    kernel_audit.LOCK_FILE.parent.mkdir()
    kernel_audit.LOCK_FILE.symlink_to(victim)
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, "a symlink; refusing to follow it")
    assert not victim.exists() and not (offline_learn / "seccomp.learned.json").exists()


def test_a_lock_directory_that_cannot_be_made_is_one_line(offline_learn: Path) -> None:
    kernel_audit.LOCK_FILE.parent.write_text("a file where the lock directory goes\n")
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, f"cannot open the lock {kernel_audit.LOCK_FILE}: ")


def test_a_fifo_as_lock_file_neither_blocks_nor_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock = tmp_path / "learn.lock"
    os.mkfifo(lock)
    monkeypatch.setattr(kernel_audit, "LOCK_FILE", lock)
    outcome: list[BaseException | None] = []

    def take_the_lock() -> None:
        try:
            with kernel_audit.exclusive():
                outcome.append(None)
        except BaseException as exc:  # the test reports whatever came out
            outcome.append(exc)

    worker = threading.Thread(target=take_the_lock, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "opening the lock blocked on a FIFO"
    assert isinstance(outcome[0], UsageError) and "a FIFO, not a regular file" in str(outcome[0])


def test_the_host_check_opens_the_rate_limit_before_anything_is_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """access(2) says yes to a read-only /proc/sys for root; opening it for writing says no."""
    project = make_project(tmp_path / "svc")
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(kernel_audit, "KMSG", kmsg)
    monkeypatch.setattr(kernel_audit, "RATELIMIT", tmp_path)  # a directory: opening it for writing fails
    monkeypatch.setenv("HARDCASE_DOCKER", str(tmp_path / "no-docker"))
    code, _, err = run("seccomp", "learn", project)
    assert_one_line(code, err, f"cannot set kernel.printk_ratelimit ({tmp_path}): Is a directory")


def test_an_unreadable_kernel_log_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(kernel_audit, "KMSG", tmp_path / "no-kmsg")
    with pytest.raises(UsageError, match=r"cannot read the kernel log .*no-kmsg: No such file or directory"):
        kernel_audit.check_host()
    with pytest.raises(UsageError, match="cannot read the kernel log"), kernel_audit.Recorder():
        pass


def test_the_recorder_reports_what_the_os_refuses_and_restores_the_rate_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kmsg, ratelimit = tmp_path / "kmsg", tmp_path / "ratelimit"
    kmsg.write_text("")
    ratelimit.write_text("5\n")
    monkeypatch.setattr(kernel_audit, "KMSG", kmsg)
    monkeypatch.setattr(kernel_audit, "RATELIMIT", tmp_path)
    with pytest.raises(UsageError, match=r"cannot set kernel\.printk_ratelimit"), kernel_audit.Recorder():
        pass
    # The reading thread meets an error: no thread traceback, one line from the `with`, limit restored.
    monkeypatch.setattr(kernel_audit, "RATELIMIT", ratelimit)
    thread_errors: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", thread_errors.append)
    real_read = os.read

    def failing_read(fd: int, size: int) -> bytes:
        if fd == recorder._fd:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_read(fd, size)

    monkeypatch.setattr(kernel_audit.os, "read", failing_read)
    recorder = kernel_audit.Recorder()
    with pytest.raises(UsageError, match=re.escape(f"cannot read the kernel log {kmsg}: Invalid argument")), recorder:
        assert ratelimit.read_text() == "0\n"
        assert recorder._thread is not None
        recorder._thread.join(timeout=10)  # a regular file is always readable: the thread reads and fails
        assert not recorder._thread.is_alive()
    assert thread_errors == [] and ratelimit.read_text() == "5\n"


def test_verify_under_the_learned_profile_works_from_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hardcase seccomp learn` with its default DIR, `.`: the project copy needs a name of its own."""
    project_dir = make_project(tmp_path / "svc")
    monkeypatch.chdir(project_dir)
    seen: list[Path] = []

    def fake_verify(copy: Path, **kwargs: Any) -> str:
        seen.append(copy)
        assert (copy / "Dockerfile").read_text() == "FROM scratch\n"
        assert f"seccomp={tmp_path / 'p.json'}" in (copy / "compose.yaml").read_text()
        return "card"

    monkeypatch.setattr(verify_module, "verify", fake_verify)
    project = Project(Path("."), "web", {"image": "web:1"}, {"services": {"web": {"image": "web:1"}}}, {})
    assert seccomp_learn.verify_under(project, tmp_path / "p.json", lambda message: None) == "card"
    assert [copy.name for copy in seen] == ["svc"]


def test_a_service_that_is_not_a_mapping_is_one_line(offline_learn: Path) -> None:
    (offline_learn / "compose.yaml").write_text("services:\n  web: [1]\n")
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, "service 'web' must be a mapping")
    (offline_learn / "compose.yaml").write_text("services:\n  web: {image: web:1}\n")
    (offline_learn / ".hardcase.yml").write_text("- not answers\n")
    code, _, err = learn_offline(offline_learn)
    assert_one_line(code, err, ".hardcase.yml: expected a mapping of answers")


# --- seccomp check / diff: JSON of the wrong shape ---------------------------------------------------

GOOD = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}


def rule(**changes: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                             **changes}]}


WRONG_SHAPES: dict[str, tuple[Any, str]] = {
    "action-list": ({"defaultAction": [], "syscalls": []}, "defaultAction [] is not a seccomp action"),
    "action-object": ({"defaultAction": {"a": 1}, "syscalls": []}, "defaultAction {'a': 1} is not"),
    "archmap-number": ({**GOOD, "archMap": 5}, "archMap 5 must be a list"),
    "archmap-arch-list": ({**GOOD, "archMap": [{"architecture": ["x"]}]}, "names an unknown architecture"),
    "archmap-subs-nested": ({**GOOD, "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                                                  "subArchitectures": [["SCMP_ARCH_X86"]]}]},
                            "names an unknown architecture"),
    "architectures-number": ({**GOOD, "architectures": 5}, "architectures 5 must list known architectures"),
    "architectures-string": ({**GOOD, "architectures": "SCMP_ARCH_X86_64"}, "must list known architectures"),
    "rule-action-list": (rule(action=[]), "syscalls[0]: action [] is not a seccomp action"),
    "op-list": (rule(args=[{"index": 0, "value": 1, "op": []}]), "bad argument comparison"),
    "includes-arches-number": (rule(includes={"arches": 5}), "arches and caps must be lists of strings"),
    "includes-caps-string": (rule(includes={"caps": "CAP_SYS_ADMIN"}), "arches and caps must be lists"),
    "minkernel-huge": (rule(excludes={"minKernel": "9" * 5000}), "minKernel '9999"),
    "minkernel-list": (rule(excludes={"minKernel": [4, 8]}), "minKernel [4, 8] must be MAJOR.MINOR"),
    "huge-errno": ({**GOOD, "defaultErrnoRet": 10 ** 40}, "defaultErrnoRet must be an errno number"),
    "flags-string": ({**GOOD, "flags": "SECCOMP_FILTER_FLAG_LOG"}, "'flags' must be a list of strings"),
    "comment-object": (rule(comment={"a": 1}), "'comment' must be a string"),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_a_profile_of_the_wrong_shape_is_a_problem_not_a_crash(tmp_path: Path, case: str) -> None:
    profile, expected = WRONG_SHAPES[case]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    code, out, err = run("seccomp", "check", path)
    assert (code, err) == (1, ""), err
    assert expected in out and out.startswith(f"{path}: ")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(seccomp.build_profile("go")))
    code, out, err = run("seccomp", "diff", good, path)
    assert out == "" and expected in assert_one_line(code, err, f"{path}: ")


@pytest.mark.parametrize(("text", "expected"), [
    ("1" * 5000, "not a usable JSON profile (a number too long to read)"),
    ('{"defaultAction": ' + "9" * 5000 + "}", "a number too long to read"),
    ("[" * 100_000, "not a usable JSON profile (nested too deeply)"),
])
def test_json_python_cannot_hold_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(text)
    for argv in (("seccomp", "check", path), ("seccomp", "diff", path, path)):
        code, out, err = run(*argv)
        assert out == "" and expected in assert_one_line(code, err, str(path))


def test_names_libseccomp_cannot_take_are_unknown_names(tmp_path: Path) -> None:
    """A lone surrogate cannot even be encoded for libseccomp; a 100000-character name is no name either."""
    path = tmp_path / "p.json"
    path.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "\\ud800", "'
                    + "a" * 100_000 + '", "re\\u0000ad"], "action": "SCMP_ACT_ALLOW"}]}')
    code, out, err = run("seccomp", "check", path)
    assert (code, err) == (1, ""), err
    names = [line.removeprefix(f"{path}: syscalls[0]: unknown syscall name ") for line in out.splitlines()]
    assert names == [f"'{'a' * 100_000}'", "'re\\x00ad'", "'\\ud800'"]


def test_many_unknown_names_are_checked_quickly(tmp_path: Path) -> None:
    """Suggestions cost a fuzzy match each: a profile of typos does not turn check into a hang."""
    import time

    path = tmp_path / "p.json"
    path.write_text(json.dumps(rule(names=[f"read{i}" for i in range(3000)])))  # each one close to `read`
    started = time.monotonic()
    code, out, _ = run("seccomp", "check", path)
    assert code == 1 and out.count("unknown syscall name") == 3000
    assert out.count("(did you mean 'read'?)") == 20 and time.monotonic() - started < 20


# --- apparmor generate: odd projects -------------------------------------------------------------------


def project_with(tmp_path: Path, files: dict[str, str]) -> Path:
    directory = tmp_path / "proj"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_apparmor_for_a_dir_that_is_not_there_or_not_a_dir(tmp_path: Path) -> None:
    assert_one_line(*run("apparmor", "generate", tmp_path / "nope")[::2], f"{tmp_path}/nope: no such directory")
    (tmp_path / "file").write_text("x\n")
    assert_one_line(*run("apparmor", "generate", tmp_path / "file")[::2], f"{tmp_path}/file: not a directory")


@pytest.mark.parametrize(("files", "expected"), [
    ({".hardcase.yml": "- a list\n"}, ".hardcase.yml: expected a mapping of answers"),
    ({".hardcase.yml": "name: web\nwritable_paths: /tmp\n"}, "`writable_paths` must be a list of paths"),
    ({"compose.yaml": "services:\n  web: [1]\n"}, "service 'web' must be a mapping"),
    ({"compose.yaml": "services:\n  web:\n    tmpfs: 5\n"}, "`web.tmpfs` must be a path or a list of paths"),
    ({".hardcase.yml": "name: web\n", "compose.yaml": "- 1\n"}, "expected a mapping with `services`"),
    ({"compose.yaml": 'services:\n  "we b\\n": {}\n'}, "is not a Compose service name"),
])
def test_apparmor_for_a_project_of_the_wrong_shape_is_one_line(
        tmp_path: Path, files: dict[str, str], expected: str) -> None:
    directory = project_with(tmp_path, files)
    for extra in ([], ["--name", "custom"]):
        code, out, err = run("apparmor", "generate", directory, *extra)
        assert out == "" and expected in assert_one_line(code, err, str(directory))


def test_a_service_name_cannot_add_rules_to_the_profile(tmp_path: Path) -> None:
    """The service name is written into the profile's first comment: a newline would start a rule."""
    directory = project_with(tmp_path, {".hardcase.yml": 'name: "web\\n  /** rwx,"\nwritable_paths: [/tmp]\n'})
    code, out, err = run("apparmor", "generate", directory, "--name", "custom")
    assert out == "" and "is not a Compose service name" in assert_one_line(code, err, ".hardcase.yml")
