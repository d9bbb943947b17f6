"""`pin`'s registry client does not trust the registry (issue #11, item 7): the token realm and every
redirect must be https (http only on loopback for a loopback registry), never file://, never an
internal address other than the registry's own; the bearer token never follows a redirect to
another origin; responses are bounded in size and time; a bad answer is a one-line RegistryError.

Local registries on 127.0.0.1 (threaded http.server) play the registry, token service and the
"other host" that must see nothing.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from scaffold_support import assert_one_line_error, run_cli

from generator.core.imageref import parse
from generator.engine import registry
from generator.engine.registry import RegistryError, resolve_digest

DIGEST = "sha256:" + "cd" * 32
TOKEN = "token-abc"
MANIFEST = "/v2/library/python/manifests/3.13-slim"

Route = Callable[["Handler"], None]


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers from the server's `routes` (path without query → route); records every request."""

    seen: ClassVar[list[tuple[str, str, str | None]]] = []  # (server port, path, Authorization)

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        Handler.seen.append((str(self.server.server_address[1]), self.path, self.headers.get("Authorization")))
        route = self.server.routes.get(self.path.split("?")[0])  # type: ignore[attr-defined]
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        route(self)

    do_GET = _answer
    do_HEAD = _answer

    def reply(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Server:
    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.routes = {}  # type: ignore[attr-defined]
        self.routes: dict[str, Route] = self.httpd.routes  # type: ignore[attr-defined]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def port(self) -> str:
        return str(self.httpd.server_address[1])


@pytest.fixture
def servers() -> Iterator[Callable[[], Server]]:
    started: list[Server] = []
    Handler.seen.clear()

    def start() -> Server:
        started.append(Server())
        return started[-1]

    yield start
    for server in started:
        server.httpd.shutdown()
        server.httpd.server_close()


def challenge_then_digest(realm: str) -> Route:
    """401 with a Bearer challenge naming REALM until the request carries TOKEN, then the digest."""
    def route(handler: Handler) -> None:
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            handler.reply(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'})
        else:
            handler.reply(200, {"Docker-Content-Digest": DIGEST})
    return route


def token_body(body: bytes) -> Route:
    return lambda handler: handler.reply(200, {"Content-Type": "application/json"}, body)


def resolve(server: Server) -> str:
    return resolve_digest(parse(f"{server.host}/library/python:3.13-slim"))


def test_the_token_flow_still_works_with_an_http_realm_on_a_loopback_registry(servers: Callable[[], Server]) -> None:
    reg = servers()
    reg.routes[MANIFEST] = challenge_then_digest(f"http://{reg.host}/token")
    reg.routes["/token"] = token_body(json.dumps({"token": TOKEN}).encode())
    assert resolve(reg) == DIGEST


def test_a_file_realm_is_never_opened(servers: Callable[[], Server], tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text(json.dumps({"token": TOKEN}), encoding="utf-8")
    reg = servers()
    reg.routes[MANIFEST] = challenge_then_digest(token_file.as_uri())
    with pytest.raises(RegistryError, match=r"token realm.*only https"):
        resolve(reg)
    assert [path for _, path, _ in Handler.seen] == [MANIFEST]  # nothing was retried with a token


@pytest.mark.parametrize("realm", ["http://registry.invalid/token", "https://169.254.169.254/latest/meta-data",
                                   "https://10.1.2.3/token", "ftp://127.0.0.1/token",
                                   "https://user:secret@auth.invalid/token"])
def test_unsafe_realms_are_refused_before_any_request(servers: Callable[[], Server], realm: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "TIMEOUT", 2)  # old code would try to connect; do not wait long for it
    reg = servers()
    reg.routes[MANIFEST] = challenge_then_digest(realm)
    with pytest.raises(RegistryError, match="refusing the token realm"):
        resolve(reg)


@pytest.mark.parametrize(("url", "registry_host", "allowed"), [
    ("https://auth.docker.io/token", "registry-1.docker.io", True),  # another host: fine, over https
    ("https://10.0.0.5/token", "10.0.0.5:5000", True),  # the registry's own internal address
    ("http://127.0.0.1:5001/token", "127.0.0.1:5000", True),  # loopback registry, loopback realm
    ("http://localhost/token", "localhost:5000", True),
    ("http://auth.example/token", "registry.example", False),  # plain http off loopback
    ("http://127.0.0.1:5001/token", "registry.example", False),  # http to loopback for a remote registry
    ("http://auth.example/token", "127.0.0.1:5000", False),  # a loopback registry sends http elsewhere
    ("https://10.0.0.1/token", "registry.example", False),
    ("https://[::1]/token", "registry.example", False),
    ("https://169.254.169.254/", "registry.example", False),
    ("https://127.0.0.1/", "registry.example", False),
    ("file:///etc/passwd", "registry.example", False),
    ("data:,{}", "registry.example", False),
    ("https://user:pw@auth.example/", "registry.example", False),
    ("https://auth.example/\r\nX: y", "registry.example", False),
    ("https:///token", "registry.example", False),
])
def test_which_urls_a_registry_may_send_hardcase_to(url: str, registry_host: str, allowed: bool) -> None:
    if allowed:
        registry.check_url(url, registry_host, "token realm")
    else:
        with pytest.raises(RegistryError, match="refusing"):
            registry.check_url(url, registry_host, "token realm")


def test_the_token_never_follows_a_redirect_to_another_origin(servers: Callable[[], Server]) -> None:
    reg, other = servers(), servers()
    reg.routes["/token"] = token_body(json.dumps({"token": TOKEN}).encode())

    def redirect_elsewhere(handler: Handler) -> None:
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            handler.reply(401, {"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token"'})
        else:
            handler.reply(307, {"Location": f"http://{other.host}{MANIFEST}"})

    reg.routes[MANIFEST] = redirect_elsewhere
    other.routes[MANIFEST] = lambda handler: handler.reply(200, {"Docker-Content-Digest": DIGEST})
    assert resolve(reg) == DIGEST
    assert [(path, auth) for port, path, auth in Handler.seen if port == other.port] == [(MANIFEST, None)]


def test_a_same_origin_redirect_keeps_the_token(servers: Callable[[], Server]) -> None:
    reg = servers()
    reg.routes["/token"] = token_body(json.dumps({"token": TOKEN}).encode())
    moved = "/v2/library/python/manifests/moved"

    def redirect_here(handler: Handler) -> None:
        if handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            handler.reply(401, {"WWW-Authenticate": f'Bearer realm="http://{reg.host}/token"'})
        else:
            handler.reply(308, {"Location": moved})

    reg.routes[MANIFEST] = redirect_here
    reg.routes[moved] = challenge_then_digest(f"http://{reg.host}/token")
    assert resolve(reg) == DIGEST


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://registry.invalid/x"])
def test_redirects_off_https_are_refused(servers: Callable[[], Server], location: str) -> None:
    reg = servers()
    reg.routes[MANIFEST] = lambda handler: handler.reply(302, {"Location": location})
    with pytest.raises(RegistryError, match="refusing the redirect"):
        resolve(reg)


@pytest.mark.parametrize(("body", "problem"), [
    (json.dumps({"token": TOKEN, "padding": "x" * (2 << 20)}).encode(), "larger than"),
    (json.dumps({"token": "abc\r\nX-Injected: 1"}).encode(), "malformed token"),
    (json.dumps({"token": ["not", "a", "string"]}).encode(), "malformed token"),
    (b"<html>not json</html>", "other than JSON"),
])
def test_bad_token_answers_are_one_line_errors(servers: Callable[[], Server], body: bytes, problem: str) -> None:
    reg = servers()
    reg.routes[MANIFEST] = challenge_then_digest(f"http://{reg.host}/token")
    reg.routes["/token"] = token_body(body)
    with pytest.raises(RegistryError, match=problem):
        resolve(reg)


def test_a_failing_token_service_is_a_one_line_error(servers: Callable[[], Server], tmp_path: Path) -> None:
    reg = servers()
    reg.routes[MANIFEST] = challenge_then_digest(f"http://{reg.host}/token")
    reg.routes["/token"] = lambda handler: handler.reply(500)
    with pytest.raises(RegistryError, match="answered HTTP 500"):
        resolve(reg)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {reg.host}/library/python:3.13-slim\n", encoding="utf-8")
    assert_one_line_error(run_cli("pin", dockerfile), 2, mentions="token service")
    assert dockerfile.read_text(encoding="utf-8") == f"FROM {reg.host}/library/python:3.13-slim\n"


def test_a_registry_that_trickles_is_cut_off_at_the_deadline(servers: Callable[[], Server],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "DEADLINE", 1.0, raising=False)
    reg = servers()

    def trickle(handler: Handler) -> None:
        """One header line every 0.1 s, each well within the per-read timeout."""
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(80):
            try:
                handler.wfile.write(b"X-Pad: 1\r\n")
                handler.wfile.flush()
            except OSError:
                return
            time.sleep(0.1)
        handler.wfile.write(f"Docker-Content-Digest: {DIGEST}\r\nContent-Length: 0\r\n\r\n".encode())

    reg.routes[MANIFEST] = trickle
    started = time.monotonic()
    with pytest.raises(RegistryError, match="did not answer within"):
        resolve(reg)
    assert time.monotonic() - started < 4
