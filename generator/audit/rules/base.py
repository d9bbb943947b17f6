"""Base images: a named tag, and a digest so the same bytes are pulled every time."""

from __future__ import annotations

import re
from collections.abc import Iterator

from generator.audit.dockerfile import Instruction, ParsedDockerfile
from generator.audit.model import Edit, Fix, FixSafety, Rule, Severity, Violation
from generator.core.imageref import image_name, image_tag


def _external_froms(parsed: ParsedDockerfile) -> Iterator[tuple[Instruction, str]]:
    """FROM lines that pull an image: not scratch, not an earlier stage, not built from a variable."""
    names: set[str] = set()
    for stage in parsed.stages:
        instruction = parsed.instructions[stage.from_instruction]
        ref = stage.base
        if ref.lower() not in names and ref.lower() != "scratch" and "$" not in ref:
            yield instruction, ref
        if stage.name:
            names.add(stage.name)


def _ref_edit(parsed: ParsedDockerfile, instruction: Instruction, old: str, new: str) -> Edit | None:
    source = parsed.source(instruction)
    match = re.search(rf"(?<=\s){re.escape(old)}(?=\s|$)", source)
    if match is None:
        return None
    return Edit(instruction.start + match.start(), instruction.start + match.end(), new)


def check_latest(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that every pulled base image names a tag other than `latest`.

    Why is this bad?
    `latest` (and no tag, which means `latest`) moves: the next build silently gets a new major
    version, a different distribution or an image nobody reviewed (CIS Docker Benchmark 4.2).

    Example:
    ```dockerfile
    FROM python
    ```

    Use instead:
    ```dockerfile
    FROM python:3.14-slim-trixie@sha256:83ff1d24…
    ```

    Fix safety:
    Needs review. The tag has to be guessed: the fix picks the newest tag of the same image in
    hardcase's base-image catalog and its digest (a slim variant may lack tools the full image had).
    Images that are not in the catalog are only reported; pin them by hand, then `hardcase pin`.
    """
    for instruction, ref in _external_froms(parsed):
        if "@" in ref:
            continue
        tag = image_tag(ref)
        if tag is None or tag == "latest":
            yield LATEST.violation(instruction.start_line, ref, instruction=instruction.index)


def _catalog_choice(ref: str) -> str | None:
    from generator.core.catalog import images

    name = image_name(ref)
    candidates = [key for key in images() if image_name(key) == name and image_tag(key) != "latest"]

    def version(key: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", image_tag(key) or ""))

    if not candidates:
        return None
    return images()[max(candidates, key=version)].pinned


def fix_latest(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    instruction = parsed.instructions[violation.instruction]
    ref = instruction.value[0]
    choice = _catalog_choice(ref)
    edit = _ref_edit(parsed, instruction, ref, choice) if choice else None
    return Fix((edit,), FixSafety.NEEDS_REVIEW, f"{ref} -> {choice}") if edit and choice else None


def check_digest(parsed: ParsedDockerfile) -> Iterator[Violation]:
    """What it does:
    Checks that every pulled base image with a tag is also pinned by digest (`name:tag@sha256:…`).

    Why is this bad?
    A tag is a pointer that its publisher (or anyone who compromises the registry account) can move;
    only a digest names the exact bytes that were reviewed (CIS Docker Benchmark 4.2).

    Example:
    ```dockerfile
    FROM debian:12-slim
    ```

    Use instead:
    ```dockerfile
    FROM debian:12-slim@sha256:88200866…
    ```

    Fix safety:
    Needs review. The digest comes from hardcase's base-image catalog, which records where each
    digest was published; it may be older than what the tag points to today. Run `hardcase pin` to
    resolve the current digest from the registry instead. Images outside the catalog are reported.
    """
    for instruction, ref in _external_froms(parsed):
        tag = image_tag(ref)
        if "@" not in ref and tag is not None and tag != "latest":
            yield DIGEST.violation(instruction.start_line, f"{ref} (run `hardcase pin`)", instruction=instruction.index)


def fix_digest(parsed: ParsedDockerfile, violation: Violation) -> Fix | None:
    from generator.core.catalog import images

    instruction = parsed.instructions[violation.instruction]
    ref = instruction.value[0]
    entry = images().get(ref) or images().get(ref.removeprefix("docker.io/").removeprefix("library/"))
    if entry is None:
        return None
    edit = _ref_edit(parsed, instruction, ref, f"{ref}@{entry.digest}")
    return Fix((edit,), FixSafety.NEEDS_REVIEW, f"digest from the catalog ({entry.source[:60]})") if edit else None


LATEST = Rule("HC010", "latest-base-image", Severity.WARNING, "base image is untagged or `latest`", "4.2", "DL3007",
              check_latest, fix_latest, FixSafety.NEEDS_REVIEW)
DIGEST = Rule("HC011", "base-image-without-digest", Severity.INFO, "base image is not pinned by digest", "4.2", None,
              check_digest, fix_digest, FixSafety.NEEDS_REVIEW)
RULES = (LATEST, DIGEST)
