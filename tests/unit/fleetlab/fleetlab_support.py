# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the fleetlab tests: machines on the private lab net, a raw HTTP client, polling."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from lab.fleetlab import Machine  # noqa: E402  pylint: disable=wrong-import-position

LAB_NET = os.environ.get("FLEETLAB_TEST_NET", "127.0.2")
METADATA = [{"role": "web", "az": "a"}, {"role": "web", "az": "b"}, {"role": "worker", "az": "a"}]


def machine_id(ip: str) -> str:
    return hashlib.sha256(ip.encode()).hexdigest()[:32]


def make_machines(count: int = 3, metadata=None, root: str = "/tmp/lab-fl/machines") -> list[Machine]:
    metadata = metadata or METADATA
    machines = []
    for index in range(count):
        ip = "%s.%d" % (LAB_NET, 11 + index)
        mid = machine_id(ip)
        machines.append(Machine(id=mid, ip=ip, metadata=dict(metadata[index % len(metadata)]),
                                root=os.path.join(root, mid), consul="%s:8500" % ip))
    return machines


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("domain-sock", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class RawClient:
    """Sends exactly what a test asks for (duplicate headers, raw paths, odd bodies)."""

    def __init__(self, url: str | None = None, socket_path: str | None = None):
        self.url = url
        self.socket_path = socket_path

    def _connection(self):
        if self.socket_path:
            return _UnixConnection(self.socket_path)
        host, port = self.url.split("//", 1)[1].rsplit(":", 1)
        return http.client.HTTPConnection(host, int(port), timeout=30)

    def request(self, method: str, path: str, body=None, headers=None, json_body=None):
        conn = self._connection()
        try:
            if json_body is not None:
                body = json.dumps(json_body).encode()
                headers = list(headers or []) + [("Content-Type", "application/json")]
            conn.putrequest(method, path, skip_accept_encoding=True)
            data = body.encode() if isinstance(body, str) else body
            for key, value in headers or []:
                conn.putheader(key, value)
            if data is not None:
                conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            resp = conn.getresponse()
            raw = resp.read()
            return Reply(resp.status, dict(resp.getheaders()), raw)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, json_body, **kw):
        return self.request("PUT", path, json_body=json_body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Reply:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self):
        return json.loads(self.raw)

    @property
    def error(self):
        return self.json["error"]["message"]


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    """Poll until predicate() is truthy; fail (not a timed assertion: generous bound) otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s (last value %r)" % (what, value))
        time.sleep(0.02)


class Lab:
    def __init__(self, server, machines):
        self.server = server
        self.machines = machines
        self.registry = server.app.registry
        self.tcp = RawClient(url=server.url)
        self.unix = RawClient(socket_path=server.socket_path)
        self.url = server.url

    @property
    def ids(self):
        return sorted(m.id for m in self.machines)

    def put_unit(self, name, options, desired="launched", client=None):
        body = {"options": options}
        if desired:
            body["desiredState"] = desired
        return (client or self.tcp).put("/fleet/v1/units/" + name, body)

    def states(self, **query):
        qs = "&".join("%s=%s" % kv for kv in query.items())
        states, token = [], None
        while True:
            path = "/fleet/v1/state?" + qs + ("&nextPageToken=" + token if token else "")
            page = self.tcp.get(path).json
            states += page.get("states", [])
            token = page.get("nextPageToken")
            if not token:
                return states

    def unit(self, name):
        reply = self.tcp.get("/fleet/v1/units/" + name)
        return reply.json if reply.status == 200 else None

    def settle(self):
        assert self.registry.wait_idle(timeout=30)

    def wait_rows(self, name, predicate, what="rows"):
        def check():
            rows = self.states(unitName=name)
            return (rows,) if predicate(rows) else None
        return wait_for(check, what="%s of %s" % (what, name))[0]


SLEEP = [{"section": "Service", "name": "ExecStart", "value": "/bin/sleep 100"}]


def opts(*triples):
    return [{"section": s, "name": n, "value": v} for s, n, v in triples]
