"""`harden` on one file: the hardened text and its report, for a Dockerfile or a compose file.

The CLI decides where the text goes (stdout, `-o`, `--in-place`, `--diff`); this module decides
what it is. Secret values a compose fix moves out of the file are written here, beside where the
hardened file goes (`target`: `-o OUT` or the file itself with `--in-place`), mode 0600, before
the CLI writes the file that refers to them; without a target those fixes are not made.
Findings from other flows (the org policy) come in through `extra_findings`: `harden` does not fix
them, it reports those left in the hardened text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from generator.audit.fix import HardenResult
from generator.audit.model import Violation

ExtraFindings = Callable[[Path, str], list[Violation]]


def harden_compose(file: Path, *, config_file: Path | None, unsafe: bool, public: list[str], target: Path | None,
                   output_format: str) -> tuple[HardenResult, str]:
    from generator.audit.compose import read_compose
    from generator.audit.compose_lint import harden
    from generator.audit.lint import load_config
    from generator.audit.report.model import OutputFormat, file_report
    from generator.audit.report.render import render

    parsed = read_compose(str(file))
    files: dict[str, str] = {}
    result = harden(parsed.text, str(file), load_config(config_file, "."), unsafe=unsafe, public=public,
                    secrets_dir=str(target.parent) if target is not None else None, files=files)
    if target is not None and files:
        _write_secret_files(target.parent, files)
    report = render([file_report(str(file), result.remaining, result.applied, kind="compose")],
                    OutputFormat(output_format), harden=True)
    return result, report


def _write_secret_files(directory: Path, files: dict[str, str]) -> None:
    """Secret values beside the hardened file, 0600 (less with the umask) in a 0700 `secrets`
    directory created if needed. Nothing below `directory` may be a symlink: a `secrets` link to
    elsewhere would put the values wherever it points, so it is refused before anything is written."""
    from generator.core.errors import ConflictError
    from generator.core.files import write_user_file

    for relative in sorted({Path(name).parts[0] for name in files if len(Path(name).parts) > 1}):
        if (directory / relative).is_symlink():
            raise ConflictError(f"{directory / relative} is a symlink; refusing to write secret files through it")
    for relative, content in sorted(files.items()):
        path = directory / relative
        if not (path.is_file() and not path.is_symlink()):  # a file there holds this very value (else another name)
            write_user_file(path, content.encode("utf-8"), 0o600, root=directory, make_parents=True, dir_mode=0o700)


def harden_dockerfile(file: Path, *, config_file: Path | None, unsafe: bool, pin_packages: bool,
                      package_versions: Path | None, debian_mirror: str | None, ubuntu_mirror: str | None,
                      output_format: str, extra_findings: ExtraFindings | None = None) -> tuple[HardenResult, str]:
    from generator.audit.fix import harden
    from generator.audit.lint import load_config, read_dockerfile
    from generator.audit.packages.resolvers import package_resolver
    from generator.audit.report.model import OutputFormat, file_report
    from generator.audit.report.render import render
    from generator.audit.rules.pins import active

    parsed = read_dockerfile(file)
    config = load_config(config_file, ".")
    resolver = package_resolver(pin_packages, package_versions, debian_mirror, unsafe, ubuntu_mirror)
    with active(resolver):
        result = harden(parsed, config, unsafe=unsafe)
    extra = extra_findings(file, result.text) if extra_findings is not None else []
    pins = resolver.pins_in(result.text) if resolver is not None else []
    report = render([file_report(str(file), result.remaining + extra, result.applied, pins)],
                    OutputFormat(output_format), harden=True)
    return result, report
