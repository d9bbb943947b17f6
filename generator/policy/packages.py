"""Which packages a RUN instruction installs, for `banned_packages` (POL013).

A RUN is read as the shell would run it (`generator.core.shellwords`: a real bash grammar), then each
simple command is unwrapped the way the kernel would see it: `sudo`, `env A=1`, `nice`, `timeout 9`,
`/usr/bin/apt-get`, `sh -c '...'`, `bash -ex -c "..."`, `su -c '...'`, `eval "..."` and heredoc
bodies all reach the command inside. A package manager is then read by its own grammar: global
options (and the ones that take a value: `apt-get -o X`, `apk --virtual NAME`, `pip -r FILE`) come
before or after the verb in any order, and every other word after an install verb is a package spec.

A spec is reduced to the names it may install (`curl=7.88*`, `curl:amd64`, `curl/bookworm`,
`requests[socks]>=2`, `left-pad@1`, `alias@npm:real@1`, `curl-7.61.1-1.el8.x86_64`); a spec that
depends on the build environment (`$PKG`, `$(cat list)`) yields no name and is reported as
undecidable by the caller. Paths, URLs and requirement files are not package names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from generator.core.shellwords import Word, commands

MAX_DEPTH = 8
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
# Wrappers that run the rest of their words as a command: name -> options that take a value.
WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group", "--host",
                       "--prompt", "--close-from", "--chdir", "--role", "--type", "--other-user",
                       "--command-timeout"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "-n", "-p", "--class", "--classdata"}),
    "nohup": frozenset(), "time": frozenset({"-f", "-o"}), "exec": frozenset({"-a"}), "command": frozenset(),
    "builtin": frozenset(), "stdbuf": frozenset({"-i", "-o", "-e"}), "chronic": frozenset(),
    "xargs": frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter",
                        "--max-args", "--max-procs", "--max-chars", "--replace"}),
    "runuser": frozenset({"-u", "-g", "-G", "--user", "--group", "--supp-group"}),
    "setpriv": frozenset(), "catatonit": frozenset(), "tini": frozenset(), "dumb-init": frozenset(),
    "unshare": frozenset(), "fakeroot": frozenset(), "eatmydata": frozenset(),
}
WRAPPERS_WITH_ARGUMENT = {"timeout": 1, "chroot": 1, "chpst": 0}  # positional words before the command


@dataclass(frozen=True)
class Manager:
    """A package manager's grammar: its install verbs and the options that take a value."""

    verbs: frozenset[str]
    valued: frozenset[str]
    style: str  # how a spec names its package: deb, apk, pip, npm, rpm, gem, plain


_APT_VALUED = frozenset({"-o", "--option", "-c", "--config-file", "-t", "--target-release", "--default-release",
                         "-a", "--host-architecture"})
_RPM_VALUED = frozenset({"-c", "--config", "--installroot", "--releasever", "--enablerepo", "--disablerepo",
                         "--repo", "--repoid", "--setopt", "-x", "--exclude", "--forcearch", "-d", "--debuglevel",
                         "-e", "--errorlevel", "--downloaddir", "--destdir", "--repofrompath", "--color"})
_PIP_VALUED = frozenset({"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target",
                         "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--prefix", "--root",
                         "--src", "--upgrade-strategy", "--platform", "--python-version", "--implementation",
                         "--abi", "--progress-bar", "--log", "--cache-dir", "--cert", "--client-cert", "--proxy",
                         "--retries", "--timeout", "--exists-action", "--trusted-host", "--global-option",
                         "-C", "--config-settings", "--report", "--only-binary", "--no-binary", "--python",
                         "-p", "--index", "--default-index", "--extra-index", "--group"})
_NPM_VALUED = frozenset({"--prefix", "--registry", "--cache", "--userconfig", "-w", "--workspace", "--omit",
                         "--include", "--save-prefix", "--tag", "--cwd", "--dir", "-C", "--filter",
                         "--network-timeout", "--modules-folder"})
MANAGERS: dict[str, Manager] = {
    "apt-get": Manager(frozenset({"install"}), _APT_VALUED, "deb"),
    "apt": Manager(frozenset({"install"}), _APT_VALUED, "deb"),
    "aptitude": Manager(frozenset({"install"}), _APT_VALUED, "deb"),
    "apk": Manager(frozenset({"add"}), frozenset({"-t", "--virtual", "-X", "--repository", "-p", "--root",
                                                  "--keys-dir", "--repositories-file", "--arch", "--cache-dir",
                                                  "--cache-max-age", "--timeout"}), "apk"),
    "yum": Manager(frozenset({"install", "reinstall", "localinstall"}), _RPM_VALUED, "rpm"),
    "dnf": Manager(frozenset({"install", "reinstall"}), _RPM_VALUED, "rpm"),
    "dnf5": Manager(frozenset({"install", "reinstall"}), _RPM_VALUED, "rpm"),
    "microdnf": Manager(frozenset({"install", "reinstall"}), _RPM_VALUED, "rpm"),
    "tdnf": Manager(frozenset({"install", "reinstall"}), _RPM_VALUED, "rpm"),
    "zypper": Manager(frozenset({"install", "in"}), frozenset({"-r", "--repo", "--root", "-C"}), "rpm"),
    "pip": Manager(frozenset({"install"}), _PIP_VALUED, "pip"),
    "pipx": Manager(frozenset({"install"}), _PIP_VALUED | {"--suffix", "--pip-args", "--index-url"}, "pip"),
    "uv": Manager(frozenset({"add"}), _PIP_VALUED, "pip"),  # `uv pip install` is read as pip (see _manager)
    "npm": Manager(frozenset({"install", "i", "in", "ins", "inst", "insta", "instal", "isnt", "isnta", "isntal",
                              "isntall", "add"}), _NPM_VALUED, "npm"),
    "yarn": Manager(frozenset({"add"}), _NPM_VALUED, "npm"),
    "pnpm": Manager(frozenset({"add", "install", "i"}), _NPM_VALUED, "npm"),
    "bun": Manager(frozenset({"add", "install", "i"}), _NPM_VALUED, "npm"),
    "gem": Manager(frozenset({"install"}), frozenset({"-v", "--version", "-i", "--install-dir", "-n", "--bindir",
                                                      "-s", "--source", "--platform"}), "gem"),
    "cargo": Manager(frozenset({"install"}), frozenset({"--version", "--vers", "--git", "--branch", "--tag",
                                                        "--rev", "--path", "--root", "--index", "--registry",
                                                        "-j", "--jobs", "--target", "--features", "-F"}), "plain"),
}
ARCHES = ("x86_64", "aarch64", "noarch", "i686", "i386", "ppc64le", "s390x", "armv7hl", "src")


@dataclass(frozen=True)
class Installed:
    """One package spec of an install command: the names it may install (empty: cannot tell)."""

    spec: str
    names: tuple[str, ...]


def _name(word: Word) -> str | None:
    return None if word.value is None else word.value.rsplit("/", 1)[-1]


def _shell_script(words: Sequence[Word]) -> tuple[str | None, int]:
    """The script of `sh [opts] -c SCRIPT` / `su [user] -c SCRIPT` (None: no -c; "" part: unknowable)."""
    for i, word in enumerate(words[1:], start=1):
        value = word.value or ""
        if value == "--":
            break
        if value.startswith("-") and not value.startswith("--") and "c" in value[1:]:
            if i + 1 < len(words):
                return words[i + 1].value, i + 1
            return None, i
        if value == "--command" and i + 1 < len(words):
            return words[i + 1].value, i + 1
    return None, -1


def _unwrap(words: Sequence[Word]) -> Iterator[Sequence[Word] | str]:
    """The command(s) `words` really runs: word lists, or scripts (str) to read again. After `xargs`
    the command also gets words from its input, which nothing here can read: a `Word` with no value
    stands for them."""
    fed = False
    while words:
        name = _name(words[0])
        if name is None:
            return
        if name in SHELLS or (name in ("su", "runuser") and any(w.value == "-c" for w in words)):
            rest = words[1:] if name == "busybox" and len(words) > 1 and _name(words[1]) in SHELLS else words
            script, at = _shell_script(rest)
            if at > 0:
                if script is not None:
                    yield script
                return
            if name == "busybox" and len(words) > 1:
                words = words[1:]  # `busybox apk add x`
                continue
            return  # a shell reading a file or stdin (a heredoc body is read on its own)
        if name == "eval":
            if all(w.value is not None for w in words[1:]):
                yield " ".join(w.value or "" for w in words[1:])
            return
        if name in WRAPPERS or name in WRAPPERS_WITH_ARGUMENT:
            valued = WRAPPERS.get(name, frozenset())
            i = 1
            while i < len(words):
                value = words[i].value or ""
                if value == "--":
                    i += 1
                    break
                if name == "env" and "=" in value and not value.startswith("-"):
                    i += 1
                elif value.startswith("-") and len(value) > 1:
                    i += 2 if value in valued else 1
                else:
                    break
            i += WRAPPERS_WITH_ARGUMENT.get(name, 0)
            fed = fed or name == "xargs"
            words = words[i:]
            continue
        yield [*words, Word("(xargs input)", None)] if fed else words
        return


def _manager(words: Sequence[Word]) -> tuple[Manager, Sequence[Word]] | None:
    """The package manager `words` calls and its arguments (`python3 -m pip`, `uv pip` are pip)."""
    name = _name(words[0]) or ""
    if re.fullmatch(r"python[0-9.]*|py", name) and len(words) > 2 and words[1].value == "-m":
        module = words[2].value or ""
        return (MANAGERS["pip"], words[3:]) if module in ("pip", "pip3") else None
    if name == "uv" and len(words) > 1 and words[1].value == "pip":
        return MANAGERS["pip"], words[2:]
    if re.fullmatch(r"pip[0-9.]*", name):
        name = "pip"
    manager = MANAGERS.get(name)
    return (manager, words[1:]) if manager else None


def _specs(manager: Manager, args: Sequence[Word]) -> Iterator[Word]:
    """The words after an install verb that are package specs (options in any order around the verb)."""
    verb_seen = False
    i = 0
    while i < len(args):
        word = args[i]
        value = word.value
        i += 1
        if value == "--":
            if verb_seen:
                yield from args[i:]
            return
        if value is not None and value.startswith("-") and len(value) > 1:
            if value in manager.valued:
                i += 1
            continue
        if not verb_seen:
            if value == "global":  # `yarn global add X`
                continue
            if value not in manager.verbs:
                return  # not an install command (update, remove, ci, ...)
            verb_seen = True
            continue
        yield word


def names(spec: str, style: str) -> tuple[str, ...]:
    """The package names a spec may install; () for a path, URL or requirement file."""
    text = spec.strip()
    if not text or text.startswith((".", "/", "~")) or "://" in text or text.endswith((".txt", ".whl", ".deb",
                                                                                       ".rpm", ".apk", ".tgz")):
        return ()
    if style == "npm":
        scope = ""
        if text.startswith("@"):
            scope, _, text = text[1:].partition("/")
            scope = f"@{scope}/"
        head, _, tail = text.partition("@")
        found = [scope + head] if head else []
        if tail.startswith("npm:"):  # `alias@npm:real@1` installs `real`
            found.extend(names(tail[4:], "npm"))
        return tuple(found)
    head = re.split(r"[=<>!~@\[;:/ ,(]", text, maxsplit=1)[0]
    found = [head] if head else []
    if style == "rpm" and head:
        for arch in ARCHES:
            head = head.removesuffix(f".{arch}")
        found.append(head)
        match = re.match(r"^(.+?)-[0-9]", head)
        if match:
            found.append(match.group(1))
    return tuple(dict.fromkeys(found))


def _from_words(words: Sequence[Word], depth: int) -> Iterator[Installed]:
    for unwrapped in _unwrap(words):
        if isinstance(unwrapped, str):
            if depth < MAX_DEPTH:
                yield from installed_in_script(unwrapped, depth + 1)
            continue
        found = _manager(unwrapped)
        if found is None:
            continue
        manager, args = found
        for word in _specs(manager, args):
            if word.value is None:
                yield Installed(word.raw, ())
            else:
                spec_names = names(word.value, manager.style)
                if spec_names:
                    yield Installed(word.value, spec_names)


def installed_in_script(script: str, depth: int = 0) -> Iterator[Installed]:
    """Every package spec installed by a shell script (a RUN's shell form, a heredoc body)."""
    for command in commands(script):
        yield from _from_words(command.words, depth)


def installed(value: Sequence[str], exec_form: bool, heredocs: Sequence[str] = ()) -> Iterator[Installed]:
    """Every package spec a RUN installs: VALUE is its command (argv for the exec form), HEREDOCS the
    bodies of its heredocs (each read as a script: `RUN <<EOF` and `RUN bash <<EOF` run them)."""
    if exec_form:
        yield from _from_words([Word(part, part) for part in value], 0)
    else:
        yield from installed_in_script(" ".join(value))
    for body in heredocs:
        yield from installed_in_script(body)
