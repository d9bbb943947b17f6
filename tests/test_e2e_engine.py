"""End to end in a real engine: new (through the mirror) → pin → verify, for every preset.

Then one negative test per control: weaken compose.yaml the way a careless edit would and show
that `verify` fails exactly that row.
"""

from __future__ import annotations

import io
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from generator.cli.main import Environment, main
from generator.engine import docker as engine
from generator.profiles import seccomp
from tests.engine_support import MIRROR, STANDIN_VERSIONS, require_engine

pytestmark = pytest.mark.engine
PRESETS = ["python-fastapi", "python-flask", "node-express", "go-stdlib"]
PRESET_LANGUAGE = {"python-fastapi": "python", "python-flask": "python", "node-express": "node", "go-stdlib": "go"}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


def generate(dest: Path, preset: str) -> None:
    language = PRESET_LANGUAGE[preset]
    code, _, err = run("new", str(dest), "--preset", preset, "--with-app", "--no-input",
                       "--registry-mirror", MIRROR, "--set", f"runtime_version={STANDIN_VERSIONS[language]}")
    assert code == 0, err
    code, out, err = run("pin", str(dest), "--update", "--no-backup")
    assert code == 0, err
    code, out, err = run("pin", str(dest), "--check")
    assert code == 0, out + err


def verify_json(dest: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run("verify", str(dest), "--format", "json", *extra)
    assert out.strip(), f"verify printed no scorecard: {err}"
    return code, json.loads(out)


def rows(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in card["rows"]}


@pytest.fixture(scope="module", autouse=True)
def _engine() -> None:
    require_engine()


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_runs_and_proves_every_control(preset: str, tmp_path: Path) -> None:
    dest = tmp_path / preset
    generate(dest, preset)
    dockerfile_text = (dest / "Dockerfile").read_text()
    assert f"{MIRROR}/" in dockerfile_text
    code, card = verify_json(dest, "--keep")
    try:
        failed = {row["id"]: row["evidence"] for row in card["rows"] if not row["passed"]}
        assert failed == {}, failed
        assert code == 0
        assert len(card["rows"]) >= 18
        # The service answers through its published port, on loopback.
        port = json.loads(json.dumps(YAML(typ="safe").load((dest / ".hardcase.yml").read_text())["ports"]))[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200
            assert json.load(response)["service"] == card["service"]
        # The engine runs the generated profile, not Docker's default.
        language = PRESET_LANGUAGE[preset]
        assert (dest / "seccomp.json").read_text() == seccomp.render_profile(language)
        print(f"\n[e2e] {preset}: image {card['image_bytes'] / 1e6:.1f} MB, build {card['build_seconds']} s, "
              f"healthy after {card['healthy_seconds']} s, {sum(r['passed'] for r in card['rows'])}/"
              f"{len(card['rows'])} controls")
    finally:
        engine.compose(dest, card["project"], [dest / "compose.yaml"], "down", "--volumes", "--timeout", "5",
                       check=False)


def _edit_service(dest: Path, change: Any) -> None:
    yaml = YAML()
    path = dest / "compose.yaml"
    data = yaml.load(path.read_text())
    name = next(iter(data["services"]))
    change(data["services"][name], data)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    path.write_text(buffer.getvalue())


@pytest.fixture(scope="module")
def built_go_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated, pinned and built service; each negative test weakens a copy of its compose file."""
    dest = tmp_path_factory.mktemp("negative") / "go-stdlib"
    generate(dest, "go-stdlib")
    code, card = verify_json(dest)
    assert code == 0, [r for r in card["rows"] if not r["passed"]]
    return dest


def _drop(key: str) -> Any:
    return lambda service, data: service.pop(key)


def _set(key: str, value: Any) -> Any:
    return lambda service, data: service.__setitem__(key, value)


def _drop_limit(key: str) -> Any:
    return lambda service, data: service["deploy"]["resources"]["limits"].pop(key)


def _tmpfs_exec(service: Any, data: Any) -> None:
    # Docker mounts tmpfs noexec unless told otherwise, so weakening means asking for exec.
    service["tmpfs"] = [entry.replace(",noexec", ",exec") for entry in service["tmpfs"]]


def _security_opt(replacement: list[str]) -> Any:
    return lambda service, data: service.__setitem__("security_opt", replacement)


def _publish_everywhere(service: Any, data: Any) -> None:
    service["ports"] = [entry.replace("127.0.0.1:", "") for entry in service["ports"]]


def _secret_in_env(service: Any, data: Any) -> None:
    service["environment"]["API_TOKEN"] = "negative-test-secret-value"


WEAKENINGS = {
    "non-root-user": _set("user", "0:0"),
    "capabilities": _set("cap_add", ["NET_RAW"]),
    "no-new-privileges": _security_opt(["seccomp=seccomp.json"]),
    "seccomp": _security_opt(["no-new-privileges:true", "seccomp=unconfined"]),
    "read-only-rootfs": _drop("read_only"),
    "memory-limit": _drop_limit("memory"),
    "cpu-limit": _drop_limit("cpus"),
    "pids-limit": _drop_limit("pids"),
    "ulimits": _drop("ulimits"),
    "localhost-ports": _publish_everywhere,
    "healthcheck": _set("healthcheck", {"disable": True}),
    "restart-policy": _set("restart", "unless-stopped"),
    "own-network": lambda service, data: (service.pop("networks"), service.__setitem__("network_mode", "bridge")),
    "runtime-secrets": _secret_in_env,
    "log-rotation": _set("logging", {"driver": "json-file"}),
    "host-isolation": _set("pid", "host"),
    "init-process": _set("init", False),
}


@pytest.mark.parametrize("control", sorted(WEAKENINGS))
def test_weakened_compose_fails_its_row(control: str, built_go_service: Path, tmp_path: Path) -> None:
    import shutil

    dest = tmp_path / "svc"
    shutil.copytree(built_go_service, dest)
    if control == "runtime-secrets":
        (dest / "secrets").mkdir()
        (dest / "secrets" / "api_token").write_text("negative-test-secret-value")
    _edit_service(dest, WEAKENINGS[control])
    code, card = verify_json(dest, "--no-build")
    assert code == 1
    assert rows(card)[control]["passed"] is False, rows(card)[control]


def test_tmpfs_without_noexec_fails_read_only_row(built_go_service: Path, tmp_path: Path) -> None:
    import shutil

    dest = tmp_path / "svc"
    shutil.copytree(built_go_service, dest)
    _edit_service(dest, _tmpfs_exec)
    code, card = verify_json(dest, "--no-build")
    assert code == 1
    assert rows(card)["read-only-rootfs"]["passed"] is False


def test_unhealthy_service_fails_cleanly_and_leaves_nothing_behind(built_go_service: Path, tmp_path: Path) -> None:
    import shutil

    dest = tmp_path / "svc"
    shutil.copytree(built_go_service, dest)

    def never_healthy(service: Any, data: Any) -> None:
        service["healthcheck"]["test"] = ["CMD", "/app/healthcheck", "http://127.0.0.1:1/unreachable"]
        service["healthcheck"]["retries"] = 1
        service["healthcheck"]["interval"] = "2s"

    _edit_service(dest, never_healthy)
    code, out, err = run("verify", str(dest), "--no-build")
    assert code == 4, out + err
    assert err.startswith("hardcase: error: service did not become healthy") and err.count("\n") == 1
    leftovers = engine.docker("ps", "-a", "--filter", "name=hcverify-go-service", "--format", "{{.Names}}").stdout
    networks = engine.docker("network", "ls", "--filter", "name=hcverify-go-service", "--format", "{{.Name}}").stdout
    assert leftovers.strip() == "" and networks.strip() == ""


# --- seccomp learn and AppArmor, on the same built service ------------------------------------------

PRINTK_RATELIMIT = Path("/proc/sys/kernel/printk_ratelimit")


def _require_root() -> None:
    import os

    if os.geteuid() != 0:
        message = "seccomp learn reads /dev/kmsg and sets kernel.printk_ratelimit: it needs root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI runs as root)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def learned_go_service(built_go_service: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """`seccomp learn` (2 runs, health workload) on a copy of the built service, then verify under the result."""
    import shutil
    import time

    _require_root()
    dest = tmp_path_factory.mktemp("learn") / "go-stdlib"
    shutil.copytree(built_go_service, dest)
    ratelimit = PRINTK_RATELIMIT.read_text()
    started = time.monotonic()
    code, out, err = run("seccomp", "learn", str(dest), "--no-build", "--runs", "2", "--format", "json")
    print(f"\n[learn] go-stdlib: 2 runs + verify in {time.monotonic() - started:.0f} s")
    assert out.strip(), err
    report: dict[str, Any] = json.loads(out)
    assert code == 0, (err, report["verify"])
    assert PRINTK_RATELIMIT.read_text() == ratelimit  # restored after recording
    return dest, report


def test_learned_profile_is_tight_and_verify_proves_every_control_under_it(
        learned_go_service: tuple[Path, dict[str, Any]]) -> None:
    from generator.profiles.seccomp_check import validate_profile

    dest, report = learned_go_service
    assert report["verify"]["passed"] is True and report["verify"]["failed"] == {}
    assert report["verify"]["proven"] == report["verify"]["controls"] >= 18
    profile = json.loads((dest / "seccomp.learned.json").read_text())
    assert validate_profile(profile) == []
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    # What the Go server and its health-check binary really did, seen in the kernel log:
    observed = set(report["observed_names"])
    assert {"bind", "listen", "accept4", "connect", "execve"} <= observed
    assert not observed & seccomp.DANGEROUS
    assert all(run_["names"] > 20 and run_["foreign_lines"] == 0 for run_ in report["runs"])
    assert len(report["runs"]) == 2
    assert report["allowed"] == len(report["allowed_names"]) <= report["generated"] + 10
    assert report["allowed"] * 3 < report["docker_default_x86_64"]
    print(f"\n[learn] go-stdlib: learned {report['allowed']} ({report['observed']} observed) vs generated "
          f"{report['generated']} vs Docker default {report['docker_default_x86_64']} (x86_64)")
    leftovers = engine.docker("ps", "-a", "--filter", "name=hclearn-", "--format", "{{.Names}}").stdout
    assert leftovers.strip() == ""


def _run_hardened(image: str, profile: dict[str, Any], tmp_path: Path, name: str) -> tuple[bool, int, int | None]:
    """Start the image as compose does (user, no capabilities, read-only) under `profile`; is it still up?"""
    import time

    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(profile))
    secret = tmp_path / f"{name}.secret"
    secret.write_text("learn-test-secret")
    secret.chmod(0o444)
    engine.docker("run", "--detach", "--name", name, "--init", "--user", "65532:65532", "--cap-drop", "ALL",
                  "--read-only", "--tmpfs", "/tmp", "--security-opt", "no-new-privileges:true", "--security-opt",
                  f"seccomp={path}", "--network", "none", "--volume", f"{secret}:/run/secrets/api_token:ro",
                  "--env", "API_TOKEN_FILE=/run/secrets/api_token", image)
    try:
        time.sleep(4)
        state = engine.inspect("container", name)["State"]
        health = None
        if state["Running"]:  # the health check, run with docker exec under the same profile
            health = engine.docker("exec", name, "/app/healthcheck", "http://127.0.0.1:8080/healthz",
                                   check=False).returncode
            state = engine.inspect("container", name)["State"]
        return bool(state["Running"]), int(state["ExitCode"]), health
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_a_profile_missing_one_learned_syscall_makes_the_service_fail(
        learned_go_service: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    import copy

    dest, report = learned_go_service
    profile = json.loads((dest / "seccomp.learned.json").read_text())
    image = YAML(typ="safe").load((dest / "compose.yaml").read_text())["services"]["go-service"]["image"]
    running, _, health = _run_hardened(image, profile, tmp_path, "hclearn-test-full")
    assert running and health == 0
    assert "bind" in report["observed_names"]
    missing = copy.deepcopy(profile)
    missing["syscalls"][0]["names"].remove("bind")
    running, exit_code, _ = _run_hardened(image, missing, tmp_path, "hclearn-test-missing")
    assert not running and exit_code != 0


def test_apparmor_option_still_comes_up_without_apparmor_in_the_kernel(built_go_service: Path, tmp_path: Path) -> None:
    """Docker 20.10 without AppArmor keeps `apparmor=NAME` and starts the container unconfined (README says so)."""
    import shutil

    dest = tmp_path / "svc"
    shutil.copytree(built_go_service, dest)
    code, _, err = run("apparmor", "generate", str(dest), "-o", str(dest / "apparmor.profile"))
    assert code == 0, err
    _edit_service(dest, lambda service, data: service["security_opt"].append("apparmor=hardcase-go-service"))
    code, card = verify_json(dest, "--no-build")
    assert code == 0, [r for r in card["rows"] if not r["passed"]]
