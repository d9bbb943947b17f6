"""What a probe is given and what it answers: the `Target` record `verify` fills from the running
service and the generator's promises, and the decorator that files a probe under its control.

It has a module of its own so that the probe modules (`probes_confinement`, `probes`) can share it
without importing each other, and so that `verify` can build a `Target` without reaching into a
module of probes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """What verify knows about the running service and what the generator promised."""

    container: dict[str, Any]
    image: dict[str, Any]
    pids: list[int]
    uid: int
    workdir: str
    writable_paths: list[str]
    secrets: dict[str, bytes]
    ports: list[int]
    publish: str
    memory_bytes: int
    nano_cpus: int
    pids_limit: int
    seccomp_profile: dict[str, Any]
    probe_image: str
    allowed_caps: list[str] = field(default_factory=list)
    image_name: str = ""

    @property
    def main_pid(self) -> int:
        return int(self.container["State"]["Pid"])

    @property
    def host_config(self) -> dict[str, Any]:
        result: dict[str, Any] = self.container["HostConfig"]
        return result


Probe = Callable[[Target], tuple[bool, str]]


def registrar(table: dict[str, Probe]) -> Callable[[str], Callable[[Probe], Probe]]:
    """A `@probe(control_id)` decorator that files each probe in TABLE under its control's id."""

    def probe(control_id: str) -> Callable[[Probe], Probe]:
        def register(function: Probe) -> Probe:
            table[control_id] = function
            return function

        return register

    return probe
