"""`hardcase apparmor generate` and `new --apparmor`: the profile parses with apparmor_parser, writes
only where the service may write, and compose references it."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scaffold_support import compose_config

from generator.cli.main import Environment, main

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


def parser() -> str:
    found = shutil.which("apparmor_parser") or next(
        (p for p in ("/usr/sbin/apparmor_parser", "/sbin/apparmor_parser") if Path(p).exists()), None)
    if found is None:
        message = "apparmor_parser not installed (Debian package apparmor; scripts/test.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def parses(path: Path) -> subprocess.CompletedProcess[str]:
    # -Q: parse and compile only, never load; -K: no cache (this kernel has no AppArmor).
    return subprocess.run([parser(), "-Q", "-K", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)


def rules(text: str) -> list[str]:
    body = text.split("{", 1)[1].rsplit("}", 1)[0]
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("aa") / "svc"
    code, _, err = run("new", str(dest), "--preset", "python-fastapi", "--no-input", "--apparmor",
                       "--set", "writable_paths=/tmp,/var/cache/app")
    assert code == 0, err
    return dest


def test_generated_profile_parses_and_matches_apparmor_generate(project: Path, tmp_path: Path) -> None:
    profile = project / "apparmor.profile"
    result = parses(profile)
    assert result.returncode == 0, result.stderr
    code, out, err = run("apparmor", "generate", str(project))
    assert (code, err) == (0, "") and out == profile.read_text()


def test_the_parser_check_can_fail(tmp_path: Path, project: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text((project / "apparmor.profile").read_text().replace("deny ptrace,", "deny ptrace"))
    assert parses(broken).returncode != 0


def test_writes_are_allowed_only_in_the_writable_paths_and_devices(project: Path) -> None:
    text = (project / "apparmor.profile").read_text()
    body = rules(text)
    writers = [r for r in body if r.startswith("/") and re.search(r"\s[rwaklmix]*w[rwaklmix]*,$", r)]
    paths = {r.split()[0] for r in writers}
    assert paths == {"/tmp/", "/tmp/**", "/var/cache/app/", "/var/cache/app/**", "/dev/null", "/dev/zero",
                     "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts/[0-9]*"}
    assert "/** rmix," in body and "file," not in body  # read and execute everywhere, write nowhere else
    for path in ("/tmp", "/var/cache/app"):
        assert f"deny {path}/** x," in body  # nothing written there can run
    for rule in ("deny mount,", "deny ptrace,", "deny network packet,", "deny network inet raw,",
                 "deny network inet6 raw,", "deny @{PROC}/kcore rwklx,", "deny @{PROC}/sysrq-trigger rwklx,",
                 "deny /sys/firmware/** rwklx,", "deny @{PROC}/kallsyms rwklx,"):
        assert rule in body, rule
    assert not any(r.startswith("capability") for r in body)


def test_compose_references_the_profile_and_readme_explains_loading(project: Path) -> None:
    compose = (project / "compose.yaml").read_text()
    assert "      - apparmor=hardcase-fastapi-service\n" in compose
    assert "profile hardcase-fastapi-service flags=" in (project / "apparmor.profile").read_text()
    readme = (project / "README.Docker.md").read_text()
    assert "apparmor_parser -r -W apparmor.profile" in readme
    assert "without any AppArmor confinement" in readme
    proc = compose_config(project)
    assert proc.returncode == 0, proc.stderr


def test_without_the_answer_there_is_no_profile(tmp_path: Path) -> None:
    code, _, err = run("new", str(tmp_path / "svc"), "--preset", "go-stdlib", "--no-input")
    assert code == 0, err
    assert not (tmp_path / "svc" / "apparmor.profile").exists()
    assert "apparmor" not in (tmp_path / "svc" / "compose.yaml").read_text()


def test_writable_paths_fall_back_to_compose_tmpfs(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    image: api:1\n    read_only: true\n"
        "    tmpfs:\n      - /run/app:size=8m,noexec\n      - /var/tmp\n")
    code, out, err = run("apparmor", "generate", str(tmp_path), "--name", "api-profile")
    assert code == 0, err
    assert "profile api-profile flags=" in out and "/run/app/** rwkl," in out and "/var/tmp/** rwkl," in out
    assert "/tmp/" not in out.replace("/var/tmp/", "")
    target = tmp_path / "api.aa"
    target.write_text(out)
    assert parses(target).returncode == 0


@pytest.mark.parametrize("argv, expected", [
    (["--name", "Bad Name"], "AppArmor profile name 'Bad Name'"),
    (["--name", "x{y}"], "AppArmor profile name"),
])
def test_bad_names_are_usage_errors(project: Path, argv: list[str], expected: str) -> None:
    code, out, err = run("apparmor", "generate", str(project), *argv)
    assert code == 2 and out == "" and expected in err and err.count("\n") == 1


def test_paths_with_apparmor_syntax_are_refused(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api:\n    image: api:1\n    tmpfs:\n      - '/data/** rwx, /x'\n")
    code, _, err = run("apparmor", "generate", str(tmp_path))
    assert code == 2 and "is not an absolute, normalised path" in err


def test_output_file_is_never_overwritten_without_force(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "profile"
    target.write_text("mine")
    code, _, err = run("apparmor", "generate", str(project), "-o", str(target))
    assert code == 3 and target.read_text() == "mine" and "use --force" in err
    code, out, _ = run("apparmor", "generate", str(project), "-o", str(target), "--force")
    assert code == 0 and target.read_text() == (project / "apparmor.profile").read_text()
    assert out == f"{target}: AppArmor profile hardcase-fastapi-service\n"


def test_missing_project_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("apparmor", "generate", str(tmp_path))
    assert code == 2 and "needs a .hardcase.yml or a compose.yaml" in err
