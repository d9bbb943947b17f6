"""`hardcase seccomp diff`: differences as the engine would apply them, per architecture."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from generator.cli.main import Environment, main
from generator.profiles import seccomp
from generator.profiles.seccomp_diff import diff_profiles


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, profile: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(profile, indent=2) if not isinstance(profile, str) else profile)
    return str(path)


def allow_rule(profile: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = profile["syscalls"][0]
    assert rule["action"] == "SCMP_ACT_ALLOW" and "args" not in rule
    return rule


def test_same_profile_in_another_order_is_the_same(tmp_path: Path) -> None:
    a = seccomp.build_profile("python")
    b = copy.deepcopy(a)
    b["syscalls"].reverse()
    moved = allow_rule(a)["names"][:5]
    del b["syscalls"][-1]["comment"]
    b["syscalls"][-1]["names"] = [n for n in allow_rule(a)["names"] if n not in moved]
    b["syscalls"].append({"names": moved, "action": "SCMP_ACT_ALLOW", "comment": "moved"})
    assert diff_profiles(a, b).same
    code, out, err = run("seccomp", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b))
    assert (code, err) == (0, "")
    assert out.endswith("allow the same system calls\n")


def test_a_removed_name_is_allowed_only_in_a_on_every_architecture(tmp_path: Path) -> None:
    a = seccomp.build_profile("go")
    b = copy.deepcopy(a)
    allow_rule(b)["names"].remove("accept4")
    result = diff_profiles(a, b)
    assert not result.same and result.top_level == []
    assert {arch: d.only_a for arch, d in result.arches.items()} == {"x86_64": ["accept4"], "aarch64": ["accept4"]}
    assert all(d.only_b == [] and d.changed == [] for d in result.arches.values())
    code, out, _ = run("seccomp", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b))
    assert code == 1
    assert "[x86_64, aarch64]\n  allowed only in A (1): accept4\n" in out
    code, out, _ = run("seccomp", "diff", str(tmp_path / "b.json"), str(tmp_path / "a.json"), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["same"] is False
    assert report["arches"]["x86_64"]["only_b"] == ["accept4"] and report["arches"]["x86_64"]["only_a"] == []


def test_an_arm64_only_rule_differs_on_aarch64_only(tmp_path: Path) -> None:
    a = seccomp.build_profile("go")
    b = copy.deepcopy(a)
    b["syscalls"].append({"names": ["renameat"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}})
    result = diff_profiles(a, b)
    assert result.arches["x86_64"].empty
    assert result.arches["aarch64"].only_b == ["renameat"]
    code, out, _ = run("seccomp", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b))
    assert code == 1
    assert "[x86_64] no difference" in out and "[aarch64]\n  allowed only in B (1): renameat" in out


def test_changed_arguments_actions_and_errno_are_reported(tmp_path: Path) -> None:
    a = seccomp.build_profile("python")
    b = copy.deepcopy(a)
    for rule in b["syscalls"]:
        if rule["names"] == ["socket"] and rule["args"][0]["value"] == 16:
            rule["args"][0]["value"] = 17  # AF_NETLINK -> AF_PACKET
        if rule["names"] == ["clone3"]:
            rule["errnoRet"] = 1
    b["syscalls"].append({"names": ["uname"], "action": "SCMP_ACT_LOG"})
    result = diff_profiles(a, b)
    changed = {c["name"]: c for c in result.arches["x86_64"].changed}
    assert set(changed) == {"socket", "clone3", "uname"}
    assert "arg0 EQ 16" in changed["socket"]["a"] and "arg0 EQ 17" in changed["socket"]["b"]
    assert (changed["clone3"]["a"], changed["clone3"]["b"]) == ("SCMP_ACT_ERRNO(38)", "SCMP_ACT_ERRNO(1)")
    assert changed["uname"]["a"] == "SCMP_ACT_ALLOW" and "SCMP_ACT_LOG" in changed["uname"]["b"]
    assert result.arches["x86_64"].only_a == result.arches["x86_64"].only_b == []


def test_default_action_and_architectures_are_top_level_changes(tmp_path: Path) -> None:
    a = seccomp.build_profile("go")
    b = copy.deepcopy(a)
    b["defaultAction"] = "SCMP_ACT_KILL_PROCESS"
    del b["archMap"]
    b["architectures"] = ["SCMP_ARCH_X86_64"]
    result = diff_profiles(a, b)
    assert {c["key"] for c in result.top_level} == {"defaultAction", "archMap", "architectures"}
    assert result.one_sided == {"aarch64": "A"} and "aarch64" not in result.arches
    # Names B does not mention are now killed instead of refused: no name gains or loses permission.
    assert result.arches["x86_64"].only_a == result.arches["x86_64"].only_b == []
    code, out, _ = run("seccomp", "diff", write(tmp_path, "a.json", a), write(tmp_path, "b.json", b))
    assert code == 1 and "defaultAction: 'SCMP_ACT_ERRNO' -> 'SCMP_ACT_KILL_PROCESS'" in out
    assert "[aarch64] only A is written for aarch64 hosts" in out


def test_docker_default_allows_far_more_than_a_hardcase_profile() -> None:
    docker = json.loads((Path(seccomp.DATA_DIR) / "docker-default-20.10.json").read_text())
    result = diff_profiles(docker, seccomp.build_profile("go"))
    only_docker = set(result.arches["x86_64"].only_a)
    # Docker 20.10 allows ptrace (kernel >= 4.8) and io_uring to every container; mount, unshare,
    # setns and bpf only with CAP_SYS_ADMIN, and keyctl never.
    assert {"mount", "unshare", "setns", "ptrace", "bpf", "keyctl", "io_uring_setup"} - only_docker == {
        "mount", "unshare", "setns", "bpf", "keyctl"}
    assert len(only_docker) > 200 and result.arches["x86_64"].only_b == []


@pytest.mark.parametrize("content, expected", [
    ('{"defaultAction": "SCMP_ACT_ERRNO",\n  "syscalls": [\n    {"names": ["read"],}\n  ]}',
     "b.json:3:24: JSON syntax"),
    ('[1, 2]', "b.json: profile is not a JSON object"),
    ('{"defaultAction": "ALLOW", "syscalls": []}', "b.json: defaultAction 'ALLOW' is not a seccomp action"),
])
def test_bad_input_is_a_one_line_usage_error(tmp_path: Path, content: str, expected: str) -> None:
    good = write(tmp_path, "a.json", seccomp.build_profile("go"))
    code, out, err = run("seccomp", "diff", good, write(tmp_path, "b.json", content))
    assert code == 2 and out == ""
    assert expected in err and err.count("\n") == 1 and err.startswith("hardcase: error: ")


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("seccomp", "diff", str(tmp_path / "nope.json"), str(tmp_path / "nope.json"))
    assert code == 2 and "nope.json: no such file" in err
