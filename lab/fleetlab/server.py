# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP transport: the same fleet API on TCP and on a unix socket at once (admin API on TCP only)."""
from __future__ import annotations

import logging
import os
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .admin import ADMIN_PREFIX, AdminAPI, Faults, Stats
from .api import SERVER_HEADER, FleetAPI, Response, error_response
from .registry import Registry

LOG = logging.getLogger("fleetlab.server")
MAX_BODY = 64 * 1024 * 1024


class FleetHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = SERVER_HEADER
    allow_admin = True

    def version_string(self) -> str:
        return SERVER_HEADER

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.debug("%s %s", self.command, format % args)

    def __getattr__(self, name: str):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        app = self.server.app
        try:
            body = self._read_body()
        except ValueError:
            self._send(Response(400, b"400 Bad Request", {"Content-Type": "text/plain; charset=utf-8"}))
            self.close_connection = True
            return
        split = urlsplit(self.path)
        raw_path = split.path or "/"
        method = self.command
        if raw_path.startswith(ADMIN_PREFIX + "/") or raw_path == ADMIN_PREFIX:
            if self.allow_admin:
                self._send(app.admin.handle(method, raw_path, body))
            else:
                self._send(error_response(404))
            return
        app.stats.count(method, raw_path)
        decision = app.faults.decide(method, raw_path)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if decision.response is not None:
            self._send(decision.response)
            return
        try:
            response = app.api.handle(method, raw_path, split.query, list(self.headers.items()), body)
        except Exception:  # pylint: disable=broad-except
            LOG.exception("%s %s failed", method, self.path)
            response = error_response(500)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status not in (204, 304) and "Content-Length" not in response.headers:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body and response.status not in (204, 304):
            self.wfile.write(response.body)


class UnixFleetHandler(FleetHandler):
    allow_admin = False

    def address_string(self) -> str:
        return "unix"


class _TCPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class App:
    """The API objects shared by both listeners."""

    def __init__(self, registry: Registry, token_limit: int = 100):
        self.registry = registry
        self.api = FleetAPI(registry, token_limit)
        self.stats = Stats()
        self.faults = Faults(registry)
        self.admin = AdminAPI(registry, self.stats, self.faults)


class FleetServer:
    """Binds TCP (host, port) and, when given, a unix socket; serves both from threads."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, socket_path: str | None = None):
        self.app = app
        self.tcp = _TCPServer((host, port), FleetHandler)
        self.tcp.app = app
        self.unix = None
        self.socket_path = socket_path
        if socket_path:
            if os.path.exists(socket_path):
                os.unlink(socket_path)
            os.makedirs(os.path.dirname(os.path.abspath(socket_path)), exist_ok=True)
            self.unix = _UnixServer(socket_path, UnixFleetHandler)
            self.unix.app = app
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.tcp.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self) -> None:
        for server in (self.tcp, self.unix):
            if server is None:
                continue
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name="fleetlab-%s" % type(server).__name__, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for server in (self.tcp, self.unix):
            if server is not None:
                server.shutdown()
                server.server_close()
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self.app.registry.shutdown()
