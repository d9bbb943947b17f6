"""Each control, asserted on the parsed output of `hardcase new` for every preset and variant.

Expected values come from the answers recorded in `.hardcase.yml` and from the data files the
controls are specified in (base-image catalog, stacks, controls.yaml), never from generated text.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from scaffold_support import (
    REPO,
    Case,
    Generated,
    all_cases,
    directives,
    dockerignore_excludes,
    dockerignore_patterns,
    files_under,
    flag_values,
    labels,
    load_yaml,
    mount_specs,
    only,
    run_cli,
    stages,
    unquote_word,
)

from generator.core import catalog

CASES = all_cases()
IDS = [c.id for c in CASES]
PINNED_RE = re.compile(
    r"(?P<name>[^@\s]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@(?P<digest>sha256:[0-9a-f]{64})"
)
NUMERIC_NONROOT_RE = re.compile(r"(?P<uid>[1-9][0-9]*):(?P<gid>[1-9][0-9]*)")
INSTALL_RE = re.compile(
    r"\b(pip3? install|-m pip install|npm (ci|install)|yarn install|go mod download|go build"
    r"|apt-get install|apk add)\b"
)
SECRET_LIKE_RE = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|PRIVATE)", re.IGNORECASE)


def stack(project: Generated) -> catalog.StackImages:
    a = project.answers()
    return catalog.stack_images(a["language"], a["runtime_version"], a["flavour"])


def final_stage(project: Generated) -> list[Any]:
    return stages(project.dockerfile())[-1]


def catalog_key(name: str, mirror: str) -> str:
    """The catalog's `name:tag` key for a FROM reference (mirror prefix and Docker Hub spelling removed)."""
    if mirror:
        assert name.startswith(mirror + "/"), f"{name} is not pulled through the mirror {mirror}"
        name = name[len(mirror) + 1 :]
        if name.startswith("docker.io/"):
            name = name[len("docker.io/") :]
        if name.startswith("library/"):
            name = name[len("library/") :]
    return name


# --- Dockerfile ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_from_is_pinned_to_the_catalog_digest(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    project = generate(case)
    mirror = project.answers()["registry_mirror"]
    froms = only(project.dockerfile(), "FROM")
    images = catalog.images()
    seen = set()
    for instruction in froms:
        assert len(instruction.value) == 3 and instruction.value[1].upper() == "AS", instruction.original
        match = PINNED_RE.fullmatch(instruction.value[0])
        assert match, f"not image:tag@sha256:<64 hex>: {instruction.value[0]}"
        key = catalog_key(f"{match['name']}:{match['tag']}", mirror)
        assert key in images, f"{key} is not in the base-image catalog"
        assert match["digest"] == images[key].digest
        seen.add(key)
    expected = stack(project)
    assert seen == {expected.build.ref, expected.runtime.ref}
    last = PINNED_RE.fullmatch(froms[-1].value[0])
    assert last and catalog_key(f"{last['name']}:{last['tag']}", mirror) == expected.runtime.ref


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_multi_stage_with_named_stages(case: Case, generate: Callable[[Case], Generated]) -> None:
    groups = stages(generate(case).dockerfile())
    assert len(groups) >= 2
    names = [group[0].value[2] for group in groups]
    assert len(set(names)) == len(names), names
    for group in groups[1:]:
        for copy in only(group, "COPY"):
            for source_stage in flag_values(copy, "from"):
                assert source_stage in names[: groups.index(group)], (
                    f"COPY --from={source_stage} is not an earlier stage"
                )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_final_user_is_numeric_and_not_root(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    users = only(final_stage(project), "USER")
    assert users, "final stage sets no USER"
    match = NUMERIC_NONROOT_RE.fullmatch(users[-1].value[0])
    assert match, f"USER {users[-1].value[0]} is not a numeric non-zero uid:gid"
    assert int(match["uid"]) == stack(project).uid
    # Nothing after USER switches back.
    tail = final_stage(project)[final_stage(project).index(users[-1]) :]
    assert all(i.cmd.upper() != "USER" for i in tail[1:])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_add_anywhere(case: Case, generate: Callable[[Case], Generated]) -> None:
    instructions = generate(case).dockerfile()
    assert instructions
    assert only(instructions, "ADD") == []


def _executables_in_final_stage(project: Generated) -> set[str]:
    """Absolute paths the runtime image provides: the catalog's interpreter and COPY destinations."""
    provided = set()
    interpreter = stack(project).interpreter
    if interpreter:
        provided.add(interpreter)
    built = set()
    for run in project.dockerfile():
        if run.cmd.upper() == "RUN":
            words = " ".join(run.value).split()
            built.update(words[i + 1] for i, word in enumerate(words[:-1]) if word == "-o")
    for copy in only(final_stage(project), "COPY"):
        source, dest = copy.value[0].rstrip("/"), copy.value[-1].rstrip("/")
        provided.add(dest)
        # A directory copied whole carries the binaries the build stage wrote into it (go build -o).
        provided.update(dest + path[len(source):] for path in built if path.startswith(source + "/"))
    return provided


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_healthcheck_and_entrypoint_are_exec_form_absolute(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    project = generate(case)
    final = final_stage(project)
    (healthcheck,) = only(final, "HEALTHCHECK")
    assert healthcheck.json, f"HEALTHCHECK is not exec (JSON) form: {healthcheck.original}"
    assert healthcheck.value[0].upper() == "CMD"
    command = list(healthcheck.value[1:])
    assert command and PurePosixPath(command[0]).is_absolute(), command
    assert command[0] in _executables_in_final_stage(project)
    # The probe hits the first declared port on loopback.
    port = project.answers()["ports"][0]
    assert any(f"127.0.0.1:{port}/" in arg for arg in command[1:]), command
    for flag in ("interval", "timeout", "start-period", "retries"):
        assert len(flag_values(healthcheck, flag)) == 1, f"HEALTHCHECK --{flag} missing"
    (entrypoint,) = only(final, "ENTRYPOINT")
    assert entrypoint.json, f"ENTRYPOINT is not exec (JSON) form: {entrypoint.original}"
    assert PurePosixPath(entrypoint.value[0]).is_absolute()
    assert entrypoint.value[0] in _executables_in_final_stage(project)
    assert only(final, "CMD") == [] or all(c.json for c in only(final, "CMD"))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_expose_only_declared_unprivileged_ports(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    *earlier, final = stages(project.dockerfile())
    assert all(only(group, "EXPOSE") == [] for group in earlier), "EXPOSE outside the final stage"
    exposed = [int(v.split("/")[0]) for expose in only(final, "EXPOSE") for v in expose.value]
    declared = project.answers()["ports"]
    assert sorted(exposed) == sorted(declared)
    assert all(1024 <= port <= 65535 for port in exposed)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_installs_use_cache_mounts_and_secrets_use_secret_mounts(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    project = generate(case)
    runs = only(project.dockerfile(), "RUN")
    installs = [run for run in runs if INSTALL_RE.search(" ".join(run.value))]
    assert installs, "no dependency installation step found"
    for run in installs:
        assert any(spec.get("type") == "cache" and spec.get("target") for spec in mount_specs(run)), (
            run.original
        )
    for run in runs:
        command = " ".join(run.value)
        used = set(re.findall(r"/run/secrets/([A-Za-z0-9_.-]+)", command))
        mounted = {spec.get("id") for spec in mount_specs(run) if spec.get("type") == "secret"}
        assert used <= mounted, f"secret used without a secret mount: {run.original}"
        assert "--secret" not in command
    for instruction in only(project.dockerfile(), "ARG") + only(project.dockerfile(), "ENV"):
        for token in instruction.value:
            key = token.split("=", 1)[0]
            assert not SECRET_LIKE_RE.search(key), f"secret-like build variable: {instruction.original}"
    # Runtime secrets are compose's business; the image never names them.
    for name in project.answers()["secrets"]:
        for instruction in project.dockerfile():
            assert all(name not in token for token in instruction.value), instruction.original


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_syntax_directive_only_when_asked(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    found = directives(project.dest / "Dockerfile")
    if project.answers()["syntax_line"]:
        assert re.fullmatch(r"docker/dockerfile:1(\.[0-9]+)*", found.get("syntax", "")), found
    else:
        assert "syntax" not in found, found


def test_syntax_line_answer_really_changes_the_file(generate: Callable[[Case], Generated]) -> None:
    with_line = [c for c in CASES if "syntax_line=true" in c.extra]
    assert with_line, "no case with --set syntax_line=true"
    project = generate(with_line[0])
    assert project.answers()["syntax_line"] is True
    assert "syntax" in directives(project.dest / "Dockerfile")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_final_stage_copies_are_root_owned(case: Case, generate: Callable[[Case], Generated]) -> None:
    copies = only(final_stage(generate(case)), "COPY")
    assert copies
    for copy in copies:
        assert flag_values(copy, "chown") == ["0:0"], copy.original


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_oci_labels(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    found = labels(final_stage(project))
    answers = project.answers()
    assert found["org.opencontainers.image.title"] == answers["name"]
    assert found["org.opencontainers.image.description"] == answers["description"]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", found["org.opencontainers.image.version"])
    mirror = answers["registry_mirror"]
    assert catalog_key(found["org.opencontainers.image.base.name"], mirror) == stack(project).runtime.ref


def test_unquote_word_follows_buildkit_rules() -> None:
    assert unquote_word('"a \\"b\\" \\\\ \\$c \\n"') == 'a "b" \\ $c \\n'
    assert unquote_word("'$x \\ \"'") == '$x \\ "'
    assert unquote_word("a\\ b") == "a b"
    with pytest.raises(AssertionError):
        unquote_word('"$HOME"')


# --- compose.yaml --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_user_matches_dockerfile(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    user = only(final_stage(project), "USER")[-1].value[0]
    assert project.service()["user"] == user


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_filesystem(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    service = project.service()
    assert service["read_only"] is True
    mounts = {}
    for entry in service["tmpfs"]:
        path, _, options = entry.partition(":")
        mounts[path] = options.split(",")
    assert sorted(mounts) == sorted(project.answers()["writable_paths"])
    for path, options in mounts.items():
        assert {"noexec", "nosuid", "nodev"} <= set(options), (path, options)
        sizes = [o for o in options if o.startswith("size=")]
        assert len(sizes) == 1 and re.fullmatch(r"size=[1-9][0-9]*[kmg]?", sizes[0]), options


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_privileges(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    service = project.service()
    assert service["cap_drop"] == ["ALL"]
    assert "cap_add" not in service
    options = service["security_opt"]
    assert "no-new-privileges:true" in options
    seccomp_files = [
        o.split("=", 1)[1] for o in options if o.startswith("seccomp=") or o.startswith("seccomp:")
    ]
    assert len(seccomp_files) == 1, options
    profile = PurePosixPath(seccomp_files[0])
    assert not profile.is_absolute() and ".." not in profile.parts
    assert (project.dest / profile).is_file()
    assert isinstance(json.loads((project.dest / profile).read_text(encoding="utf-8")), dict)
    for weakening in ("unconfined", "label=disable", "label:disable"):
        assert all(weakening not in o for o in options), options
    assert service["init"] is True


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_resources(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    service, answers = project.service(), project.answers()
    resources = service["deploy"]["resources"]
    limits, reservations = resources["limits"], resources["reservations"]
    assert str(limits["cpus"]) == answers["cpus"]
    assert limits["memory"] == answers["memory"]
    assert limits["pids"] == answers["pids"]
    assert 0 < float(reservations["cpus"]) <= float(limits["cpus"])
    assert 0 < megabytes(reservations["memory"]) <= megabytes(limits["memory"])
    ulimits = service["ulimits"]
    nofile = ulimits["nofile"]
    assert 0 < nofile["soft"] <= nofile["hard"]
    core = ulimits["core"]
    assert core == 0 or (core["soft"] == 0 and core["hard"] == 0), core


def megabytes(quantity: str) -> int:
    match = re.fullmatch(r"([0-9]+)([mg])", str(quantity))
    assert match, quantity
    return int(match[1]) * (1024 if match[2] == "g" else 1)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_healthcheck_matches_dockerfile(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    (healthcheck,) = only(final_stage(project), "HEALTHCHECK")
    compose = project.service()["healthcheck"]
    assert compose["test"] == ["CMD", *healthcheck.value[1:]]
    for flag, key in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("start-period", "start_period"),
        ("retries", "retries"),
    ):
        assert str(compose[key]) == flag_values(healthcheck, flag)[0], key
    assert project.service()["restart"] == "on-failure:5"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_ports_and_network(case: Case, generate: Callable[[Case], Generated]) -> None:
    project = generate(case)
    service, answers, compose = project.service(), project.answers(), project.compose()
    publish = answers["publish"]
    networks = compose["networks"]
    service_networks = service["networks"]
    names = list(service_networks) if isinstance(service_networks, dict) else service_networks
    assert names and "default" not in names
    for name in names:
        assert name in networks, f"network {name} is not defined"
        assert (networks[name] or {}).get("external") is not True
        assert networks[name].get("driver", "bridge") == "bridge"
    if publish == "none":
        assert "ports" not in service
        assert all(networks[name].get("internal") is True for name in names)
        return
    assert all(networks[name].get("internal") is not True for name in names)
    published = [str(entry).split(":") for entry in service["ports"]]
    if publish == "localhost":
        assert all(len(p) == 3 and p[0] == "127.0.0.1" for p in published), published
    else:
        assert all(len(p) == 2 for p in published), published
    assert sorted(int(p[-1]) for p in published) == sorted(answers["ports"])
    assert all(p[-1] == p[-2] for p in published)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_logging(case: Case, generate: Callable[[Case], Generated]) -> None:
    logging = generate(case).service()["logging"]
    assert logging["driver"] == "json-file"
    assert re.fullmatch(r"[1-9][0-9]*[kmg]", str(logging["options"]["max-size"]))
    assert int(logging["options"]["max-file"]) >= 1


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_secrets_are_files_passed_as_name_file(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    project = generate(case)
    service, answers, compose = project.service(), project.answers(), project.compose()
    declared = answers["secrets"]
    if not declared:
        assert "secrets" not in service and "secrets" not in compose
        assert not service.get("environment")
        return
    assert service["secrets"] == declared
    assert sorted(compose["secrets"]) == sorted(declared)
    for name in declared:
        definition = compose["secrets"][name]
        assert list(definition) == ["file"], definition
        source = PurePosixPath(definition["file"])
        assert not source.is_absolute() and ".." not in source.parts
    environment = service["environment"]
    assert isinstance(environment, dict)
    assert environment == {f"{name.upper()}_FILE": f"/run/secrets/{name}" for name in declared}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compose_never_hands_out_the_host(case: Case, generate: Callable[[Case], Generated]) -> None:
    compose = generate(case).compose()
    assert compose["services"]
    for service in compose["services"].values():
        assert service.get("privileged", False) is False
        for key in ("network_mode", "pid", "ipc", "userns_mode", "uts"):
            assert key not in service, key
        assert service.get("cgroup") == "private"
        assert "devices" not in service and "device_cgroup_rules" not in service
        assert all("docker.sock" not in json.dumps(volume) for volume in service.get("volumes", []))
        assert "cap_add" not in service


# --- .dockerignore, README, replay ---------------------------------------------------------------


HARDENING_FILES = {
    "Dockerfile",
    "compose.yaml",
    "README.Docker.md",
    ".hardcase.yml",
    "seccomp.json",
    ".dockerignore",
}


def copied_by(source: str, relative: str) -> bool:
    """Whether `COPY source ...` takes the context file `relative` (directories recursively, globs)."""
    source = source.rstrip("/")
    if source in (".", ""):
        return True
    return relative == source or relative.startswith(source + "/") or fnmatch.fnmatchcase(relative, source)


def context_sources(project: Generated) -> list[str]:
    """Build-context sources the Dockerfile COPYs (COPY without --from)."""
    sources = []
    for copy in only(project.dockerfile(), "COPY"):
        if not flag_values(copy, "from"):
            sources.extend(copy.value[:-1])
    return sources


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dockerignore_is_an_allowlist_that_keeps_credentials_out(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    project = generate(case)
    patterns = dockerignore_patterns(project.dest / ".dockerignore")
    assert patterns[0] == (False, "*"), "the .dockerignore must start by excluding everything"
    reincluded = [i for i, (negated, _) in enumerate(patterns) if negated]
    assert reincluded, "nothing is re-included"
    for sensitive in ("**/.env", "**/*.pem", "**/*.key", "**/.git"):
        position = [i for i, (negated, p) in enumerate(patterns) if p == sensitive and not negated]
        assert position and position[-1] > reincluded[-1], f"{sensitive} must come after the re-includes"

    # Semantics: the app sources hardcase writes reach the build (and a COPY uses each of them); the
    # hardening files and credentials do not, even inside re-included directories.
    generated = files_under(project.dest)
    sources = context_sources(project)
    assert sources
    for relative in generated:
        # .hardcase/base: update's base; apparmor.profile: only with --apparmor, loaded on the host
        if relative in HARDENING_FILES or relative == "apparmor.profile" or relative.startswith(".hardcase/"):
            assert dockerignore_excludes(patterns, relative), f"{relative} reaches the build context"
            continue
        assert not dockerignore_excludes(patterns, relative), f"{relative} is needed but ignored"
        assert any(copied_by(source, relative) for source in sources), f"no COPY uses {relative}"
    assert HARDENING_FILES - {".dockerignore"} <= set(generated)
    app_dirs = {s.rstrip("/").split("/")[0] for s in sources if s.endswith("/")} | {""}
    for base in sorted(app_dirs):
        prefix = f"{base}/" if base else ""
        for secret in (
            ".env",
            ".env.production",
            "server.pem",
            "tls.key",
            ".git/config",
            ".git/hooks/x.go",
            "secrets/api_key",
            "deep/er/.env",
            "deep/id_rsa",
        ):
            assert dockerignore_excludes(patterns, prefix + secret), (
                f"{prefix + secret} reaches the build context"
            )


def test_dockerignore_matcher_semantics() -> None:
    patterns = [(False, "*"), (True, "app"), (False, "**/.env"), (True, "**/*.go")]
    assert dockerignore_excludes(patterns, "README.md")
    assert not dockerignore_excludes(patterns, "app/main.py")
    assert dockerignore_excludes(patterns, "app/.env")
    assert dockerignore_excludes(patterns, ".env")
    assert not dockerignore_excludes(patterns, "main.go")
    assert not dockerignore_excludes(patterns, "pkg/x/y.go")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_readme_documents_every_control_with_its_cis_item(
    case: Case, generate: Callable[[Case], Generated]
) -> None:
    controls = load_yaml(REPO / "generator" / "data" / "controls.yaml")["controls"]
    text = (generate(case).dest / "README.Docker.md").read_text(encoding="utf-8")
    rows = markdown_table_rows(text, "## Controls")
    by_title = {row[0]: row for row in rows[2:]}
    assert len(rows) - 2 == len(controls)
    for control in controls:
        row = by_title.get(control["title"])
        assert row is not None, f"control {control['id']} has no README row"
        assert row[-1] == str(control["cis"]) and re.fullmatch(r"[0-9.]+(, [0-9.]+)*", row[-1]), row


def markdown_table_rows(text: str, heading: str) -> list[list[str]]:
    lines = text.splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert len(rows) >= 2 and set("".join(rows[1])) <= set("-: "), rows[:2]
    return rows


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_answers_file_replays_byte_identical(
    case: Case, generate: Callable[[Case], Generated], tmp_path: Path
) -> None:
    project = generate(case)
    other = tmp_path / "other"
    result = run_cli("new", other, "--answers", project.dest / ".hardcase.yml", "--no-input")
    assert result.exit_code == 0, result.stderr
    original, replayed = files_under(project.dest), files_under(other)
    assert sorted(replayed) == sorted(original)
    for relative, content in original.items():
        assert replayed[relative] == content, relative
        assert (other / relative).stat().st_mode == (project.dest / relative).stat().st_mode, relative
