"""`hardcase pin`: byte-exact rewrites (offline, fake resolver) and real resolution (local registry)."""

from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path

import pytest

from generator.cli.main import Environment, main
from generator.core.imageref import ImageRef, parse
from generator.core.mirror import apply as mirror_apply
from generator.engine import pin
from tests.engine_support import MIRROR, require_engine


def fake_digest(ref: ImageRef) -> str:
    return "sha256:" + hashlib.sha256(str(ref).encode()).hexdigest()


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Environment(stdout=out, stderr=err, stdin_isatty=False))
    return code, out.getvalue(), err.getvalue()


DOCKERFILE = (
    "# syntax directives and comments survive\r\n"
    "ARG BASE=python:3.11\r\n"
    "FROM --platform=$BUILDPLATFORM python:3.11-slim-bookworm AS build\r\n"
    "RUN echo one \\\r\n"
    "    two\r\n"
    "FROM build AS test\r\n"
    "FROM $BASE AS variable\r\n"
    "FROM scratch AS empty\r\n"
    "FROM \\\r\n"
    "   gcr.io/distroless/static-debian12:nonroot\r\n"
    "COPY --from=build /a /b\r\n"
)

COMPOSE = """\
# a comment
x-base: &base
  restart: always
services:
  web:
    <<: *base
    image: 'debian:12-slim'   # keep
  db:
    image: postgres:16
  app:
    image: app:1.0
    build: .
  other:
    build: .
"""


def test_dockerfile_only_reference_bytes_change(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_bytes(DOCKERFILE.encode())
    refs = pin.references(path)
    assert [r.text for r in refs] == ["python:3.11-slim-bookworm", "gcr.io/distroless/static-debian12:nonroot"]
    changes = pin.plan_changes(refs, update=False, registry_mirror="", resolve=fake_digest)
    new_text = pin.apply_changes(path, changes)
    expected = DOCKERFILE
    for ref in ("python:3.11-slim-bookworm", "gcr.io/distroless/static-debian12:nonroot"):
        expected = expected.replace(ref, f"{ref}@{fake_digest(parse(ref))}")
    assert new_text == expected
    assert "\r\n" in new_text and new_text.count("\r\n") == DOCKERFILE.count("\r\n")


def test_compose_keeps_quotes_comments_and_anchors(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    changes = pin.plan_changes(pin.references(path), update=False, registry_mirror="", resolve=fake_digest)
    new_text = pin.apply_changes(path, changes)
    expected = COMPOSE.replace("'debian:12-slim'", f"'debian:12-slim@{fake_digest(parse('debian:12-slim'))}'")
    expected = expected.replace("postgres:16\n", f"postgres:16@{fake_digest(parse('postgres:16'))}\n")
    assert new_text == expected


def test_pinned_references_stay_unless_update(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    old = "sha256:" + "0" * 64
    path.write_text(f"FROM debian:12-slim@{old}\n")
    assert pin.plan_changes(pin.references(path), update=False, registry_mirror="", resolve=fake_digest) == []
    changes = pin.plan_changes(pin.references(path), update=True, registry_mirror="", resolve=fake_digest)
    assert pin.apply_changes(path, changes) == f"FROM debian:12-slim@{fake_digest(parse('debian:12-slim'))}\n"


def test_mirror_mapping() -> None:
    assert mirror_apply("python:3.13-slim", "m.example:5000") == "m.example:5000/library/python:3.13-slim"
    assert mirror_apply("bitnami/redis:7", "m.example/hub") == "m.example/hub/bitnami/redis:7"
    assert (mirror_apply("gcr.io/distroless/static-debian12:nonroot", "m.example")
            == "m.example/gcr.io/distroless/static-debian12:nonroot")
    assert mirror_apply("python:3.13", "") == "python:3.13"


def test_check_reports_unpinned_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM debian:12-slim\n")
    code, out, _ = run("pin", str(tmp_path), "--check")
    assert code == 1
    assert "Dockerfile:1: unpinned image debian:12-slim" in out
    assert (tmp_path / "Dockerfile").read_text() == "FROM debian:12-slim\n"


def test_unreachable_registry_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM 127.0.0.1:9/library/debian:12-slim\n")
    code, _, err = run("pin", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hardcase: error:")
    assert (tmp_path / "Dockerfile").read_text() == "FROM 127.0.0.1:9/library/debian:12-slim\n"


@pytest.mark.engine
def test_pin_resolves_through_the_local_registry(tmp_path: Path) -> None:
    require_engine()
    dockerfile = tmp_path / "Dockerfile"
    original = "# base\nFROM debian:12-slim AS base\nRUN true\n"
    dockerfile.write_text(original)
    code, _out, err = run("pin", str(tmp_path), "--registry-mirror", MIRROR)
    assert code == 0, err
    text = dockerfile.read_text()
    ref = parse(text.splitlines()[1].split()[1])
    assert ref.name == f"{MIRROR}/library/debian" and ref.digest
    # The digest is the one the registry serves for the tag.
    request = urllib.request.Request(
        f"http://{MIRROR}/v2/library/debian/manifests/12-slim", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                           "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Docker-Content-Digest"] == ref.digest
    assert (tmp_path / "Dockerfile.hardcase.bak").read_text() == original
    code, _, _ = run("pin", str(tmp_path), "--check")
    assert code == 0
