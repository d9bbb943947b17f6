"""Issue #11, the generated .dockerignore keeps every common credential file out of the build context, at
the top and inside the directories it re-includes: checked with moby's pattern rules, and with a real
build whose context is copied out (`FROM scratch`, `COPY . /ctx`, `--output type=local`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scaffold_support import dockerignore_excludes, dockerignore_patterns, files_under, preset_names, run_ok

from generator.engine import docker as engine
from tests.engine_support import require_engine

# Credential files developers keep next to code: keys and certificates, SSH, cloud, registry and package
# manager credentials, environment files, and VCS metadata.
CREDENTIALS = (
    ".env", ".env.production", "server.pem", "tls.key", "tls.crt", "client.p12", "client.pfx", "keystore.jks",
    "release.keystore", "id_rsa", "id_rsa.pub", "id_dsa", "id_ecdsa", "id_ecdsa.pub", "id_ed25519",
    "id_ed25519.pub", ".ssh/config", ".ssh/id_ed25519", ".aws/credentials", ".aws/config",
    ".docker/config.json", ".kube/config", ".azure/accessTokens.json", ".config/gcloud/credentials.db",
    ".gnupg/private-keys-v1.d/key.key", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", "pip.conf", ".netrc",
    ".git-credentials", "secrets/api_key", ".git/config", ".git/hooks/pre-commit", ".hg/hgrc", ".svn/entries",
)


def presets_by_language() -> list[str]:
    seen: dict[str, str] = {}
    for name in preset_names():
        seen.setdefault(name.split("-")[0], name)
    return sorted(seen.values())


def generated(tmp_path: Path, preset: str) -> Path:
    dest = tmp_path / "svc"
    run_ok("new", dest, "--preset", preset, "--no-input", "--with-app")
    return dest


def reincluded_dirs(dockerignore: Path) -> list[str]:
    """The directories the allowlist re-includes (`!src/`), plus the context root."""
    return [""] + [p.rstrip("/") + "/" for negated, p in dockerignore_patterns(dockerignore)
                   if negated and "*" not in p and "." not in p]


def planted_paths(dest: Path) -> list[str]:
    dirs = reincluded_dirs(dest / ".dockerignore")
    assert len(dirs) > 1, "the .dockerignore re-includes no directory: the test would prove little"
    return [f"{base}{deep}{name}" for base in dirs for deep in ("", "lib/nested/") for name in CREDENTIALS]


@pytest.mark.parametrize("preset", presets_by_language())
def test_credentials_are_excluded_by_the_pattern_rules(tmp_path: Path, preset: str) -> None:
    dest = generated(tmp_path, preset)
    patterns = dockerignore_patterns(dest / ".dockerignore")
    leaked = [path for path in planted_paths(dest) if not dockerignore_excludes(patterns, path)]
    assert not leaked, f"reach the build context: {leaked}"


@pytest.mark.engine
@pytest.mark.parametrize("preset", presets_by_language())
def test_credentials_never_reach_a_real_build_context(tmp_path: Path, preset: str) -> None:
    require_engine()
    dest = generated(tmp_path, preset)
    sources = {rel for rel in files_under(dest) if not rel.startswith(".hardcase")}
    planted = planted_paths(dest)
    for relative in planted:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("credential\n")
    dockerfile = tmp_path / "Context.Dockerfile"  # outside the context, so no Context.Dockerfile.dockerignore
    dockerfile.write_text("FROM scratch\nCOPY . /ctx\n")
    out = tmp_path / "out"
    result = engine.docker("build", "-q", "-f", str(dockerfile), "--output", f"type=local,dest={out}", str(dest),
                           check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    arrived = set(files_under(out / "ctx"))
    assert not arrived & set(planted), f"reached the build context: {sorted(arrived & set(planted))}"
    app = {rel for rel in sources if rel not in {"Dockerfile", "compose.yaml", "README.Docker.md", "seccomp.json",
                                                 ".dockerignore", ".hardcase.yml"}}
    assert app and app <= arrived, f"app sources missing from the context: {sorted(app - arrived)}"
