# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""FleetClient against a tiny in-test HTTP server speaking fleet's paging and error format.

The end-to-end behaviour against fleetlab is covered by tests/integration/test_fleet_*.py.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.houston.stack.plugins.module_utils._fleet import FleetClient, FleetError, check_unit_name, is_template

LIMIT = 2


def token(page):
    return base64.urlsafe_b64encode(struct.pack("<HH", LIMIT, page)).decode()


class FakeFleet(BaseHTTPRequestHandler):
    units = {}
    requests = []
    unavailable = 0

    def log_message(self, *args):
        pass

    def answer(self, status, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message):
        self.answer(status, {"error": {"code": status, "message": message}})

    def do_GET(self):
        url = urlsplit(self.path)
        FakeFleet.requests.append(("GET", self.path))
        if FakeFleet.unavailable:
            FakeFleet.unavailable -= 1
            return self.error(503, "fleet server unable to communicate with etcd")
        query = parse_qs(url.query)
        if url.path == "/fleet/v1/units":
            return self.page(sorted(FakeFleet.units.values(), key=lambda u: u["name"]), "units", query)
        if url.path.startswith("/fleet/v1/units/"):
            name = url.path[len("/fleet/v1/units/"):].replace("%40", "@")
            if name not in FakeFleet.units:
                return self.error(404, "unit does not exist")
            return self.answer(200, FakeFleet.units[name])
        if url.path == "/fleet/v1/state":
            rows = [{"name": n, "machineID": m, "hash": "h", "systemdActiveState": "active"}
                    for n in sorted(FakeFleet.units) for m in ("m1", "m2")]
            if "unitName" in query:
                rows = [r for r in rows if r["name"] == query["unitName"][0]]
            return self.page(rows, "states", query)
        return self.error(404, "")

    def page(self, items, key, query):
        page = 1
        if "nextPageToken" in query:
            page = struct.unpack("<HH", base64.urlsafe_b64decode(query["nextPageToken"][0]))[1]
        chunk = items[(page - 1) * LIMIT:page * LIMIT]
        body = {}
        if chunk:
            body[key] = chunk
        if len(chunk) == LIMIT:
            body["nextPageToken"] = token(page + 1)
        self.answer(200, body)

    def do_PUT(self):
        FakeFleet.requests.append(("PUT", self.path))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = self.path.rsplit("/", 1)[1]
        if self.headers.get("Content-Type") != "application/json":
            return self.error(415, "only acceptable Content-Type is application/json")
        if name not in FakeFleet.units and not body.get("options"):
            return self.error(409, "unit does not exist and options field empty")
        FakeFleet.units[name] = dict(body, name=name)
        self.answer(201)

    def do_DELETE(self):
        FakeFleet.requests.append(("DELETE", self.path))
        name = self.path.rsplit("/", 1)[1]
        if FakeFleet.units.pop(name, None) is None:
            return self.error(404, "unit does not exist")
        self.answer(204)


@pytest.fixture(scope="module")
def fleet_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeFleet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fleet(fleet_server):
    FakeFleet.units = {}
    FakeFleet.requests = []
    FakeFleet.unavailable = 0
    return FleetClient(fleet_server, retries=2)


def add_units(count):
    for i in range(count):
        name = f"u{i:02d}@v1.service"
        FakeFleet.units[name] = {"name": name, "desiredState": "launched", "options": [{"section": "Service", "name": "ExecStart", "value": "/x"}]}


@pytest.mark.parametrize("count, pages", [(0, 1), (1, 1), (2, 2), (3, 2), (5, 3)])
def test_units_follows_every_page(fleet, count, pages):
    add_units(count)
    names = [u["name"] for u in fleet.units()]
    assert names == sorted(FakeFleet.units)
    assert len([r for r in FakeFleet.requests if r[1].startswith("/fleet/v1/units")]) == pages


def test_state_filter_is_sent_and_paged(fleet):
    add_units(3)
    rows = fleet.state(unit_name="u01@v1.service")
    assert [(r["name"], r["machineID"]) for r in rows] == [("u01@v1.service", "m1"), ("u01@v1.service", "m2")]
    assert any("unitName=u01%40v1.service" in path for _m, path in FakeFleet.requests)
    assert len(fleet.state()) == 6


def test_unknown_unit_is_none_and_delete_missing_is_false(fleet):
    assert fleet.unit("nope.service") is None
    assert fleet.delete("nope.service") is False


def test_put_then_get_then_delete(fleet):
    opts = [{"section": "Service", "name": "ExecStart", "value": "/bin/true"}]
    assert fleet.put_unit("a@v1.service", opts, "launched") == 201
    assert fleet.unit("a@v1.service")["desiredState"] == "launched"
    assert fleet.delete("a@v1.service") is True
    assert fleet.unit("a@v1.service") is None


def test_error_names_operation_resource_and_fleet_message(fleet):
    with pytest.raises(FleetError) as info:
        fleet.set_state("ghost@v1.service", "launched")
    message = str(info.value)
    assert "set desiredState=launched of fleet unit 'ghost@v1.service'" in message
    assert "HTTP 409: unit does not exist and options field empty" in message
    assert info.value.status == 409


def test_503_is_retried_then_succeeds(fleet):
    add_units(1)
    FakeFleet.unavailable = 2
    assert [u["name"] for u in fleet.units()] == ["u00@v1.service"]


def test_503_beyond_retries_fails_with_fleet_message(fleet):
    FakeFleet.unavailable = 5
    with pytest.raises(FleetError, match="list fleet machines failed .* HTTP 503: fleet server unable to communicate with etcd"):
        fleet.machines()


def test_no_answer_is_reported():
    client = FleetClient("unix:///nonexistent/fleet.sock", retries=0)
    with pytest.raises(FleetError, match="no answer from fleet"):
        client.units()


@pytest.mark.parametrize("name", ["foo.service", "foo@.service", "foo@123.service", "yo.yo.service", "hello:world.service",
                                  "yes@no\\.service", "foo-bar.mount", "x" * 248 + ".service"])
def test_valid_unit_names(name):
    assert check_unit_name(name) == name


@pytest.mark.parametrize("name, message", [
    ("fooservice", 'must contain "."'), ("foo.", 'cannot end in "."'), ("foo.bar", "invalid unit type"),
    ("foo.servICE", "invalid unit type"), ("foo@1.mount", "for template"), ("foo$x.service", "invalid character '\\$'"),
    ("foo x.service", "invalid character ' '"), ("@foo.service", 'cannot start in "@"'), ("x" * 250 + ".service", "256"),
])
def test_invalid_unit_names(name, message):
    with pytest.raises(ValueError, match=message):
        check_unit_name(name)


def test_is_template():
    assert is_template("foo@.service")
    assert not is_template("foo@1.service")
    assert not is_template("foo.service")


def test_state_stops_paging_once_every_wanted_machine_has_a_row(fleet):
    add_units(3)
    FakeFleet.requests = []
    rows = fleet.state(unit_name="u01@v1.service", machine_ids=["m1", "m2"])
    assert [r["machineID"] for r in rows] == ["m1", "m2"]
    assert len(FakeFleet.requests) == 1  # the page was full, yet the empty page after it is not read
    FakeFleet.requests = []
    rows = fleet.state(unit_name="u01@v1.service", machine_ids=["m1", "m3"])  # m3 has no row: every page is read
    assert [r["machineID"] for r in rows] == ["m1", "m2"] and len(FakeFleet.requests) == 2
