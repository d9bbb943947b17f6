"""Evaluate a policy against a Dockerfile and a compose file: one small check per rule ID.

`evaluate(policy, dockerfile_text, compose_data)` is the one entry point: `new` calls it on the
rendering before anything is written, `policy audit` on an existing project, and `check`/`harden`
can call it on whatever they lint. Either input may be None (only the other is checked). A check
that cannot decide (a base image given through a build argument, a non-numeric USER, a seccomp
profile it was not given) reports a violation: a policy is only worth something if "could not
tell" does not pass.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from generator.core.errors import UsageError
from generator.core.mirror import split_registry
from generator.policy.files import Policy, rule_keys

PERMITTING_ACTIONS = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY"})
# Install verbs per package manager: the words after them (options aside) are package names.
INSTALL_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("apt-get", "install"), ("apt", "install"), ("apk", "add"), ("pip", "install"), ("pip3", "install"),
    ("npm", "install"), ("npm", "i"), ("npm", "add"), ("yarn", "add"), ("pnpm", "add"),
)
# Options that take a separate value (which is not a package name).
VALUED_OPTIONS = frozenset({"-r", "--requirement", "-c", "--constraint", "-t", "--target", "-i", "--index-url",
                            "--extra-index-url", "-f", "--find-links", "--prefix", "--root", "-o", "--option",
                            "-X", "--repository", "--cache-dir", "--registry", "--virtual"})
SHELL_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})


@dataclass(frozen=True)
class PolicyViolation:
    rule: str  # POL001…
    key: str  # the policy key that asks for it
    message: str
    where: str  # "Dockerfile:3", "compose.yaml services.web"
    value: str  # the offending value
    policy: str  # the policy file

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.where}: {self.rule} ({self.key}): {self.message} [{self.policy}]"


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    where: str
    value: str


# --- the Dockerfile, as the checks need it -----------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    cmd: str
    sub_cmd: str
    value: tuple[str, ...]
    json: bool
    line: int


def _parse(text: str) -> list[list[Instruction]]:
    """Instructions grouped by stage; instructions before the first FROM (ARGs) form stage 0 if any."""
    import dockerfile

    try:
        parsed = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise UsageError(f"Dockerfile does not parse: {exc}") from None
    except UnicodeDecodeError:  # the binding cuts some multi-byte characters it hands back
        raise UsageError("Dockerfile does not parse (the parser garbled a non-ASCII character)") from None
    stages: list[list[Instruction]] = [[]]
    for item in parsed:
        instruction = Instruction(item.cmd.upper(), (item.sub_cmd or "").upper(), tuple(item.value), item.json,
                                  item.start_line)
        if instruction.cmd == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return [stage for stage in stages if stage and stage[0].cmd == "FROM"]


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'" else word


def _base_images(stages: list[list[Instruction]]) -> Iterator[tuple[str, int]]:
    """(reference, line) of each FROM that pulls an image (not `scratch`, not an earlier stage)."""
    earlier: set[str] = set()
    for stage in stages:
        head = stage[0]
        ref = head.value[0] if head.value else ""
        if ref.lower() not in earlier and ref != "scratch":
            yield ref, head.line
        if len(head.value) >= 3 and head.value[1].upper() == "AS":
            earlier.add(head.value[2].lower())


def _split_ref(ref: str) -> tuple[str, str | None]:
    """(name, tag) without the digest."""
    name = ref.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return (name[:colon], name[colon + 1:]) if colon > slash else (name, None)


def _installed_packages(command: Sequence[str]) -> Iterator[str]:
    """Package names in install commands of a RUN (shell words), versions stripped."""
    words: list[str] = []
    for part in command:
        try:
            words.extend(shlex.split(part, comments=False, posix=True) if len(command) == 1 else [part])
        except ValueError:
            words.extend(part.split())
    i = 0
    while i < len(words):
        verb = next((c for c in INSTALL_COMMANDS if tuple(w.rsplit("/", 1)[-1] for w in words[i:i + 2]) == c), None)
        if verb is None and words[i:i + 4][1:4] == ["-m", "pip", "install"]:
            verb, i = ("pip", "install"), i + 2
        if verb is None:
            i += 1
            continue
        i += 2
        while i < len(words) and words[i] not in SHELL_SEPARATORS:
            word = words[i]
            if word in VALUED_OPTIONS:
                i += 2
                continue
            name = _package_name(word)
            if name:
                yield name
            i += 1


def _package_name(word: str) -> str | None:
    """`curl=7.88*` → curl, `requests[socks]>=2` → requests, `@scope/pkg@1` → @scope/pkg; None for
    options, paths, URLs and variables."""
    if word.startswith(("-", ".", "/", "~")) or "$" in word or "://" in word or word.endswith((".txt", ".whl")):
        return None
    scope = ""
    if word.startswith("@"):
        scope, _, word = word[1:].partition("/")
        scope = f"@{scope}/"
    return scope + re.split(r"[=<>!~@\[;]", word, maxsplit=1)[0] or None


def _user_problem(user: str, policy: Policy) -> str | None:
    uid_text = user.partition(":")[0]
    if not uid_text.isdigit():
        return f"user {user!r} is not numeric, so its UID cannot be checked"
    uid = int(uid_text)
    low = policy.uid_min if policy.uid_min is not None else 1
    high = policy.uid_max if policy.uid_max is not None else 2**32 - 2
    if not low <= uid <= high:
        return f"UID {uid} is outside the allowed range {low}-{high}"
    return None


def dockerfile_findings(policy: Policy, text: str, name: str = "Dockerfile") -> list[Finding]:
    stages = _parse(text)
    out: list[Finding] = []
    for ref, line in _base_images(stages):
        where = f"{name}:{line}"
        out.extend(_image_findings(policy, ref, where))
    for stage in stages:
        for ins in stage:
            where = f"{name}:{ins.line}"
            for cmd in {ins.cmd, ins.sub_cmd} & set(policy.banned_instructions):
                out.append(Finding("POL012", f"instruction {cmd} is banned", where, cmd))
            if ins.cmd == "RUN" or ins.sub_cmd == "RUN":
                for package in _installed_packages(ins.value):
                    if any(fnmatch.fnmatchcase(package.lower(), p.lower()) for p in policy.banned_packages):
                        out.append(Finding("POL013", f"package {package!r} is banned", where, package))
    if stages:
        final = stages[-1]
        where = f"{name}:{final[0].line}"
        labels = {_unquote(key) for ins in final if ins.cmd == "LABEL" for key in ins.value[::2]}
        for label in policy.required_labels:
            if label not in labels:
                out.append(Finding("POL003", f"required label {label} is not set in the runtime stage", where, label))
        if policy.uid_min is not None or policy.uid_max is not None:
            users = [ins for ins in final if ins.cmd == "USER"]
            if not users:
                out.append(Finding("POL004", "the runtime stage sets no USER (it runs as the base image's user)",
                                   where, ""))
            else:
                problem = _user_problem(users[-1].value[0], policy)
                if problem:
                    out.append(Finding("POL004", problem, f"{name}:{users[-1].line}", users[-1].value[0]))
    return out


def _image_findings(policy: Policy, ref: str, where: str) -> list[Finding]:
    out: list[Finding] = []
    if "$" in ref:
        if policy.allowed_registries is not None or policy.allowed_base_images is not None:
            out.append(Finding("POL001", f"base image {ref!r} comes from a build argument and cannot be checked",
                               where, ref))
        return out
    name, tag = _split_ref(ref)
    if policy.allowed_registries is not None:
        host = split_registry(name)[0]
        if not any(fnmatch.fnmatch(host, pattern.lower()) for pattern in policy.allowed_registries):
            out.append(Finding("POL001", f"registry {host} of {ref} is not allowed", where, host))
    if policy.allowed_base_images is not None:
        candidates = [name, f"{name}:{tag}" if tag else name, ref]
        if not any(fnmatch.fnmatchcase(c, p) for c in candidates for p in policy.allowed_base_images):
            out.append(Finding("POL002", f"base image {name}{':' + tag if tag else ''} is not allowed", where, ref))
    if policy.pinned_base_images and "@sha256:" not in ref:
        out.append(Finding("POL014", f"base image {ref} is not pinned by digest", where, ref))
    return out


# --- compose -------------------------------------------------------------------------------------


def _security_opts(service: Mapping[str, Any]) -> list[str]:
    return [str(opt) for opt in service.get("security_opt") or []]


def _seccomp_file(service: Mapping[str, Any]) -> str | None:
    for opt in _security_opts(service):
        match = re.fullmatch(r"seccomp[:=](.+)", opt)
        if match:
            return match.group(1)
    return None


def _allowed_count(profile: Any) -> int | None:
    """How many system calls a profile permits (None: it permits everything by default)."""
    if not isinstance(profile, dict) or profile.get("defaultAction") in PERMITTING_ACTIONS:
        return None
    names: set[str] = set()
    for rule in profile.get("syscalls") or []:
        if isinstance(rule, dict) and rule.get("action") in PERMITTING_ACTIONS:
            names.update(str(n) for n in rule.get("names") or [])
            if rule.get("name"):
                names.add(str(rule["name"]))
    return len(names)


def _port_host_ip(port: Any) -> str | None:
    if isinstance(port, dict):
        return str(port["host_ip"]) if port.get("host_ip") else None
    text = str(port)
    if text.startswith("["):
        return text[1:text.index("]")]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _service_findings(policy: Policy, name: str, service: Mapping[str, Any], compose_name: str,
                      profiles: Mapping[str, Any] | None) -> list[Finding]:
    where = f"{compose_name} services.{name}"
    out: list[Finding] = []
    opts = _security_opts(service)
    if policy.read_only and service.get("read_only") is not True:
        out.append(Finding("POL005", "read_only is not true", where, str(service.get("read_only", ""))))
    if policy.no_new_privileges and not any(
            re.fullmatch(r"no-new-privileges(?:[:=]true)?", opt) for opt in opts):
        out.append(Finding("POL006", "security_opt lacks no-new-privileges:true", where, ""))
    drops = [str(cap).upper().removeprefix("CAP_") for cap in service.get("cap_drop") or []]
    if policy.cap_drop_all and "ALL" not in drops:
        out.append(Finding("POL007", "cap_drop does not contain ALL", where, ",".join(drops)))
    seccomp_file = _seccomp_file(service)
    if policy.seccomp and (seccomp_file is None or seccomp_file == "unconfined"):
        out.append(Finding("POL008", "no seccomp profile (security_opt seccomp=FILE)", where, seccomp_file or ""))
    if policy.max_syscalls is not None and seccomp_file not in (None, "unconfined"):
        assert seccomp_file is not None
        if profiles is None or seccomp_file not in profiles:
            out.append(Finding("POL009", f"seccomp profile {seccomp_file} was not available to count", where,
                               seccomp_file))
        else:
            count = _allowed_count(profiles[seccomp_file])
            if count is None or count > policy.max_syscalls:
                shown = "every" if count is None else str(count)
                out.append(Finding("POL009", f"{seccomp_file} allows {shown} system calls "
                                   f"(at most {policy.max_syscalls})", where, shown))
    if policy.allowed_cap_add is not None:
        allowed = {cap.upper().removeprefix("CAP_") for cap in policy.allowed_cap_add}
        for cap in service.get("cap_add") or []:
            if str(cap).upper().removeprefix("CAP_") not in allowed:
                out.append(Finding("POL010", f"cap_add {cap} is not allowed", where, str(cap)))
    if policy.localhost_ports:
        for port in service.get("ports") or []:
            if not _is_loopback(_port_host_ip(port)):
                out.append(Finding("POL011", f"port {port} is not bound to a loopback address", where, str(port)))
    if (policy.uid_min is not None or policy.uid_max is not None) and service.get("user") is not None:
        problem = _user_problem(str(service["user"]), policy)
        if problem:
            out.append(Finding("POL004", problem, where, str(service["user"])))
    if "build" not in service and service.get("image"):
        out.extend(_image_findings(policy, str(service["image"]), where))
    return out


def compose_findings(policy: Policy, data: Mapping[str, Any], name: str = "compose.yaml",
                     profiles: Mapping[str, Any] | None = None) -> list[Finding]:
    services = data.get("services") if isinstance(data, Mapping) else None
    if not isinstance(services, Mapping):
        return []
    return [finding for service_name, service in services.items() if isinstance(service, Mapping)
            for finding in _service_findings(policy, str(service_name), service, name, profiles)]


def evaluate(policy: Policy, dockerfile_text: str | None, compose_data: Mapping[str, Any] | None,
             seccomp_profiles: Mapping[str, Any] | None = None) -> list[PolicyViolation]:
    """Every violation of `policy` in a Dockerfile and/or a compose file (parsed), in file order.

    `seccomp_profiles` maps the profile paths compose names (`seccomp=FILE`) to parsed profiles,
    for the max-syscalls rule.
    """
    keys = rule_keys()
    findings: list[Finding] = []
    if dockerfile_text is not None:
        findings.extend(dockerfile_findings(policy, dockerfile_text))
    if compose_data is not None:
        findings.extend(compose_findings(policy, compose_data, profiles=seccomp_profiles))
    return [PolicyViolation(f.rule, keys[f.rule], f.message, f.where, f.value, str(policy.source))
            for f in findings]

