"""Issue #11, custom templates: no output under a VCS/control directory, no symlink out of the template, and
errors in a template's own code as one line naming the template file (never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from scaffold_support import (
    TEMPLATE_PROJECT,
    CliResult,
    assert_one_line_error,
    files_under,
    make_template,
    run_cli,
    run_ok,
)
from test_templates_custom import git_repo

PRESET = "go-stdlib"
SECRET = "TOP-SECRET-KEY-MATERIAL"


def new(dest: Path, template: Path | str, *extra: str) -> CliResult:
    return run_cli("new", dest, "--template", template, "--preset", PRESET, "--no-input", *extra)


def set_variable(template: Path, key: str, value: object) -> None:
    config = json.loads((template / "cookiecutter.json").read_text())
    config[key] = value
    (template / "cookiecutter.json").write_text(json.dumps(config))


def add_file(template: Path, relative: str, text: str = "planted\n") -> None:
    target = template / TEMPLATE_PROJECT / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def assert_nothing_planted(root: Path) -> None:
    """No file of any run below `root` holds the secret or sits under a VCS directory."""
    for path in root.rglob("*"):
        if path.is_file() and "org-template" not in path.parts and "outside" not in path.parts:
            assert SECRET not in path.read_text(errors="replace"), path
            assert ".git" not in [p.lower() for p in path.parts], path


# --- 1. output paths never name a VCS or control directory ------------------------------------------

CONTROL_PATHS = [
    # (file name in the template's project directory, extra cookiecutter.json variables)
    ('{{ ".gi" ~ "t" }}/hooks/pre-commit', {}),
    ("{{ cookiecutter.vcs }}/hooks/post-checkout", {"vcs": ".git"}),
    ("{{ cookiecutter.vcs }}/config", {"vcs": ".GiT"}),
    ("{{ cookiecutter.vcs }}/config", {"vcs": ".git."}),  # Windows drops the trailing dot
    ("{{ cookiecutter.vcs }}/config", {"vcs": ".g\u200cit"}),  # HFS+ ignores the zero-width joiner
    ("{{ cookiecutter.vcs }}/config", {"vcs": "GIT~1"}),  # the NTFS short name of .git
    ("{{ cookiecutter.vcs }}", {"vcs": ".git"}),  # a `.git` file (gitdir: pointer) is as bad
    ("app/{{ cookiecutter.vcs }}/hooks/pre-commit", {"vcs": ".git"}),  # nested repositories too
    ("{{ cookiecutter.vcs }}/hgrc", {"vcs": ".hg"}),
    ("{{ cookiecutter.vcs }}/entries", {"vcs": ".svn"}),
    ("{{ cookiecutter.vcs }}/branch.conf", {"vcs": ".bzr"}),
    ("{{ cookiecutter.vcs }}/Root", {"vcs": "CVS"}),
    ("{{ cookiecutter.vcs }}/prefs/defaults", {"vcs": "_darcs"}),
    ("{{ cookiecutter.vcs }}/repo/config.toml", {"vcs": ".jj"}),
    ("{{ cookiecutter.meta }}", {"meta": ".hardcase.yml"}),  # would redirect the next `update`
    ("{{ cookiecutter.meta }}/base/Dockerfile", {"meta": ".hardcase"}),  # would fake update's merge base
]


@pytest.mark.parametrize(("filename", "variables"), CONTROL_PATHS, ids=[f"{i}-{p[0][:24]}" for i, p in
                                                                          enumerate(CONTROL_PATHS)])
def test_a_template_cannot_write_into_a_vcs_or_control_directory(
        tmp_path: Path, filename: str, variables: dict[str, str]) -> None:
    template = make_template(tmp_path)
    for key, value in variables.items():
        set_variable(template, key, value)
    add_file(template, filename, "#!/bin/sh\necho pwned\n")
    dest = tmp_path / "out" / "svc"
    message = assert_one_line_error(new(dest, template), 3, mentions="control directory")
    assert "nothing written" in message
    assert not (tmp_path / "out").exists()


def test_a_trusted_hook_cannot_plant_a_git_hook_either(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / "hooks").mkdir()
    (template / "hooks" / "post_gen_project.py").write_text(
        "from pathlib import Path\n"
        "Path('.git/hooks').mkdir(parents=True)\n"
        "Path('.git/hooks/pre-commit').write_text('#!/bin/sh\\necho pwned\\n')\n")
    dest = tmp_path / "svc"
    assert_one_line_error(new(dest, template, "--trust-template-hooks"), 3, mentions=".git")
    assert not dest.exists()


def test_update_refuses_a_template_that_now_writes_a_git_hook(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    dest = tmp_path / "svc"
    run_ok("new", dest, "--template", template, "--preset", PRESET, "--no-input")
    before = files_under(dest)
    add_file(template, '{{ "." ~ "git" }}/hooks/post-merge', "#!/bin/sh\necho pwned\n")
    assert_one_line_error(run_cli("update", dest), 3, mentions="control directory")
    assert files_under(dest) == before


def test_github_workflows_stay_allowed(tmp_path: Path) -> None:
    """The documented choice: .github/ is tracked and reviewed content, so templates may ship workflows."""
    template = make_template(tmp_path)
    add_file(template, ".github/workflows/scan.yml", "on: push\n")
    add_file(template, ".gitignore", "*.pyc\n")  # a name that merely starts like a VCS directory
    dest = tmp_path / "svc"
    run_ok("new", dest, "--template", template, "--preset", PRESET, "--no-input")
    assert (dest / ".github" / "workflows" / "scan.yml").read_text() == "on: push\n"
    assert (dest / ".gitignore").is_file()


# --- 2. no symlink out of the template ---------------------------------------------------------------


def outside(tmp_path: Path) -> Path:
    """A directory next to the template holding what a template must never read."""
    found = tmp_path / "outside"
    found.mkdir(exist_ok=True)
    (found / "id_ed25519").write_text(SECRET + "\n")
    return found


def link_templates_dir(template: Path, away: Path) -> str:
    shutil.copytree(template / "templates", away / "templates")
    (away / "templates" / "go.Dockerfile").write_text(SECRET + "\n")
    shutil.rmtree(template / "templates")
    os.symlink(away / "templates", template / "templates")
    return "templates"


def link_include(template: Path, away: Path) -> str:
    (template / "templates" / "go.Dockerfile").unlink()
    os.symlink(away / "id_ed25519", template / "templates" / "go.Dockerfile")
    return "templates/go.Dockerfile"


def link_project_dir(template: Path, away: Path) -> str:
    shutil.copytree(template / TEMPLATE_PROJECT, away / "project")
    (away / "project" / "KEY.txt").write_text(SECRET + "\n")
    shutil.rmtree(template / TEMPLATE_PROJECT)
    os.symlink(away / "project", template / TEMPLATE_PROJECT)
    return TEMPLATE_PROJECT


def link_config(template: Path, away: Path) -> str:
    config = json.loads((template / "cookiecutter.json").read_text())
    config["key"] = SECRET
    (away / "cookiecutter.json").write_text(json.dumps(config))
    (template / "cookiecutter.json").unlink()
    os.symlink(away / "cookiecutter.json", template / "cookiecutter.json")
    (template / TEMPLATE_PROJECT / "KEY.txt").write_text("{{ cookiecutter.key }}\n")
    return "cookiecutter.json"


def link_relative_escape(template: Path, away: Path) -> str:
    os.symlink("../../outside/id_ed25519", template / "templates" / "key.inc")
    (template / TEMPLATE_PROJECT / "KEY.txt").write_text('{% include "key.inc" %}\n')
    return "templates/key.inc"


def link_presets(template: Path, away: Path) -> str:
    (away / "presets").mkdir()
    (away / "presets" / "go-stdlib.yaml").write_text(f"description: {SECRET}\nanswers: {{language: go}}\n")
    os.symlink(away / "presets", template / "presets")
    return "presets"


LINKS = {"templates-dir": link_templates_dir, "include": link_include, "project-dir": link_project_dir,
         "cookiecutter-json": link_config, "relative": link_relative_escape, "presets": link_presets}


@pytest.mark.parametrize("kind", list(LINKS))
def test_a_symlink_out_of_the_template_is_refused_naming_the_link(tmp_path: Path, kind: str) -> None:
    template = make_template(tmp_path)
    link = LINKS[kind](template, outside(tmp_path))
    dest = tmp_path / "svc"
    message = assert_one_line_error(new(dest, template), 3, mentions=repr(link))
    assert "outside the template" in message
    assert not dest.exists()
    assert_nothing_planted(tmp_path)


def test_a_symlink_out_of_a_git_template_is_refused(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    link = link_relative_escape(template, outside(tmp_path))
    # In the clone the link points at ../../outside/id_ed25519 relative to the clone: still out of it.
    url = git_repo(template)
    dest = tmp_path / "svc"
    assert_one_line_error(new(dest, url), 3, mentions=repr(link))
    assert not dest.exists()


def test_a_symlink_that_stays_inside_the_template_still_works(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    os.symlink("go.Dockerfile", template / "templates" / "alias.Dockerfile")
    (template / TEMPLATE_PROJECT / "ALIAS.txt").write_text('{% include "alias.Dockerfile" %}')
    dest = tmp_path / "svc"
    run_ok("new", dest, "--template", template, "--preset", PRESET, "--no-input")
    assert (dest / "ALIAS.txt").read_text().startswith("# Build stage")


# --- 6. errors in a template's own code: one line naming the file --------------------------------------

BROKEN = {
    "syntax": ("{% if %}\n", "BROKEN.txt line 1", "TemplateSyntaxError"),
    "undefined": ("ok\n{{ cookiecutter.nope }}\n", "BROKEN.txt line 2", "UndefinedError"),
    "sandbox": ("{{ cookiecutter.name.__class__.__mro__ }}\n", "BROKEN.txt", "SecurityError"),
    "sandbox-mutation": ("{{ cookiecutter._hc.ports.append(1) }}\n", "BROKEN.txt", "SecurityError"),
    "missing-include": ('{% include "nope.inc" %}\n', "BROKEN.txt", "TemplateNotFound"),
    "zero-division": ("{{ 1 // 0 }}\n", "BROKEN.txt line 1", "ZeroDivisionError"),
    "type": ('{{ "a" + 1 }}\n', "BROKEN.txt line 1", "TypeError"),
    "huge-repeat": ('{{ "x" * 10 ** 10 }}\n', "BROKEN.txt line 1", "SecurityError"),
    "huge-power": ("{{ 7 ** 99999999 }}\n", "BROKEN.txt line 1", "SecurityError"),
    "range": ("{% for i in range(10 ** 9) %}{% endfor %}\n", "BROKEN.txt", "OverflowError"),
    "recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\n", "BROKEN.txt", "RecursionError"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_error_in_template_code_is_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    text, where, kind = BROKEN[case]
    template = make_template(tmp_path)
    add_file(template, "BROKEN.txt", text)
    dest = tmp_path / "svc"
    message = assert_one_line_error(new(dest, template), 2, mentions=where)
    assert kind in message
    assert not dest.exists()


def test_an_error_inside_an_include_names_the_included_file(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / "templates" / "bad.inc").write_text("fine\nfine\n{{ cookiecutter.nope }}\n")
    add_file(template, "BROKEN.txt", '{% include "bad.inc" %}\n')
    message = assert_one_line_error(new(tmp_path / "svc", template), 2, mentions="templates/bad.inc line 3")
    assert "UndefinedError" in message


def test_an_error_in_a_file_name_names_the_template_path(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    add_file(template, "{{ cookiecutter.nope }}.txt")
    assert_one_line_error(new(tmp_path / "svc", template), 2, mentions="{{ cookiecutter.nope }}.txt")


def test_a_template_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / TEMPLATE_PROJECT / "BINARY.txt").write_bytes(b"\xff\xfe{{ x }}\x80\n")
    assert_one_line_error(new(tmp_path / "svc", template), 2, mentions="BINARY.txt")


@pytest.mark.parametrize(("content", "mentions"), [
    ("[]", "JSON object"),
    ('"text"', "JSON object"),
    ('{"_copy_without_render": 5}', "_copy_without_render"),
    ('{"_copy_without_render": [1]}', "_copy_without_render"),
    ("[" * 100_000 + "]" * 100_000, "cookiecutter.json"),
], ids=["array", "string", "copy-int", "copy-list-of-int", "deep"])
def test_a_malformed_cookiecutter_json_is_one_line(tmp_path: Path, content: str, mentions: str) -> None:
    template = make_template(tmp_path)
    (template / "cookiecutter.json").write_text(content)
    assert_one_line_error(new(tmp_path / "svc", template), 2, mentions=mentions)


def test_a_cookiecutter_json_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (template / "cookiecutter.json").write_bytes(b'{"name": "\xff"}')
    assert_one_line_error(new(tmp_path / "svc", template), 2, mentions="cookiecutter.json")
