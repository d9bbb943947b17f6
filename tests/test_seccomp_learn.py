"""seccomp learn without an engine: reading audit lines, attributing them, and the profile it writes.

The end-to-end run in a real engine is in test_e2e_engine.py (it reuses that module's built service).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pyseccomp
import pytest

from generator.cli.main import Environment, main
from generator.core.errors import UsageError
from generator.profiles import seccomp, seccomp_learn
from generator.profiles.kernel_audit import AUDIT_ARCH_X32, Hit, parse_record
from generator.profiles.seccomp_check import validate_profile

# A line as Linux 6.x prints it to the kernel log (no auditd) for a SCMP_ACT_LOG filter.
AUDIT = ('audit: type=1326 audit(1764150000.123:42): auid=4294967295 uid=65532 gid=65532 ses=4294967295 '
         'subj=unconfined pid=4242 comm="server" exe="/app/server" sig=0 arch=c000003e syscall=43 compat=0 '
         'ip=0x4a1b2c code=0x7ffc0000')
CONTAINER = "0123456789abcdef" * 4


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


def test_parse_record_reads_pid_arch_and_number() -> None:
    assert parse_record(AUDIT) == (4242, 0xC000003E, 43)
    x32 = AUDIT.replace("syscall=43", f"syscall={0x40000000 + 43}")
    assert parse_record(x32) == (4242, AUDIT_ARCH_X32, 43)
    assert parse_record(AUDIT.replace("type=1326", "type=1400")) is None
    assert parse_record("audit: audit_lost=3 audit_rate_limit=0 audit_backlog_limit=64") is None
    assert parse_record(AUDIT.replace("pid=4242", "ppid=1 pid=77")) == (77, 0xC000003E, 43)


def test_lines_are_attributed_to_the_container_by_cgroup() -> None:
    native = pyseccomp.system_arch()
    read, write = (pyseccomp.resolve_syscall(native, name) for name in ("read", "write"))
    hits = [
        Hit(1, native, read, f"12:pids:/docker/{CONTAINER}\n"),
        Hit(2, native, write, None),  # exited before its line was read: the recording window attributes it
        Hit(3, native, 9999, f"12:pids:/docker/{'f' * 64}\n"),  # another container: dropped
        Hit(4, native, write, "0::/user.slice\n"),  # a host process: dropped
        Hit(5, AUDIT_ARCH_X32 if native == pyseccomp.Arch.X86_64 else pyseccomp.Arch.ARM, 3, None),
    ]
    names, other, foreign = seccomp_learn._names(hits, CONTAINER)
    assert names == {"read", "write"} and foreign == 2 and len(other) == 1


def test_learned_profile_allows_what_was_seen_plus_the_common_set_and_nothing_dangerous() -> None:
    observed = {"accept4", "bind", "listen", "socket", "clone", "epoll_wait", "ptrace", "openat"}
    profile, refused = seccomp_learn.build_learned_profile(observed, "SCMP_ARCH_X86_64", "test")
    assert refused == ["ptrace"]
    allowed = set(seccomp_learn.allowed_names(profile))
    common = {n for g in seccomp.syscall_groups("go")[:4] for n in g.syscalls} - {"clone3"}
    assert allowed == (observed - {"ptrace"}) | common
    assert profile["architectures"] == ["SCMP_ARCH_X86_64"] and "archMap" not in profile
    rules = profile["syscalls"]
    assert [r["args"][0]["value"] for r in rules if r["names"] == ["socket"]] == sorted(seccomp.SOCKET_FAMILIES)
    assert next(r for r in rules if r["names"] == ["clone"])["args"][0]["value"] == seccomp.CLONE_NAMESPACE_FLAGS
    assert next(r for r in rules if r["names"] == ["clone3"])["errnoRet"] == seccomp.ENOSYS
    assert validate_profile(profile) == []
    without_socket, _ = seccomp_learn.build_learned_profile({"read"}, "SCMP_ARCH_X86_64", "test")
    assert not any(r["names"] == ["socket"] for r in without_socket["syscalls"])


def test_the_logging_profile_logs_everything_but_clone3() -> None:
    profile = seccomp_learn.learn_profile()
    assert profile["defaultAction"] == "SCMP_ACT_LOG"
    assert profile["syscalls"] == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                                    "comment": "as in the enforced profile: glibc falls back to clone"}]


def test_docker_default_count_is_measured_from_the_bundled_profile() -> None:
    count = seccomp_learn.docker_default_count()
    assert 280 <= count <= 310  # ≈300 on x86_64: names that exist there, for a container without capabilities
    assert count > len(seccomp.allowed_syscalls("python", "x86_64")) * 2


def test_learn_refuses_bad_input_before_touching_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run("seccomp", "learn", str(tmp_path))
    assert code == 2 and "needs a Dockerfile and a compose.yaml" in err and err.count("\n") == 1
    (tmp_path / "seccomp.learned.json").write_text("{}")
    code, _, err = run("seccomp", "learn", str(tmp_path))
    assert code == 3 and "use --force" in err
    assert (tmp_path / "seccomp.learned.json").read_text() == "{}"
    code, _, err = run("seccomp", "learn", str(tmp_path), "--runs", "0", "--force")
    assert code == 2 and "--runs" in err
    code, _, err = run("seccomp", "learn", str(tmp_path), "--seconds", "-1")
    assert code == 2 and "--seconds" in err


def test_learn_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: web:1\n")
    monkeypatch.setattr(seccomp_learn.os, "geteuid", lambda: 1000)
    code, _, err = run("seccomp", "learn", str(tmp_path))
    assert code == 2 and err == ("hardcase: error: seccomp learn must run as root: it reads the kernel log "
                                 "(/dev/kmsg) and sets kernel.printk_ratelimit while it records\n")


def test_learn_without_an_engine_is_a_one_line_engine_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: web:1\n")
    monkeypatch.setattr(seccomp_learn, "_check_host", lambda: None)
    monkeypatch.setenv("HARDCASE_DOCKER", str(tmp_path / "no-docker"))
    code, _, err = run("seccomp", "learn", str(tmp_path))
    assert code == 4 and err.startswith("hardcase: error: ") and err.count("\n") == 1
    assert "no-docker" in err


def test_command_workload_runs_without_a_shell_and_sees_the_ports(tmp_path: Path) -> None:
    marker = tmp_path / "ports"
    script = tmp_path / "drive.py"
    script.write_text("import os, sys\nopen(sys.argv[1], 'w').write(os.environ['HARDCASE_LEARN_PORTS'])\n")
    # `; touch` would run in a shell: here it is only two more arguments for the script.
    command = f"{sys.executable} {script} {marker} ; touch {tmp_path / 'injected'}"
    seccomp_learn._drive(seccomp_learn.Workload("command", command=command), [8080, 9100], lambda m: None)
    assert marker.read_text() == "8080,9100"
    assert not (tmp_path / "injected").exists()
    with pytest.raises(UsageError, match="workload command exited with 3"):
        seccomp_learn._drive(seccomp_learn.Workload("command", command=f"{sys.executable} -c 'raise SystemExit(3)'"),
                             [], lambda m: None)


def test_seconds_workload_waits_and_says_where_to_send_traffic() -> None:
    messages: list[str] = []
    started = time.monotonic()
    seccomp_learn._drive(seccomp_learn.Workload("seconds", seconds=0.3), [8000], messages.append)
    assert time.monotonic() - started >= 0.3
    assert messages == ["recording for 0.3 s: send traffic to http://127.0.0.1:8000/"]
