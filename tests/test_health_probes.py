"""The HEALTHCHECK probes `harden` adds (HC061) judge health the way Docker will run them: the
probe's argv, taken from the hardened file, is run here against a real local server."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harden_support import harden_text


def probe_argv(dockerfile: str) -> list[str]:
    hardened = harden_text(dockerfile, unsafe=True).text
    match = re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", hardened, re.MULTILINE)
    assert match, hardened
    argv = json.loads(match.group(1))
    assert isinstance(argv, list)
    return [str(word) for word in argv]


@contextmanager
def http_server(status: int) -> Iterator[int]:
    """A server on 127.0.0.1 that answers every GET with STATUS; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_probe(argv: list[str]) -> int:
    assert shutil.which(argv[0]), f"{argv[0]} is needed on the test machine (scripts/test.sh installs it)"
    return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode


def test_the_curl_probe_fails_on_an_http_error() -> None:
    for status, healthy in ((200, True), (500, False), (404, False)):
        with http_server(status) as port:
            argv = probe_argv("FROM debian:12-slim\nRUN apt-get update && apt-get install -y curl\n"
                              f"EXPOSE {port}\nCMD [\"/app\"]\n")
            assert (run_probe(argv) == 0) is healthy, (status, argv)


def test_the_node_probe_connects_and_fails_on_a_closed_port() -> None:
    with http_server(200) as port:
        argv = probe_argv(f"FROM node:24-bookworm-slim\nEXPOSE {port}\nCMD [\"node\", \"server.js\"]\n")
        assert "=>" not in argv[2], "arrow functions fail on very old node"
        assert run_probe(argv) == 0
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = free.getsockname()[1]
    argv = probe_argv(f"FROM node:24-bookworm-slim\nEXPOSE {closed}\nCMD [\"node\", \"server.js\"]\n")
    assert run_probe(argv) == 1
