"""Issue #11, item 5: `banned_packages` sees every way a RUN installs a package.

RUN lines are read with a bash grammar, so option order, wrappers (`sudo`, `env`), `sh -c`, the exec
form, heredocs, `&&`/`;`/`|` chains, quotes and line continuations do not hide an install; a
package named by a variable cannot be checked, which is a violation. Checked through `hardcase
check` (the Dockerfile findings) and `evaluate` (what `new` and `policy audit` run).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scaffold_support import run_cli

from generator.policy import files as policy
from generator.policy.rules import evaluate

POLICY = "banned_packages: [curl, 'telnet*', left-pad, '@evil/*']\n"
HEAD = "FROM debian:12\n"

BANNED = [
    "RUN apt-get -y install curl",
    "RUN apt-get install -y --no-install-recommends curl",
    "RUN apt-get -o Dpkg::Options::=--force-confold install curl",
    "RUN apt-get -o Dpkg::Options::=--force-confold -q -y install wget curl=7.88.1-10",
    "RUN apt-get install -t bookworm-backports curl/bookworm-backports",
    "RUN apt-get install curl:amd64",
    "RUN apt install -y cur*",
    "RUN apk --no-cache add curl",
    "RUN apk add --virtual .build-deps gcc curl",
    "RUN apk add --no-cache curl=8.5.0-r0",
    "RUN pip install --user curl==1",
    "RUN pip3 install --no-cache-dir -U 'telnetlib3>=2'",
    "RUN python3 -m pip install telnetlib3",
    "RUN uv pip install --system telnetlib3",
    "RUN npm i -g left-pad",
    "RUN npm install --save left-pad@1.3.0",
    "RUN npm i lodash@npm:left-pad@1",
    "RUN yarn global add left-pad",
    "RUN pnpm add @evil/pkg",
    "RUN yum -y install curl",
    "RUN dnf install -y curl-7.61.1-22.el8.x86_64",
    "RUN microdnf install curl.x86_64",
    "RUN gem install curl",
    "RUN env DEBIAN_FRONTEND=noninteractive apt-get install curl",
    "RUN DEBIAN_FRONTEND=noninteractive apt-get install curl",
    "RUN sudo -E -u root apt-get install curl",
    "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*",
    "RUN apt-get update; apt-get install -y curl",
    "RUN echo y | apt-get install curl",
    "RUN set -eux; \\\n    apt-get update; \\\n    apt-get install -y \\\n        ca-certificates \\\n        curl",
    "RUN apt-get install \"cu\"'rl'",
    "RUN \\apt-get install curl",
    "RUN /usr/bin/apt-get install curl",
    "RUN sh -c 'apt-get install -y curl'",
    "RUN bash -ex -c \"apt-get update && apt-get install curl\"",
    "RUN su -c 'apk add curl' root",
    "RUN eval apt-get install curl",
    "RUN if true; then apt-get install curl; fi",
    "RUN for i in 1; do (apk add curl); done",
    "RUN x=$(apt-get install curl)",
    'RUN ["sh", "-c", "apt-get install curl"]',
    'RUN ["apt-get", "install", "-y", "curl"]',
    "RUN <<EOF\napt-get update\napt-get install -y curl\nEOF",
    "RUN <<EOF bash\nset -e\napk add curl\nEOF",
    "RUN <<-EOT sh -ex\n\tyum -y install curl\n\tEOT",
    "RUN <<EOF\napt-get install -y \\\n    --no-install-recommends \\\n    curl\nEOF",
    "RUN <<EOF\nsh -c 'apk add curl' && echo done\nEOF",
    "RUN --mount=type=cache,target=/var/cache/apt apt-get install curl",
    "ONBUILD RUN apt-get install curl",
    "RUN timeout 600 apt-get install curl",
    "RUN apt-get install {curl,wget}",
    "RUN apt-get install $PKG",
    "RUN apt-get install ${PACKAGES:-curl}",
    "RUN apt-get install $(cat packages.txt)",
    "RUN cat packages.txt | xargs apt-get install -y",
]


def check_rules(tmp_path: Path, line: str) -> tuple[int, list[str]]:
    (tmp_path / policy.POLICY_FILE).write_text(POLICY, encoding="utf-8")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(HEAD + line + "\n", encoding="utf-8")
    result = run_cli("check", dockerfile, "--format", "json", "--fail-on", "error")
    assert result.stderr == "", result.stderr
    items = json.loads(result.stdout)["files"][0]["findings"]
    return result.exit_code, [str(f["rule"]) for f in items if str(f["rule"]).startswith("POL")]


@pytest.fixture(autouse=True)
def _no_org_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(policy.POLICY_ENV, raising=False)


def evaluated(tmp_path: Path, line: str) -> list[str]:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    return [v.value for v in evaluate(policy.load(path), HEAD + line + "\n", None)]


@pytest.mark.parametrize("line", BANNED)
def test_every_way_to_install_a_banned_package_is_seen(tmp_path: Path, line: str) -> None:
    assert evaluated(tmp_path, line), line


ALLOWED = [
    "RUN apt-get install -y curl-dev libcurl4 ca-certificates",
    "RUN apk add --virtual curl wget",  # --virtual NAME: `curl` is the virtual package's name
    "RUN pip install -r curl.txt --target /curl ./wget -c telnet.txt",
    "RUN apt-get -o curl=1 install wget",
    "RUN apt-get remove curl && apt-get purge -y telnet",
    "RUN npm ci && npm run curl",
    "RUN echo apt-get install curl",
    "RUN curl --version",
    "RUN cat > /etc/apt/preferences.d/no-curl <<EOF\nPackage: curl\nPin-Priority: -1\nEOF",
]


@pytest.mark.parametrize("line", ALLOWED)
def test_options_files_and_other_commands_are_not_packages(tmp_path: Path, line: str) -> None:
    assert evaluated(tmp_path, line) == []


def test_check_reports_the_bypasses_as_policy_findings(tmp_path: Path) -> None:
    code, rules = check_rules(tmp_path, "RUN apt-get -y install curl")
    assert (code, rules) == (1, ["POL013"])
    code, rules = check_rules(tmp_path, "RUN <<EOF\napk --no-cache add curl\nEOF")
    assert (code, rules) == (1, ["POL013"])


def test_a_package_from_a_variable_is_reported_as_unknowable(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    (violation,) = evaluate(policy.load(path), HEAD + "RUN apt-get install -y \"$PKG\"\n", None)
    assert (violation.rule, violation.value) == ("POL013", '"$PKG"')
    assert "cannot be checked" in violation.message
