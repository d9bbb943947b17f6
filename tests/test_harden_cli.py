"""`hardcase check` and `hardcase harden` through the in-process CLI: exit codes, outputs, writes, formats,
suppression and config ignores. Exact-output tests pin each report format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scaffold_support import assert_one_line_error, run_cli

from generator.audit.rules import RULES

SMALL = "FROM debian:12-slim\nMAINTAINER Jane <j@example.com>\nUSER 10001:10001\n"
CLEAN = (
    "FROM debian:12-slim@sha256:88200866dfff7ea7f5cbcb6ec7c8a701889efe6fe859fe64d6990e4b07ea4171\n"
    "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +\n"
    "USER 10001:10001\n"
    'CMD ["/bin/true"]\n'
)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "Dockerfile"
    path.write_text(SMALL, encoding="utf-8")
    return path


def test_check_text_exact(small: Path) -> None:
    result = run_cli("check", small)
    assert result.exit_code == 1
    assert result.stdout == (
        f"{small}:1 HC002 warning: setuid/setgid bits are not stripped in the final stage "
        "(setuid-setgid-bits, CIS 4.8)\n"
        f"{small}:1 HC011 info: base image is not pinned by digest: debian:12-slim (run `hardcase pin`) "
        "(base-image-without-digest, CIS 4.2)\n"
        f"{small}:2 HC064 style: MAINTAINER is deprecated (maintainer-deprecated)\n"
        "3 finding(s) in 1 file(s)\n"
    )
    assert result.stderr == ""


def test_check_json_exact(small: Path) -> None:
    result = run_cli("check", small, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == {"version": 1, "files": [{"path": str(small), "fixed": [], "findings": [
        {"rule": "HC002", "name": "setuid-setgid-bits", "severity": "warning", "line": 1, "column": None,
         "message": "setuid/setgid bits are not stripped in the final stage", "cis": "4.8", "hadolint": None,
         "fix": "safe"},
        {"rule": "HC011", "name": "base-image-without-digest", "severity": "info", "line": 1, "column": None,
         "message": "base image is not pinned by digest: debian:12-slim (run `hardcase pin`)", "cis": "4.2",
         "hadolint": None, "fix": "needs-review"},
        {"rule": "HC064", "name": "maintainer-deprecated", "severity": "style", "line": 2, "column": None,
         "message": "MAINTAINER is deprecated", "cis": None, "hadolint": "DL4000", "fix": "safe"},
    ]}]}


def test_check_sarif_for_code_scanning(small: Path) -> None:
    result = run_cli("check", small, "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "hardcase"
    assert [r["id"] for r in driver["rules"]] == [r.id for r in RULES]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in run["results"]] == [("HC002", "warning", 1), ("HC011", "note", 1), ("HC064", "note", 2)]
    for res in run["results"]:
        assert driver["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == small.as_uri()
        assert res["message"]["text"]


def test_sarif_relative_uri(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(small.parent)
    log = json.loads(run_cli("check", "Dockerfile", "--format", "sarif").stdout)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]} == {
        "Dockerfile"}


def test_check_clean_and_fail_on(tmp_path: Path, small: Path) -> None:
    clean = tmp_path / "clean.Dockerfile"
    clean.write_text(CLEAN, encoding="utf-8")
    result = run_cli("check", clean)
    assert (result.exit_code, result.stdout) == (0, "no findings in 1 file(s)\n")
    assert run_cli("check", small, "--fail-on", "warning").exit_code == 1  # HC002 is a warning
    assert run_cli("check", small, "--fail-on", "error").exit_code == 0
    assert run_cli("check", small, "--fail-on", "error").stdout.endswith("3 finding(s) in 1 file(s)\n")


def test_check_discovers_dockerfiles(tmp_path: Path) -> None:
    for name in ("Dockerfile", "api.Dockerfile", "Dockerfile.dev", "sub/Dockerfile", "Dockerfile.hardcase.bak",
                 "notes.txt", ".hidden/Dockerfile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(CLEAN, encoding="utf-8")
    result = run_cli("check", tmp_path)
    assert (result.exit_code, result.stdout) == (0, "no findings in 4 file(s)\n")


def test_check_errors(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("check", tmp_path / "missing"), 2, mentions="missing")
    assert_one_line_error(run_cli("check", tmp_path), 2, mentions="no Dockerfiles")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN <<EOF\necho\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", bad), 2, mentions="cannot parse")
    bad.write_text("FROM debian\nFROB x\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", bad), 2, mentions="unknown instruction")
    bad.write_bytes(b"FROM debian\n\xff\n")
    assert_one_line_error(run_cli("check", bad), 2, mentions="UTF-8")
    bad.write_text("# only a comment\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", bad), 2)
    # BuildKit's parser would stop at a NUL and drop the rest (harden would then not be idempotent)
    bad.write_bytes(b"FROM d\x00ebian:12\nRUN echo hi\n")
    assert_one_line_error(run_cli("check", bad), 2, mentions="NUL byte")
    assert_one_line_error(run_cli("harden", bad), 2, mentions="NUL byte")


def test_inline_suppression(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("# hardcase ignore=HC011, HC002\nFROM debian:12-slim\n# why: legacy\n# hardcase ignore=HC064\n"
                    "MAINTAINER Jane\nUSER 10001:10001\n", encoding="utf-8")
    result = run_cli("check", path)
    assert (result.exit_code, result.stdout) == (0, "no findings in 1 file(s)\n")
    hardened = run_cli("harden", path)
    assert hardened.stdout == path.read_text(encoding="utf-8")  # suppressed findings are not fixed either


def test_config_ignore(tmp_path: Path, small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".hardcase-check.yaml").write_text("ignore: [HC002, HC011]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = run_cli("check", small)
    assert result.stdout.splitlines()[0].split()[1] == "HC064" and result.exit_code == 1
    (tmp_path / ".hardcase-check.yaml").write_text("ignore: [HC999]\n", encoding="utf-8")
    assert_one_line_error(run_cli("check", small), 2, mentions="HC999")
    other = tmp_path / "other.yaml"
    other.write_text("ignore: [HC002, HC011, HC064]\n", encoding="utf-8")
    assert run_cli("check", small, "--config", other).exit_code == 0


def test_harden_stdout_and_report(small: Path) -> None:
    result = run_cli("harden", small)
    assert result.exit_code == 0
    assert result.stdout == (
        "FROM debian:12-slim\n"
        "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +\n"
        'LABEL org.opencontainers.image.authors="Jane <j@example.com>"\n'
        "USER 10001:10001\n"
    )
    assert result.stderr == (
        f"{small}:1 fixed HC002 setuid-setgid-bits (safe, CIS 4.8): strip setuid/setgid bits\n"
        f"{small}:2 fixed HC064 maintainer-deprecated (safe): MAINTAINER -> LABEL\n"
        f"{small}:1 HC011 info: base image is not pinned by digest: debian:12-slim (run `hardcase pin`) "
        "(base-image-without-digest, CIS 4.2) [fix needs review: --unsafe-fixes]\n"
        "2 fix(es) applied, 1 finding(s) left in 1 file(s)\n"
    )
    assert small.read_text(encoding="utf-8") == SMALL


def test_harden_unsafe_and_json(small: Path) -> None:
    result = run_cli("harden", small, "--unsafe-fixes", "--format", "json")
    assert result.stdout.startswith("FROM debian:12-slim@sha256:88200866")
    report = json.loads(result.stderr)
    assert [(f["rule"], f["fix"]) for f in report["files"][0]["fixed"]] == [
        ("HC002", "safe"), ("HC011", "needs-review"), ("HC064", "safe")]
    assert report["files"][0]["findings"] == []


def test_harden_output_file(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "Dockerfile.hardened"
    result = run_cli("harden", small, "-o", out)
    assert result.exit_code == 0 and result.stderr == ""
    assert "fixed HC064" in result.stdout
    assert out.read_text(encoding="utf-8").startswith("FROM debian:12-slim\nRUN find")
    out.write_text("keep me", encoding="utf-8")
    assert_one_line_error(run_cli("harden", small, "-o", out), 3, mentions="--force")
    assert out.read_text(encoding="utf-8") == "keep me"
    assert run_cli("harden", small, "-o", out, "--force").exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("FROM debian:12-slim\nRUN find")
    assert_one_line_error(run_cli("harden", small, "--force"), 2, mentions="--force")


def test_harden_in_place_keeps_backup(small: Path) -> None:
    small.chmod(0o640)
    result = run_cli("harden", small, "--in-place")
    assert result.exit_code == 0
    backup = small.with_name("Dockerfile.hardcase.bak")
    assert backup.read_text(encoding="utf-8") == SMALL
    assert "LABEL org.opencontainers.image.authors" in small.read_text(encoding="utf-8")
    assert small.stat().st_mode & 0o777 == 0o640
    again = run_cli("harden", small, "--in-place")
    assert again.exit_code == 0 and "0 fix(es) applied" in again.stdout
    assert backup.read_text(encoding="utf-8") == SMALL  # nothing changed: the first backup stays


def test_harden_diff(small: Path, tmp_path: Path) -> None:
    result = run_cli("harden", small, "--diff")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:2] == [f"--- a/{small}", f"+++ b/{small}"]
    assert "-MAINTAINER Jane <j@example.com>" in result.stdout.splitlines()
    assert small.read_text(encoding="utf-8") == SMALL
    clean = tmp_path / "clean.Dockerfile"
    clean.write_text(CLEAN, encoding="utf-8")
    assert (run_cli("harden", clean, "--diff").exit_code, run_cli("harden", clean, "--diff").stdout) == (0, "")


def test_harden_crlf_stays_crlf(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(SMALL.replace("\n", "\r\n").encode())
    assert run_cli("harden", path, "--in-place").exit_code == 0
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") == 4


def test_harden_errors(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("harden", tmp_path / "nope"), 2, mentions="nope")
    bad = tmp_path / "Dockerfile"
    bad.write_text("RUN echo\n", encoding="utf-8")
    assert_one_line_error(run_cli("harden", bad), 2, mentions="FROM")
    assert run_cli("harden", bad, "-o", tmp_path / "x", "--in-place").exit_code == 2
