"""Registry API v2 digest resolution, including the anonymous bearer-token flow public registries use.

A small in-process registry on 127.0.0.1 plays Docker Hub's part: it answers 401 with a
`WWW-Authenticate: Bearer realm=...` challenge, hands out a token, and serves the digest only to
requests carrying it.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from generator.core.imageref import parse
from generator.engine.registry import RegistryError, resolve_digest

DIGEST = "sha256:" + "ab" * 32
TOKEN = "token-123"


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    seen_scopes: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/token?"):
            FakeRegistry.seen_scopes.append(self.path)
            body = json.dumps({"token": TOKEN}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.end_headers()

    def do_HEAD(self) -> None:
        host = self.headers["Host"]
        if self.path == "/v2/library/private/manifests/1":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="x"')
            self.end_headers()
            return
        if self.path != "/v2/library/python/manifests/3.13-slim":
            self.send_response(404)
            self.end_headers()
            return
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Bearer realm="http://{host}/token",service="fake",'
                                                 'scope="repository:library/python:pull"')
            self.end_headers()
            return
        assert "application/vnd.oci.image.index.v1+json" in self.headers["Accept"]
        self.send_response(200)
        self.send_header("Docker-Content-Digest", DIGEST)
        self.end_headers()


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_token_flow_resolves_digest(registry: str) -> None:
    FakeRegistry.seen_scopes.clear()
    assert resolve_digest(parse(f"{registry}/library/python:3.13-slim")) == DIGEST
    assert FakeRegistry.seen_scopes == ["/token?scope=repository%3Alibrary%2Fpython%3Apull&service=fake"]


def test_unknown_tag_is_a_clear_error(registry: str) -> None:
    with pytest.raises(RegistryError, match="not found"):
        resolve_digest(parse(f"{registry}/library/python:nope"))


def test_non_bearer_challenge_is_refused_clearly(registry: str) -> None:
    with pytest.raises(RegistryError, match="HTTP 401"):
        resolve_digest(parse(f"{registry}/library/private:1"))
