"""Orders app: a tiny HTTP service whose /health proves it can talk to its database and its cache.

Standard library only. /health answers 200 when a PostgreSQL StartupMessage to the database gets an
authentication request back ('R') and a Redis PING to the cache gets +PONG; otherwise 503 with the
reason. The database and cache come from DATABASE_URL and REDIS_URL, or from files named by
DATABASE_URL_FILE and REDIS_URL_FILE (for compose secrets).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

TIMEOUT = 3.0


def setting(name: str, default: str) -> str:
    path = os.environ.get(name + "_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    return os.environ.get(name, default)


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def check_postgres(url: str) -> str:
    """Protocol 3.0 StartupMessage; a live server answers with an authentication request."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or user
    params = b"".join(key.encode() + b"\0" + value.encode() + b"\0"
                      for key, value in (("user", user), ("database", database))) + b"\0"
    message = struct.pack("!ii", 8 + len(params), 196608) + params
    with socket.create_connection((parts.hostname or "db", parts.port or 5432), timeout=TIMEOUT) as sock:
        sock.sendall(message)
        kind, length = struct.unpack("!ci", recv_exactly(sock, 5))
        body = recv_exactly(sock, length - 4) if 4 < length < 1 << 16 else b""
    if kind != b"R":
        raise ConnectionError(f"expected an authentication request, got {kind!r} {body[:80]!r}")
    (method,) = struct.unpack("!i", body[:4])
    return f"authentication request {method}"


def check_redis(url: str) -> str:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "cache", parts.port or 6379), timeout=TIMEOUT) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = recv_exactly(sock, 7)
    if reply != b"+PONG\r\n":
        raise ConnectionError(f"expected +PONG, got {reply!r}")
    return "PONG"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            report, ok = {}, True
            checks = (("db", check_postgres, setting("DATABASE_URL", "postgres://postgres@db:5432/postgres")),
                      ("cache", check_redis, setting("REDIS_URL", "redis://cache:6379/0")))
            for name, check, url in checks:
                try:
                    report[name] = check(url)
                except (OSError, ValueError, struct.error) as exc:
                    report[name], ok = f"{type(exc).__name__}: {exc}", False
            self.reply(200 if ok else 503, report)
        elif self.path == "/":
            self.reply(200, {"service": "orders"})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if "/health" not in str(args[:1]):
            super().log_message(format, *args)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"orders listening on :{port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
