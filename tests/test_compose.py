"""`check` and `harden` on compose files: the real-world-shaped corpus in tests/compose (round trip,
Compose's own validation, idempotence, comment and anchor preservation, what unknown images may
receive), the command line (exit codes, outputs, backups, suppression), and `hardcase new`'s output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from compose_support import CORPUS, compose_config_errors, compose_ids, harden_compose
from ruamel.yaml import YAML
from scaffold_support import assert_one_line_error, run_cli

from generator.audit.compose import is_compose_name, parse_compose
from generator.audit.compose_images import lookup, repository
from generator.audit.lint import Config

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file())
IDS = [p.parent.name for p in FILES]
# What a service with an image hardcase does not know may receive, even with --unsafe-fixes: only safe
# changes (and joining the internal network of a backend it uses, which only adds reachability).
SAFE_FOR_UNKNOWN = {"security_opt", "healthcheck", "restart", "logging", "networks"}


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def test_corpus_is_large_and_named_as_compose_finds_it() -> None:
    assert len(FILES) >= 12
    assert all(is_compose_name(p.name) for p in FILES)
    assert len({p.name for p in FILES}) >= 5  # compose.yaml, compose.yml, docker-compose.yml, *.compose.yaml, ...


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_round_trip_without_fixes_is_byte_identical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_compose(text, str(path)).dump() == text


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_hardened_corpus_passes_compose_and_is_idempotent(path: Path, unsafe: bool, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert compose_config_errors(text, tmp_path) == ""
    result = harden_compose(text, unsafe=unsafe)
    assert result.applied, "every corpus file has something to fix"
    assert compose_config_errors(result.text, tmp_path) == ""
    assert harden_compose(result.text, unsafe=unsafe).text == result.text
    allowed = {"safe", "needs-review"} if unsafe else {"safe"}
    assert not [v for v in result.remaining if v.fix is not None and v.fix.safety.value in allowed]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_harden_keeps_comments_anchors_and_order(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    out = harden_compose(text).text
    comments = [line.split("#", 1)[1].strip() for line in text.splitlines() if re.search(r"(^|\s)#", line)]
    for comment in comments:
        assert comment in out, f"comment lost: {comment}"
    for pattern in (r"&[\w-]+", r"\*[\w-]+", r"<<:"):
        assert sorted(re.findall(pattern, out)) == sorted(re.findall(pattern, text)), pattern
    before, after = load(text), load(out)
    assert list(after)[: len(before)] == list(before)
    assert list(after["services"]) == list(before["services"])
    for name, service in before["services"].items():
        assert list(after["services"][name])[: len(service)] == list(service), name


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_safe_fixes_only_add_lines(path: Path) -> None:
    """With safe fixes only, every original line is still there, in order: keys are added, none rewritten
    (a flow-style list that gets an item is the one exception, and no safe fix in the corpus meets one)."""
    original = path.read_text(encoding="utf-8").splitlines()
    lines = iter(harden_compose("\n".join(original) + "\n", unsafe=False).text.splitlines())
    missing = [line for line in original if not any(line == candidate for candidate in lines)]
    assert not missing


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_unknown_images_get_only_safe_changes(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    before, after = load(text)["services"], load(harden_compose(text, unsafe=True).text)["services"]
    for name, service in before.items():
        if lookup(service.get("image")) is not None:
            continue
        changed = {key for key in set(service) | set(after[name]) if service.get(key) != after[name].get(key)}
        assert changed <= SAFE_FOR_UNKNOWN, (name, changed)
        for key in changed & set(service):
            old, new = service[key], after[name][key]
            if isinstance(old, list):
                assert set(map(str, old)) <= set(map(str, new)), (name, key)
            elif isinstance(old, dict):
                assert all(new.get(k) == v or isinstance(v, dict) for k, v in old.items()), (name, key)
            else:
                pytest.fail(f"{name}.{key}: {old!r} replaced by {new!r}")


def test_merge_key_changes_go_where_they_belong() -> None:
    text = (CORPUS / "13-anchors-and-flow" / "compose.yaml").read_text(encoding="utf-8")
    out = harden_compose(text, unsafe=True).text
    data = load(out)
    # the shared anchor keeps `always` for the unknown api image; the known images override it themselves
    assert 'restart: "always"' in out and data["services"]["api"]["restart"] == "always"
    assert data["services"]["db"]["restart"] == data["services"]["cache"]["restart"] == "on-failure:5"
    assert len(re.findall(r'restart: "?on-failure:5"?', out)) == 2
    # the aliased logging and security_opt stay aliases
    assert "logging: *json-logging" in out and "security_opt: *nnp" in out


def test_uniform_safe_fixes_edit_the_anchor_once() -> None:
    text = (CORPUS / "05-rabbitmq-workers" / "compose.yml").read_text(encoding="utf-8")
    out = harden_compose(text, unsafe=False).text
    anchor = out.split("x-logging: &logging", 1)[1].split("\nservices:", 1)[0]
    assert 'tag: "{{.Name}}"' in anchor and 'max-size: "10m"' in anchor and 'max-file: "3"' in anchor
    assert out.count("max-file") == 1
    assert out.count("no-new-privileges:true") == 3  # one per service that does not share a list


def test_image_names_match_through_registries_and_mirrors() -> None:
    assert repository("127.0.0.1:5000/library/postgres:15-bookworm") == "postgres"
    assert repository("docker.io/library/nginx:1.27@sha256:" + "0" * 64) == "nginx"
    assert repository("localhost/redis") == "redis"
    for image, kind in [("127.0.0.1:5000/library/postgres:15-bookworm", "postgres"),
                        ("mirror.gcr.io/library/postgres:16", "postgres"),
                        ("registry.corp.example/dockerhub/library/redis:7", "redis"),
                        ("nginxinc/nginx-unprivileged:1.27-alpine", "nginx-unprivileged"),
                        ("mariadb", "mariadb")]:
        info = lookup(image)
        assert info is not None and info.kind == kind, image
    for image in ("bitnami/redis:7", "example/postgres-tools:1", "${IMAGE}", None):
        assert lookup(image) is None, image


def test_postgres_caps_depend_on_the_user_it_starts_as() -> None:
    root = harden_compose("services:\n  db:\n    image: postgres:16\n", config=Config(select=frozenset({"HC120"})))
    as_user = harden_compose('services:\n  db:\n    image: postgres:16\n    user: "999:999"\n',
                             config=Config(select=frozenset({"HC120"})))
    assert load(root.text)["services"]["db"]["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"]
    assert "cap_add" not in load(as_user.text)["services"]["db"]


# --- command line ------------------------------------------------------------------------------

LEGACY = CORPUS / "12-legacy-app" / "docker-compose.prod.yml"


def test_check_finds_compose_files_in_directories(tmp_path: Path) -> None:
    result = run_cli("check", CORPUS)
    assert result.exit_code == 1
    for path in FILES:
        assert str(path) in result.stdout
    assert f"in {len(FILES)} file(s)" in result.stdout
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "stack.yml").write_text("services:\n  a:\n    image: x:1\n", encoding="utf-8")
    assert "no Dockerfiles or compose files found" in assert_one_line_error(run_cli("check", tmp_path))
    # a file with another name, given explicitly, is a compose file when it has `services:`
    explicit = run_cli("check", tmp_path / "sub" / "stack.yml")
    assert explicit.exit_code == 1 and "HC121" in explicit.stdout


def test_check_sarif_points_at_the_offending_keys() -> None:
    result = run_cli("check", "--format", "sarif", LEGACY)
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    lines = LEGACY.read_text(encoding="utf-8").splitlines()
    rules = [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]]
    assert "HC001" in rules and "HC100" in rules and "HC140" in rules
    found = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
             for r in log["runs"][0]["results"]}
    assert ("HC108", lines.index("    cap_add:") + 1) in found
    assert ("HC109", lines.index("    security_opt:") + 1) in found
    assert ("HC103", lines.index("    ipc: host") + 1) in found
    assert ("HC130", lines.index('      - "8000:8000"') + 1) in found
    assert ("HC140", lines.index("      DB_PASSWORD: hunter2") + 1) in found
    for result_item in log["runs"][0]["results"]:
        assert rules[result_item["ruleIndex"]] == result_item["ruleId"]


def test_check_json_and_fail_on() -> None:
    result = run_cli("check", "--format", "json", LEGACY)
    findings = json.loads(result.stdout)["files"][0]["findings"]
    assert {f["rule"] for f in findings} >= {"HC103", "HC108", "HC109", "HC110", "HC130", "HC140"}
    assert all(f["cis"] for f in findings)
    states = {(f["rule"], f["message"].split(": ")[1]): f["fix"] for f in findings}
    # what harden can do for this very finding: nothing needing review for the unknown app image
    assert (states[("HC120", "app")], states[("HC120", "db")], states[("HC121", "app")]) == ("none", "needs-review",
                                                                                            "safe")
    static = CORPUS / "14-static-site" / "compose.yaml"
    assert run_cli("check", "--fail-on", "error", static).exit_code == 0
    assert run_cli("check", static).exit_code == 1


def test_suppression_inline_and_by_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = ("services:\n"
            "  # hardcase ignore=HC121, HC127\n"
            "  agent:\n"
            "    image: example/agent:1\n"
            "    # hardcase ignore=HC100\n"
            "    privileged: true\n"
            "    pid: host\n")
    ids = compose_ids(text)
    assert "HC100" not in ids and "HC121" not in ids and "HC127" not in ids and "HC102" in ids
    (tmp_path / "compose.yaml").write_text(text, encoding="utf-8")
    (tmp_path / ".hardcase-check.yaml").write_text("ignore: [HC102, HC128]\n", encoding="utf-8")
    result = run_cli("check", "--format", "json", "compose.yaml")
    rules = {f["rule"] for f in json.loads(result.stdout)["files"][0]["findings"]}
    assert rules and not rules & {"HC100", "HC102", "HC121", "HC127", "HC128"}
    (tmp_path / ".hardcase-check.yaml").write_text("ignore: [HC199]\n", encoding="utf-8")
    assert "HC199" in assert_one_line_error(run_cli("check", "compose.yaml"))


def test_harden_output_in_place_diff_and_force(tmp_path: Path) -> None:
    source = tmp_path / "docker-compose.yml"
    original = LEGACY.read_text(encoding="utf-8")
    source.write_text(original, encoding="utf-8")
    out = tmp_path / "hardened.yaml"
    first = run_cli("harden", source, "-o", out, "--unsafe-fixes")
    assert first.exit_code == 0 and "fixed HC120" in first.stdout
    hardened = out.read_text(encoding="utf-8")
    assert hardened == harden_compose(original, unsafe=True).text
    assert compose_config_errors(hardened, tmp_path) == ""
    assert_one_line_error(run_cli("harden", source, "-o", out), exit_code=3, mentions="--force")
    assert run_cli("harden", source, "-o", out, "--force").exit_code == 0
    assert out.read_text(encoding="utf-8") == harden_compose(original, unsafe=False).text
    diff = run_cli("harden", source, "--diff")
    assert diff.exit_code == 1 and diff.stdout.startswith("--- a/")
    assert "+      - no-new-privileges:true" in diff.stdout
    assert not [line for line in diff.stdout.splitlines() if line.startswith("-") and not line.startswith("--- ")]
    in_place = run_cli("harden", source, "--in-place", "--format", "json")
    assert in_place.exit_code == 0 and json.loads(in_place.stdout)["files"][0]["fixed"]
    assert (tmp_path / "docker-compose.yml.hardcase.bak").read_text(encoding="utf-8") == original
    assert source.read_text(encoding="utf-8") == harden_compose(original, unsafe=False).text
    assert run_cli("harden", source, "--diff").exit_code == 0
    stdout = run_cli("harden", source, "--format", "sarif")
    assert stdout.stdout == source.read_text(encoding="utf-8")
    assert json.loads(stdout.stderr)["version"] == "2.1.0"


def test_harden_public_marks_the_service(tmp_path: Path) -> None:
    source = tmp_path / "compose.yaml"
    source.write_text(LEGACY.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("harden", source, "--unsafe-fixes", "--public", "app", "-o", tmp_path / "out.yaml")
    assert result.exit_code == 0
    app = load((tmp_path / "out.yaml").read_text(encoding="utf-8"))["services"]["app"]
    assert app["x-hardcase"] == {"public": True} and app["ports"] == ["8000:8000"]
    assert "HC130" not in compose_ids((tmp_path / "out.yaml").read_text(encoding="utf-8"))
    assert "nosuch" in assert_one_line_error(run_cli("harden", source, "--public", "nosuch"))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12-slim\n", encoding="utf-8")
    assert "--public" in assert_one_line_error(run_cli("harden", dockerfile, "--public", "app"))


@pytest.mark.parametrize("text, mentions", [
    ("services:\n  a: [unclosed\n", "not valid YAML"),
    ("services:\n  a:\n    image: x\n  a:\n    image: y\n", "not valid YAML"),
    ("services: 3\n", "not a compose file"),
    ("services:\n  web: nginx\n", "is not a mapping"),
    ("- services\n", "not a compose file"),
])
def test_bad_compose_files_are_one_line_errors(tmp_path: Path, text: str, mentions: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(text, encoding="utf-8")
    for command in (("check", path), ("harden", path)):
        assert mentions in assert_one_line_error(run_cli(*command), exit_code=2)
    path.write_bytes(b"services:\n  a:\n    image: \xff\n")
    assert "not UTF-8" in assert_one_line_error(run_cli("check", path))


@pytest.mark.parametrize("preset, publish, extra", [("python-fastapi", "localhost", []), ("python-flask", "all", []),
                                                    ("go-stdlib", "none", []), ("node-express", "localhost", []),
                                                    ("go-stdlib", "all", ["--apparmor"])])
def test_generated_compose_is_clean(tmp_path: Path, preset: str, publish: str, extra: list[str]) -> None:
    dest = tmp_path / "svc"
    created = run_cli("new", dest, "--preset", preset, "--set", f"publish={publish}", "--set", "secrets=db_password",
                      "--no-input", *extra)
    assert created.exit_code == 0, created.stderr
    result = run_cli("check", dest / "compose.yaml")
    assert (result.exit_code, result.stdout) == (0, "no findings in 1 file(s)\n")


def test_compose_report_lists_the_fields_per_image_kind() -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(repo / "scripts" / "compose_report.py")], capture_output=True, text=True,
                         check=True, cwd=repo, env={"PYTHONPATH": str(repo)}).stdout
    rows = {line.split("|")[1].strip(): line.split("|")[3] for line in out.splitlines()[2:]}
    assert {"postgres", "redis", "mysql", "mariadb", "mongo", "rabbitmq", "nginx", "(unknown image)"} <= set(rows)
    for field in ("cap_drop", "cap_add", "read_only", "tmpfs", "deploy", "healthcheck", "networks", "ulimits"):
        assert f"{field} (" in rows["postgres"], field
    assert "secrets (" in rows["mariadb"] and "environment (" in rows["mariadb"]
    unknown = {part.strip().split(" (")[0] for part in rows["(unknown image)"].split(",")}
    assert unknown <= SAFE_FOR_UNKNOWN


def test_harden_moves_literal_secrets_into_files(tmp_path: Path) -> None:
    source = tmp_path / "src" / "compose.yaml"
    source.parent.mkdir()
    source.write_text("services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: pw-42\n",
                      encoding="utf-8")
    diff = run_cli("harden", source, "--unsafe-fixes", "--diff")
    assert "HC140" in diff.stderr and not (tmp_path / "src" / "secrets").exists()  # stdout/--diff write nothing else
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "secrets").mkdir()
    (out_dir / "secrets" / "db_postgres_password").write_text("someone else's", encoding="utf-8")
    result = run_cli("harden", source, "--unsafe-fixes", "-o", out_dir / "compose.yaml")
    assert result.exit_code == 0 and "pw-42" not in result.stdout + result.stderr
    hardened = (out_dir / "compose.yaml").read_text(encoding="utf-8")
    assert "pw-42" not in hardened and "HC140" not in compose_ids(hardened)
    secret = out_dir / "secrets" / "db_postgres_password_2"  # the existing file is never overwritten
    assert secret.read_text(encoding="utf-8") == "pw-42" and secret.stat().st_mode & 0o777 == 0o600
    assert (out_dir / "secrets" / "db_postgres_password").read_text(encoding="utf-8") == "someone else's"
    data = load(hardened)
    assert data["secrets"] == {"db_postgres_password_2": {"file": "./secrets/db_postgres_password_2"}}
    assert data["services"]["db"]["environment"] == {"POSTGRES_PASSWORD_FILE": "/run/secrets/db_postgres_password_2"}
    assert compose_config_errors(hardened, out_dir) == ""


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_fast_check_path_answers_like_the_full_command_line_on_compose(fmt: str) -> None:
    import contextlib
    import io

    from generator.cli.check import fast_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = fast_main([str(LEGACY), "--format", fmt])
    full = run_cli("check", LEGACY, "--format", fmt)
    assert (code, out.getvalue(), err.getvalue()) == (full.exit_code, full.stdout, full.stderr)
    assert code == 1
