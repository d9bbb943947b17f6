"""The seccomp profiles: shape, tightness, libseccomp compilation, and real kernel behaviour.

Kernel tests load a generated profile into a *child* process (never the test runner) and report
what the kernel answered as JSON.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from generator.core.yamlio import load_yaml_file
from generator.profiles import seccomp, seccomp_check

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ("python", "node", "go")
# The clone/clone3 rules of Docker's default profile (moby/profiles seccomp/default.json v0.2.3,
# Apache-2.0), minus their CAP_SYS_ADMIN/s390 gates: hardcase never grants CAP_SYS_ADMIN.
DOCKER_CLONE_ARGS = [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]
MACHINE = os.uname().machine
SYSCALL_NUMBERS = {  # clone, clone3, unshare
    "x86_64": {"clone": 56, "clone3": 435, "unshare": 272},
    "aarch64": {"clone": 220, "clone3": 435, "unshare": 97},
}


def _minimal(names: list[str], **rule: Any) -> dict[str, Any]:
    return {"defaultAction": "SCMP_ACT_ERRNO", "archMap": seccomp.build_profile("go")["archMap"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW", **rule}]}


def test_runtimes() -> None:
    assert seccomp.RUNTIMES == ("python", "node", "go", "java", "rust", "dotnet", "static")


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_groups_come_from_data_with_reasons(runtime: str) -> None:
    groups = seccomp.syscall_groups(runtime)
    names = [g.name for g in groups]
    assert {"runc-post-filter", "docker-init"} <= set(names)
    assert len(names) == len(set(names)) > 4
    for group in groups:
        assert len(group.reason) > 40, group.name
        assert group.syscalls and list(group.syscalls) == sorted(set(group.syscalls))
    with pytest.raises(dataclasses.FrozenInstanceError):
        groups[0].name = "x"  # type: ignore[misc]
    assert seccomp.allowed_syscalls(runtime, "x86_64") == frozenset().union(
        *(g.syscalls for g in groups)) - {"clone3"}


def test_unknown_runtime_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown runtime"):
        seccomp.build_profile("cobol")


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_profile_shape(runtime: str) -> None:
    profile = seccomp.build_profile(runtime)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["archMap"] == [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ]
    rules = profile["syscalls"]
    clone = [r for r in rules if "clone" in r["names"]]
    assert len(clone) == 1 and clone[0]["action"] == "SCMP_ACT_ALLOW"
    assert clone[0]["args"] == DOCKER_CLONE_ARGS
    clone3 = [r for r in rules if "clone3" in r["names"]]
    assert len(clone3) == 1 and clone3[0]["names"] == ["clone3"] and "args" not in clone3[0]
    assert clone3[0]["action"] == "SCMP_ACT_ERRNO" and clone3[0]["errnoRet"] == 38
    for rule in rules:
        assert rule["names"] == sorted(rule["names"])
        if rule["action"] == "SCMP_ACT_ERRNO":
            assert "errnoRet" in rule  # Docker 20.10 ignores defaultErrnoRet
    sockets = [r for r in rules if r["names"] == ["socket"]]
    assert sorted(r["args"][0]["value"] for r in sockets) == [1, 2, 10, 16]
    assert all("socket" not in r["names"] or r.get("args") for r in rules)


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_no_dangerous_syscall_is_allowed(runtime: str) -> None:
    profile = seccomp.build_profile(runtime)
    assert not seccomp.allowed_syscalls(runtime) & seccomp.DANGEROUS
    assert seccomp_check.dangerous_allowed(profile) == []
    for name in ("mount", "unshare", "setns", "ptrace", "bpf", "keyctl", "io_uring_setup", "userfaultfd"):
        assert name in seccomp.DANGEROUS


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_allowlists_are_tight(runtime: str) -> None:
    union = seccomp.allowed_syscalls(runtime)
    x86, arm = seccomp.allowed_syscalls(runtime, "x86_64"), seccomp.allowed_syscalls(runtime, "aarch64")
    assert x86 <= union and arm == union
    assert len(union) <= 150
    if runtime not in ("java", "dotnet"):
        assert len(union) <= 100


def test_go_is_the_smallest_measured_profile() -> None:
    counts = {runtime: len(seccomp.allowed_syscalls(runtime)) for runtime in MEASURED}
    assert min(counts, key=lambda runtime: counts[runtime]) == "go"


def test_denied_names_stay_denied() -> None:
    for runtime in seccomp.RUNTIMES:
        data = load_yaml_file(seccomp.DATA_DIR / f"{runtime}.yaml")
        for entry in data.get("denied") or []:
            assert not set(entry["names"]) & seccomp.allowed_syscalls(runtime), runtime
    assert "io_uring_setup" not in seccomp.allowed_syscalls("node")
    assert "pkey_alloc" not in seccomp.allowed_syscalls("node")


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_render_is_deterministic_json(runtime: str) -> None:
    text = seccomp.render_profile(runtime)
    assert text == seccomp.render_profile(runtime)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == seccomp.build_profile(runtime)
    assert text.startswith('{\n  "defaultAction"')


@pytest.mark.parametrize("runtime", seccomp.RUNTIMES)
def test_profile_compiles_for_x86_64_and_aarch64(runtime: str) -> None:
    assert seccomp_check.validate_profile(seccomp.build_profile(runtime)) == []


@pytest.mark.parametrize("main, pfc_arch", [("SCMP_ARCH_X86_64", "x86_64"), ("SCMP_ARCH_AARCH64", "aarch64")])
def test_compiled_filter_holds_the_clone_mask_and_clone3_enosys(main: str, pfc_arch: str) -> None:
    import pyseccomp

    flt, problems = seccomp_check._build_filter(pyseccomp, seccomp.build_profile("python"), main, ())
    assert problems == []
    with tempfile.TemporaryFile("w+") as pfc:
        flt.export_pfc(pfc)
        pfc.seek(0)
        text = pfc.read()
    assert f"# filter for arch {pfc_arch}" in text
    # clone is allowed only without namespace flags, on the main arch and each sub-arch
    masks = re.findall(r"if \(\$a0(?:\.lo32)? & 0x7e020000 == 0\)", text)
    assert len(masks) == text.count("# filter for arch") >= 2
    clone3 = pyseccomp.resolve_syscall(getattr(pyseccomp.Arch, main.removeprefix("SCMP_ARCH_")), "clone3")
    assert f"if ($syscall == {clone3})\n    action ERRNO(38);" in text
    if pfc_arch == "x86_64":
        assert "# filter for arch x86 " in text and "# filter for arch x32 " in text
        assert '"ppoll"' not in text  # the arm64-only rule is not applied on amd64 hosts
    else:
        assert "# filter for arch arm " in text and '"ppoll"' in text


def test_arm64_replacements_cover_every_x86_only_name() -> None:
    import pyseccomp

    equivalents = load_yaml_file(seccomp.DATA_DIR / "common.yaml")["arm64_equivalents"]
    for runtime in seccomp.RUNTIMES:
        for name in seccomp.allowed_syscalls(runtime):
            on_x86 = pyseccomp.resolve_syscall(pyseccomp.Arch.X86_64, name) >= 0
            on_arm = pyseccomp.resolve_syscall(pyseccomp.Arch.AARCH64, name) >= 0
            assert on_x86 or on_arm, name
            if not on_arm:
                assert name in equivalents, f"{runtime}: {name} has no aarch64 replacement listed"
                assert set(equivalents[name]) <= seccomp.allowed_syscalls(runtime, "aarch64")
    assert "ppoll" in seccomp.allowed_syscalls("python", "aarch64")
    assert "ppoll" not in seccomp.allowed_syscalls("python", "x86_64")


def test_validate_catches_an_unknown_name() -> None:
    problems = seccomp_check.validate_profile(_minimal(["read", "opne"]))
    assert problems == ["syscalls[0]: unknown syscall name 'opne' (did you mean 'open'?)"]


def test_validate_accepts_syscalls_newer_than_libseccomp_2_5_4() -> None:
    assert seccomp_check.validate_profile(_minimal(["read", "cachestat", "mseal"])) == []


@pytest.mark.parametrize("profile, expected", [
    ([], "not a JSON object"),
    ({"syscalls": []}, "defaultAction None is not a seccomp action"),
    ({"defaultAction": "SCMP_ACT_ERRNO"}, "'syscalls' must be a list"),
    (_minimal(["read"], action="ALLOW"), "action 'ALLOW' is not a seccomp action"),
    ({**_minimal([]), "syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}, "'names' must be"),
    (_minimal(["read"], errnoRet=38), "errnoRet needs SCMP_ACT_ERRNO"),
    (_minimal(["read"], errnoret=38), "unknown key 'errnoret'"),
    (_minimal(["read"], args=[{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]), "bad argument comparison"),
    (_minimal(["read"], args=[{"index": 0, "value": 1, "op": "EQ"}]), "bad argument comparison"),
    (_minimal(["read"], includes={"arch": ["arm64"]}), "'includes' may only hold"),
    ({**_minimal(["read"]), "archMap": [{"architecture": "SCMP_ARCH_Z80"}]}, "unknown architecture"),
    ({**_minimal(["read"]), "defaultErrnoRet": -1}, "defaultErrnoRet"),
])
def test_validate_catches_malformed_profiles(profile: Any, expected: str) -> None:
    problems = seccomp_check.validate_profile(profile)
    assert any(expected in p for p in problems), problems


def test_validate_and_dangerous_allowed_catch_a_dangerous_allowance() -> None:
    profile = seccomp.build_profile("python")
    profile["syscalls"].append({"names": ["ptrace", "read"], "action": "SCMP_ACT_ALLOW"})
    assert seccomp_check.dangerous_allowed(profile) == ["ptrace"]
    assert seccomp_check.validate_profile(profile) == ["dangerous syscall allowed: ptrace"]

    unmasked = seccomp.build_profile("go")
    unmasked["syscalls"].append({"names": ["clone"], "action": "SCMP_ACT_ALLOW"})
    assert seccomp_check.dangerous_allowed(unmasked) == ["clone"]

    permissive = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    found = seccomp_check.dangerous_allowed(permissive)
    assert "mount" not in found and "unshare" in found and len(found) == len(seccomp.DANGEROUS) - 1


# --- the kernel's answer, in a child process -------------------------------------------------------

KERNEL_PROBE = """
    import ctypes, json, os, socket, sys, threading
    from generator.profiles import seccomp, seccomp_check

    NR = json.loads(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    CLONE_NEWUSER, CLONE_NEWUTS, SIGCHLD = 0x10000000, 0x04000000, 17

    def call(*args):
        ctypes.set_errno(0)
        result = libc.syscall(*[ctypes.c_long(a) for a in args])
        return result, ctypes.get_errno()

    def raw_clone(flags):
        pid, err = call(NR["clone"], flags | SIGCHLD, 0, 0, 0, 0)
        if pid == 0:
            os._exit(0)
        if pid > 0:
            os.waitpid(pid, 0)
        return "ok" if pid > 0 else os.strerror(err) if err else "?"

    def unshare_in_child(flags):
        pid = os.fork()
        if pid == 0:
            result, err = call(NR["unshare"], flags)
            os._exit(0 if result == 0 else err)
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        return "ok" if code == 0 else os.strerror(code)

    def family(number):
        try:
            socket.socket(number, socket.SOCK_RAW if number == 17 else socket.SOCK_STREAM).close()
            return "ok"
        except OSError as exc:
            return os.strerror(exc.errno)

    def probe():
        seen = []
        thread = threading.Thread(target=lambda: seen.append(threading.get_native_id()))
        thread.start()
        thread.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        result, err = call(NR["clone3"], 0, 0)
        return {
            "unshare_user": unshare_in_child(CLONE_NEWUSER), "unshare_uts": unshare_in_child(CLONE_NEWUTS),
            "clone_user": raw_clone(CLONE_NEWUSER), "clone_uts": raw_clone(CLONE_NEWUTS),
            "clone3": os.strerror(err) if result == -1 else "ok",
            "thread": "ok" if seen and seen[0] != threading.get_native_id() else "failed",
            "fork": forked, "inet": family(socket.AF_INET), "unix": family(socket.AF_UNIX),
            "packet": family(17),
        }

    before = probe()
    seccomp_check.load_into_current_process(seccomp.build_profile(sys.argv[2]))
    print(json.dumps({"before": before, "after": probe()}))
"""


@pytest.mark.skipif(MACHINE not in SYSCALL_NUMBERS, reason="syscall numbers known for x86_64/aarch64 only")
@pytest.mark.parametrize("runtime", ["python", "node", "go"])
def test_kernel_rejects_namespace_clones_but_runs_threads_and_forks(runtime: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERNEL_PROBE), json.dumps(SYSCALL_NUMBERS[MACHINE]), runtime],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    before, after = result["before"], result["after"]
    # Without the filter the kernel allowed at least one namespace (as root: all of them), so the
    # EPERMs below come from the profile.
    controls = [k for k in ("unshare_user", "unshare_uts", "clone_user", "clone_uts") if before[k] == "ok"]
    if not controls:
        message = f"this host refuses namespaces even without a filter: {before}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI must be able to run this kernel proof)")
        pytest.skip(message)
    eperm = os.strerror(1)
    for key in ("unshare_user", "unshare_uts", "clone_user", "clone_uts"):
        assert after[key] == eperm, (key, after)
    assert after["clone3"] == os.strerror(38)
    assert after["thread"] == "ok" and after["fork"] == 7  # glibc fell back from clone3 to clone
    assert after["inet"] == after["unix"] == "ok"
    if before["packet"] == "ok":  # root with CAP_NET_RAW: only the socket rule can refuse it
        assert after["packet"] == eperm


# --- the runtime's real work, under its profile, on the host kernel ------------------------------

LAUNCH = """
import json, os, sys
from generator.profiles import seccomp_check
profile = json.loads(os.environ["HC_PROFILE"])
seccomp_check.load_into_current_process(profile)
os.execv(sys.argv[1], sys.argv[1:])
"""

PY_SERVER = """
import http.server, json, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

NODE_SERVER = """
const http = require('http');
const server = http.createServer((req, res) => res.end(JSON.stringify({ path: req.url })));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
"""


def _serve_under(profile: dict[str, Any], server: list[str], health: list[str]) -> dict[str, Any]:
    """Start `server` under the profile, send it requests, run the health check under it too."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HC_PROFILE=json.dumps(profile))
    launch = [sys.executable, "-c", LAUNCH]
    proc = subprocess.Popen([*launch, *server], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    outcome: dict[str, Any] = {"served": 0}
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.strip().isdigit():
            proc.wait(10)
            return {**outcome, "error": (proc.stderr.read() if proc.stderr else "")[-500:] or "no port"}
        port = int(line)
        for i in range(30):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/items/{i}", timeout=5) as response:
                outcome["served"] += json.loads(response.read())["path"] == f"/items/{i}"
        url = f"http://127.0.0.1:{port}/healthz"
        outcome["health"] = subprocess.run([*launch, *[a.replace("URL", url) for a in health]], env=env,
                                           capture_output=True, timeout=30, check=False).returncode
    except (OSError, ValueError) as exc:
        outcome["error"] = repr(exc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return outcome


PY_HEALTH = [sys.executable, "-c", "import urllib.request; urllib.request.urlopen('URL', timeout=3)"]


def test_python_profile_runs_an_http_server_and_its_health_check() -> None:
    outcome = _serve_under(seccomp.build_profile("python"), [sys.executable, "-c", PY_SERVER], PY_HEALTH)
    assert outcome == {"served": 30, "health": 0}


def test_the_host_proof_notices_a_missing_syscall() -> None:
    profile = copy.deepcopy(seccomp.build_profile("python"))
    profile["syscalls"][0]["names"].remove("accept4")
    outcome = _serve_under(profile, [sys.executable, "-c", PY_SERVER], PY_HEALTH)
    assert outcome["served"] == 0 and "error" in outcome


def test_node_profile_runs_an_http_server_and_its_health_check() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no node on PATH: CI must prove the node profile (scripts/test.sh installs nodejs)")
        pytest.skip("no node on PATH")
    health = [node, "-e", "require('http').get('URL', (r) => process.exit(r.statusCode === 200 ? 0 : 1))"
                          ".on('error', () => process.exit(1))"]
    outcome = _serve_under(seccomp.build_profile("node"), [node, "-e", NODE_SERVER], health)
    assert outcome == {"served": 30, "health": 0}


def test_validate_is_fast_enough_to_run_on_every_check() -> None:
    start = time.perf_counter()
    for runtime in MEASURED:
        seccomp_check.validate_profile(seccomp.build_profile(runtime))
    assert time.perf_counter() - start < 5


ISSUE_DANGEROUS = ("mount", "umount2", "unshare", "setns", "ptrace", "bpf", "keyctl", "add_key", "kexec_load",
                   "init_module", "open_by_handle_at", "perf_event_open", "userfaultfd")


@pytest.mark.parametrize("name", ISSUE_DANGEROUS)
def test_check_reports_each_dangerous_allowance(name: str, tmp_path: Path) -> None:
    from generator.cli.main import Environment, main

    profile = seccomp.build_profile("go")
    profile["syscalls"].append({"names": [name], "action": "SCMP_ACT_ALLOW"})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(profile))
    out = io.StringIO()
    code = main(["seccomp", "check", str(path)], Environment(stdout=out, stderr=out, stdin_isatty=False))
    assert code == 1
    assert out.getvalue() == f"{path}: dangerous syscall allowed: {name}\n"


@pytest.mark.parametrize("text, position", [
    ('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [\n    {"names": ["read"] "action": 1}\n  ]\n}', "4:24"),
    ('{\n  "defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [],\n}\n', "4:1"),
    ("", "1:1"),
])
def test_check_reports_syntax_errors_with_line_and_column(text: str, position: str, tmp_path: Path) -> None:
    from generator.cli.main import Environment, main

    path = tmp_path / "broken.json"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    code = main(["seccomp", "check", str(path)], Environment(stdout=out, stderr=err, stdin_isatty=False))
    assert code == 2 and out.getvalue() == ""
    assert err.getvalue().startswith(f"hardcase: error: {path}:{position}: JSON syntax error: ")
    assert err.getvalue().count("\n") == 1
