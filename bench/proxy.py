# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A counting HTTP proxy on loopback in front of the Consul server agent.

The deploy's CONSUL_HTTP_ADDR points at the proxy; every request is forwarded unchanged to the
upstream agent (blocking queries included: one thread per connection) and counted by method and
path (query string removed). GET and HEAD are reads, everything else a write.
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

READ_METHODS = ("GET", "HEAD")
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class RequestCounter:
    """Thread-safe counts of requests by method and path."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_path: dict[str, dict[str, int]] = {}

    def count(self, method: str, target: str) -> None:
        path = urlsplit(target).path or "/"
        with self._lock:
            per_path = self._by_path.setdefault(path, {})
            per_path[method] = per_path.get(method, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self._by_path = {}

    def snapshot(self) -> dict:
        """``{"reads", "writes", "requests": {method: n}, "by_path": {path: {method: n}}}``."""
        with self._lock:
            by_path = {path: dict(methods) for path, methods in sorted(self._by_path.items())}
        requests: dict[str, int] = {}
        for methods in by_path.values():
            for method, n in methods.items():
                requests[method] = requests.get(method, 0) + n
        reads = sum(n for m, n in requests.items() if m in READ_METHODS)
        return {"reads": reads, "writes": sum(requests.values()) - reads, "requests": requests, "by_path": by_path}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "CountingProxy"

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.counter.count(self.command, self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS and k.lower() != "host"}
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=660)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        except OSError as exc:
            message = f"bench proxy: {self.command} {self.path} to {self.server.upstream}: {exc}".encode()
            self.send_response(502)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _forward


class CountingProxy(ThreadingHTTPServer):
    """``CountingProxy("127.0.10.10:8500", host="127.0.10.1")``; ``.address`` is host:port to give clients."""

    daemon_threads = True

    def __init__(self, upstream: str, host: str = "127.0.0.1", port: int = 0):
        self.upstream = upstream.split("://", 1)[-1].rstrip("/")
        host_part, _sep, port_part = self.upstream.rpartition(":")
        self.upstream_host, self.upstream_port = host_part, int(port_part)
        self.counter = RequestCounter()
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> "CountingProxy":
        self._thread = threading.Thread(target=self.serve_forever, name="bench-consul-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)
