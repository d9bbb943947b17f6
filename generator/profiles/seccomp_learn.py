"""`hardcase seccomp learn`: observe what a service really calls and write a profile of only that.

Each run starts the service from its own compose file with the seccomp profile swapped for one
whose default action is SCMP_ACT_LOG; everything else stays as generated, so docker-init (`init:
true`), runc's own tail after the filter is loaded, the health checks the engine runs with `docker
exec`, and the shutdown on `compose down` all run under it and are recorded. clone3 is answered with
ENOSYS as in the generated profiles, so the runtime takes the `clone` path it will take later.

The kernel's audit lines are read as they arrive (kernel_audit.Recorder); the runs are unioned
because rarely taken paths (a signal handler's rt_sigreturn) show up in some runs only. The profile
allows the union plus the calls every container needs (common.yaml: runc, docker-init, the kernel's
signal return, vDSO fallbacks), keeps the generated shapes for clone, clone3 and socket, and never
allows a DANGEROUS name even if it was seen. Finally `verify` runs the service under it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.core import resources
from generator.core.errors import ConflictError, EngineError, UsageError, os_error_message
from generator.core.yamlio import dump_yaml, load_yaml_file
from generator.engine import docker as engine
from generator.engine.verify import (
    Project,
    Scorecard,
    _secret_files,
    _terminate_as_interrupt,
    _wait_healthy,
    load_project,
)
from generator.profiles import kernel_audit, seccomp
from generator.profiles.kernel_audit import Hit, Recorder

WORKLOADS = ("health", "command", "seconds")
DOCKER_DEFAULT = resources.DATA_DIR / "seccomp" / "docker-default-20.10.json"
REQUESTS_PER_PORT = 20


@dataclass(frozen=True)
class Workload:
    kind: str  # health | command | seconds
    command: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        if self.kind == "command":
            return f"command {self.command!r}"
        if self.kind == "seconds":
            return f"{self.seconds:g} s of traffic"
        return f"health checks and {REQUESTS_PER_PORT} requests per published port"


@dataclass
class RunStats:
    names: int
    lines: int
    foreign_lines: int
    lost_records: int
    dropped_messages: int
    other_arch: list[str]


@dataclass
class LearnResult:
    profile: dict[str, Any]
    observed: list[str]
    runs: list[RunStats]
    refused: list[str]  # seen, but DANGEROUS: left out of the profile
    generated_count: int | None
    runtime: str | None
    docker_default_count: int
    verify_card: Scorecard | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> list[str]:
        return allowed_names(self.profile)

    def to_dict(self) -> dict[str, Any]:
        card = self.verify_card
        return {
            "allowed": len(self.allowed), "observed": len(self.observed), "generated": self.generated_count,
            "runtime": self.runtime, "docker_default_x86_64": self.docker_default_count,
            "observed_names": self.observed, "allowed_names": self.allowed,
            "refused_dangerous": self.refused, "seconds": round(self.seconds, 1),
            "runs": [vars(run) for run in self.runs], "notes": self.notes,
            "verify": None if card is None else {
                "passed": card.passed, "proven": sum(r.passed for r in card.rows), "controls": len(card.rows),
                "failed": {r.id: r.evidence for r in card.rows if not r.passed}},
        }


def allowed_names(profile: dict[str, Any]) -> list[str]:
    """Names some allow rule of the profile names (with or without argument filters)."""
    return sorted({n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]})


def docker_default_count(arch: str = "x86_64") -> int:
    """System calls Docker 20.10's default profile lets through on `arch` for a container without capabilities.

    Only names that exist on `arch` count: the profile also lists 32-bit-only names (`chown32`,
    `_llseek`, ...) that libseccomp leaves out of an x86_64 filter.
    """
    import platform

    import pyseccomp

    from generator.profiles.seccomp_check import _applies, _rule_names, _version

    profile = json.loads(DOCKER_DEFAULT.read_text(encoding="utf-8"))
    kernel = _version(platform.release())
    docker_arch, token = {"x86_64": ("amd64", pyseccomp.Arch.X86_64),
                          "aarch64": ("arm64", pyseccomp.Arch.AARCH64)}[arch]
    return len({name for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW"
                and _applies(rule, docker_arch, kernel) for name in _rule_names(rule)
                if pyseccomp.resolve_syscall(token, name) >= 0})


def learn_profile() -> dict[str, Any]:
    """Log everything, except clone3: ENOSYS, exactly as the generated and learned profiles answer it."""
    return {"defaultAction": "SCMP_ACT_LOG", "syscalls": [{
        "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": seccomp.ENOSYS,
        "comment": "as in the enforced profile: glibc falls back to clone"}]}


def build_learned_profile(observed: set[str], architecture: str, comment: str) -> tuple[dict[str, Any], list[str]]:
    """The enforcing profile for `observed` plus what every container needs; returns it and the refused names."""
    common = {name for group in seccomp._groups("common") for name in group.syscalls}
    refused = sorted(observed & seccomp.DANGEROUS - {"clone3"})
    wanted = (observed | common) - seccomp.DANGEROUS
    rules: list[dict[str, Any]] = [{"names": sorted(wanted - {"clone", "socket"}), "action": "SCMP_ACT_ALLOW",
                                    "comment": comment}]
    if "socket" in wanted:
        rules += [{"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": family, "op": "SCMP_CMP_EQ"}], "comment": label}
                  for family, label in sorted(seccomp.SOCKET_FAMILIES.items())]
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": seccomp.CLONE_NAMESPACE_FLAGS, "op": "SCMP_CMP_MASKED_EQ"}],
                  "comment": "threads and fork, but no new namespaces"})
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": seccomp.ENOSYS,
                  "comment": "ENOSYS makes glibc fall back to clone, whose flags seccomp can check"})
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": seccomp.EPERM,
               "architectures": [architecture], "syscalls": rules}
    return profile, refused


_check_host = kernel_audit.check_host  # root, /dev/kmsg and printk_ratelimit: before anything is built


def _compose_with_profile(project: Project, profile_path: Path, scratch: Path) -> Path:
    """A copy of compose.yaml whose service loads `profile_path` (relative paths still resolve to the project)."""
    data = load_yaml_file(project.directory / "compose.yaml")
    service = data["services"][project.service_name]
    options = [str(o) for o in service.get("security_opt") or []
               if not str(o).startswith(("seccomp=", "seccomp:"))]
    service["security_opt"] = [*options, f"seccomp={profile_path}"]
    _, overrides = _secret_files(project, scratch)
    for name, override in overrides.items():
        data.setdefault("secrets", {})[name] = override
    target = scratch / "compose.yaml"
    target.write_text(dump_yaml(data), encoding="utf-8")
    return target


def _published(container: dict[str, Any]) -> list[int]:
    bindings = container["HostConfig"].get("PortBindings") or {}
    ports = []
    for spec in bindings.values():
        for binding in spec or []:
            if str(binding.get("HostPort") or "").isdigit():
                ports.append(int(binding["HostPort"]))
    return sorted(set(ports))


def _drive(workload: Workload, ports: list[int], progress: Callable[[str], None]) -> None:
    if workload.kind == "command":
        env = {"HARDCASE_LEARN_PORTS": ",".join(map(str, ports))}
        result = engine.run(shlex.split(workload.command), check=False, timeout=900, env=env)
        if result.returncode != 0:
            raise UsageError(f"workload command exited with {result.returncode}")
        return
    if workload.kind == "seconds":
        urls = ", ".join(f"http://127.0.0.1:{p}/" for p in ports) or "the service"
        progress(f"recording for {workload.seconds:g} s: send traffic to {urls}")
        time.sleep(workload.seconds)
        return
    for port in ports:
        for i in range(REQUESTS_PER_PORT):
            path = "/healthz" if i % 2 else f"/learn/{i}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                    response.read()
            except OSError:
                continue  # a 404 or a refused path is traffic too


def _one_run(project: Project, workload: Workload, scratch: Path, index: int,
             progress: Callable[[str], None]) -> tuple[list[Hit], str, Recorder]:
    run_dir = scratch / f"run{index}"
    run_dir.mkdir()
    profile_path = run_dir / "seccomp.log.json"
    profile_path.write_text(json.dumps(learn_profile(), indent=2) + "\n", encoding="utf-8")
    compose_file = _compose_with_profile(project, profile_path, run_dir)
    name = f"hclearn-{project.service_name}-{index}-{os.getpid()}"
    container_id = ""
    with Recorder() as recorder:
        try:
            progress(f"run {index}: starting the service under a logging profile")
            engine.compose(project.directory, name, [compose_file], "up", "--detach", "--no-build", timeout=300)
            container_id = engine.compose(project.directory, name, [compose_file], "ps", "-q",
                                          project.service_name).stdout.strip()
            if not container_id:
                raise EngineError("compose started no container for the service")
            _wait_healthy(container_id, progress)
            progress(f"run {index}: workload: {workload.describe()}")
            _drive(workload, _published(engine.inspect("container", container_id)), progress)
        finally:
            progress(f"run {index}: stopping")
            engine.compose(project.directory, name, [compose_file], "down", "--volumes", "--remove-orphans",
                           "--timeout", "10", check=False, timeout=120)
    return recorder.hits, container_id, recorder


def _names(hits: list[Hit], container_id: str) -> tuple[set[str], set[str], int]:
    """(names on the host's architecture, names seen from other architectures, lines from other processes)."""
    import pyseccomp

    native = pyseccomp.system_arch()
    names: set[str] = set()
    other: set[str] = set()
    foreign = 0
    for hit in hits:
        if hit.cgroup is not None and container_id not in hit.cgroup:
            foreign += 1
            continue
        try:
            name = pyseccomp.resolve_syscall(hit.arch, hit.number).decode()
        except ValueError:
            name = f"#{hit.number}"
        (names if hit.arch == native else other).add(name)
    return names, other, foreign


def _native_architecture() -> str:
    import pyseccomp

    tokens = {pyseccomp.Arch.X86_64: "SCMP_ARCH_X86_64", pyseccomp.Arch.AARCH64: "SCMP_ARCH_AARCH64"}
    arch = tokens.get(pyseccomp.system_arch())
    if arch is None:
        raise UsageError("seccomp learn supports x86_64 and aarch64 hosts")
    return arch


def learn(directory: Path, *, service: str | None = None, runs: int = 3, workload: Workload = Workload("health"),
          output: Path | None = None, force: bool = False, build: bool = True, check_with_verify: bool = True,
          ca_bundle: Path | None = None, progress: Callable[[str], None] | None = None) -> LearnResult:
    """Learn and write the profile. The output and the host are checked first; any later refusal of the OS
    (an unreadable project file, a full disk) is a one-line UsageError naming the path. A closed
    stdout/stderr (BrokenPipeError) is left to the CLI, which ends quietly."""
    try:
        return _learn(directory, service, runs, workload, output or directory / "seccomp.learned.json", force,
                      build, check_with_verify, ca_bundle, progress or (lambda message: None))
    except BrokenPipeError:
        raise
    except shutil.Error as exc:  # copytree's collected failures: [(source, target, reason), ...]
        first = exc.args[0][0] if exc.args and isinstance(exc.args[0], list) and exc.args[0] else ("?", exc)
        raise UsageError(f"seccomp learn: cannot copy the project to verify it: {first[0]}: {first[-1]}") from None
    except OSError as exc:
        raise UsageError(f"seccomp learn: {os_error_message(exc)}") from None


def _check_output(output: Path, force: bool) -> None:
    """What would make the final write fail, checked before minutes of runs (symlink, no parent, no --force)."""
    from generator.core.files import check_output

    check_output(output)
    if os.path.lexists(output) and not force:
        raise ConflictError(f"{output} exists; use --force to replace it")
    if not os.access(output.parent, os.W_OK | os.X_OK):  # root without CAP_DAC_OVERRIDE, a read-only mount
        raise UsageError(f"cannot write {output}: {output.parent} is not writable")


def _learn(directory: Path, service: str | None, runs: int, workload: Workload, output: Path, force: bool,
           build: bool, check_with_verify: bool, ca_bundle: Path | None,
           progress: Callable[[str], None]) -> LearnResult:
    from generator.profiles.seccomp_check import validate_profile

    started = time.monotonic()
    if runs < 1 or runs > 20:
        raise UsageError("--runs must be between 1 and 20")
    _check_output(output, force)
    project = load_project(directory, service)
    if not isinstance(project.service, dict):
        raise UsageError(f"{directory / 'compose.yaml'}: service {project.service_name!r} must be a mapping")
    _check_host()
    architecture = _native_architecture()
    engine.ensure_engine()
    if build:
        progress(f"building {project.image}")
        bundle = {"ca_bundle": ca_bundle} if ca_bundle and ca_bundle.is_file() else {}
        engine.build(directory, project.image, bundle)
    elif engine.docker("image", "inspect", project.image, check=False).returncode != 0:
        raise UsageError(f"image {project.image} does not exist; run without --no-build")
    observed: set[str] = set()
    stats: list[RunStats] = []
    with tempfile.TemporaryDirectory(prefix="hardcase-learn-") as scratch_name, _terminate_as_interrupt(), \
            kernel_audit.exclusive():
        scratch = Path(scratch_name)
        for index in range(1, runs + 1):
            hits, container_id, recorder = _one_run(project, workload, scratch, index, progress)
            names, other, foreign = _names(hits, container_id)
            observed |= names
            stats.append(RunStats(len(names), len(hits), foreign, recorder.lost_records,
                                  recorder.dropped_messages, sorted(other)))
    if not observed:
        raise EngineError("no system call was logged: is seccomp's SCMP_ACT_LOG reaching the kernel log "
                          "(auditd running would take the lines)?")
    runtime = str(project.answers.get("language") or "") or None
    comment = (f"learned by hardcase seccomp learn: {len(stats)} run(s) of {workload.describe()}, "
               "plus what runc, docker-init and the kernel need in every container")
    profile, refused = build_learned_profile(observed, architecture, comment)
    problems = validate_profile(profile)
    if problems:
        raise UsageError(f"the learned profile does not check: {problems[0]}")
    from generator.core.files import write_user_file

    write_user_file(output, (json.dumps(profile, indent=2) + "\n").encode("utf-8"))
    result = LearnResult(
        profile, sorted(observed), stats, refused,
        len(seccomp.allowed_syscalls(runtime, "x86_64" if "X86" in architecture else "aarch64"))
        if runtime in seccomp.RUNTIMES else None,
        runtime if runtime in seccomp.RUNTIMES else None, docker_default_count())
    if any(s.lost_records or s.dropped_messages for s in stats):
        result.notes.append("the kernel dropped some audit lines: run more --runs and compare")
    if refused:
        result.notes.append(f"seen but never allowed (dangerous): {', '.join(refused)}")
    if check_with_verify:
        progress("verifying the service under the learned profile")
        try:
            result.verify_card = verify_under(project, output, progress)
        except EngineError as exc:
            raise EngineError(f"verify under the learned profile {output}: {exc}") from None
    result.seconds = time.monotonic() - started
    return result


def verify_under(project: Project, profile_path: Path, progress: Callable[[str], None]) -> Scorecard:
    """`hardcase verify` on a copy of the project whose service loads `profile_path` instead."""
    from generator.engine.verify import verify

    with tempfile.TemporaryDirectory(prefix="hardcase-learn-verify-") as scratch_name:
        copy = Path(scratch_name) / (project.directory.resolve().name or "project")  # DIR may be "."
        shutil.copytree(project.directory, copy, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "node_modules", "__pycache__", ".venv"))
        data = load_yaml_file(copy / "compose.yaml")
        service = data["services"][project.service_name]
        options = [str(o) for o in service.get("security_opt") or []
                   if not str(o).startswith(("seccomp=", "seccomp:"))]
        service["security_opt"] = [*options, f"seccomp={profile_path.resolve()}"]
        (copy / "compose.yaml").write_text(dump_yaml(data), encoding="utf-8")
        return verify(copy, build=False, progress=progress, service=project.service_name)


def render_text(result: LearnResult, output: Path) -> str:
    """The summary for a terminal; the path, notes and verify evidence quote input and container output,
    so each line is escaped."""
    from generator.core.terminal import printable

    lines = [f"{output}: {len(result.allowed)} syscalls allowed ({len(result.observed)} observed in "
             f"{len(result.runs)} run(s), plus the common set every container needs)"]
    for i, run in enumerate(result.runs, 1):
        lines.append(f"  run {i}: {run.names} syscalls, {run.lines} log lines, {run.foreign_lines} from other "
                     f"processes ignored, {run.lost_records} lost")
    generated = (f"{result.generated_count} in the generated {result.runtime} profile"
                 if result.generated_count is not None else "no generated profile to compare")
    lines.append(f"size: learned {len(result.allowed)} vs {generated} vs {result.docker_default_count} in "
                 "Docker's default (x86_64)")
    lines += [f"note: {note}" for note in result.notes]
    card = result.verify_card
    if card is not None:
        proven = sum(r.passed for r in card.rows)
        lines.append(f"verify under the learned profile: {proven}/{len(card.rows)} controls proven"
                     + ("" if card.passed else " — FAILED"))
        lines += [f"  FAIL {r.id}: {r.evidence}" for r in card.rows if not r.passed]
    lines.append(f"took {result.seconds:.0f} s")
    return "\n".join(printable(line) for line in lines) + "\n"
