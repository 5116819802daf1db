# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Page tokens (reference 4.10), the admin/fault API, the unix socket, and virtual mode at scale."""
from __future__ import annotations

import http.client
import json

import pytest

from lab.fleetlab import virtual_machines
from lab.fleetlab.api import encode_token

from fleetlab_support import SLEEP, opts

A = "/fleet/v1"


@pytest.mark.parametrize("limit,page,token", [(100, 2, "ZAACAA=="), (100, 3, "ZAADAA=="), (2, 2, "AgACAA==")])
def test_token_encoding(limit, page, token):
    assert encode_token(limit, page) == token


@pytest.mark.parametrize("query,message", [
    ("nextPageToken=ZAACAA==&nextPageToken=ZAACAA==", "too many values for page token"),
    ("nextPageToken=bogus", "illegal base64 data at input byte 4"),
    ("nextPageToken=", "EOF"),
    ("nextPageToken=ZAA=", "unexpected EOF"),
    ("nextPageToken=EwBMLg==", "token limit must be 100"),
    ("nextPageToken=ZAAAAA==", "token page must be greater than zero"),
])
@pytest.mark.parametrize("resource", ["units", "state", "machines"])
def test_bad_tokens(flab, resource, query, message):
    reply = flab.tcp.get("%s/%s?%s" % (A, resource, query))
    assert (reply.status, reply.error) == (400, message)


def test_pages_of_exactly_full_size(flab_factory):
    flab = flab_factory(token_limit=2)
    for name in ("c.service", "a.service", "b.service", "d.service"):
        flab.put_unit(name, SLEEP, desired="inactive")
    page1 = flab.tcp.get(A + "/units").json
    assert [u["name"] for u in page1["units"]] == ["a.service", "b.service"]
    assert page1["nextPageToken"] == "AgACAA=="
    page2 = flab.tcp.get(A + "/units?nextPageToken=AgACAA%3D%3D").json
    assert [u["name"] for u in page2["units"]] == ["c.service", "d.service"] and page2["nextPageToken"] == "AgADAA=="
    assert flab.tcp.get(A + "/units?nextPageToken=AgADAA==").raw == b"{}"
    assert flab.tcp.get(A + "/units?nextPageToken=AgAJAA==").raw == b"{}"
    machines = flab.tcp.get(A + "/machines").json
    assert len(machines["machines"]) == 2 and machines["nextPageToken"] == "AgACAA=="
    assert list(flab.tcp.get(A + "/machines").raw.decode().split('"')[1:2]) == ["machines"]


def test_state_filters_and_order(flab):
    flab.put_unit("g.service", SLEEP + opts(("X-Fleet", "Global", "true")))
    flab.put_unit("a.service", SLEEP)
    flab.wait_rows("g.service", lambda rows: len(rows) == 3)
    flab.wait_rows("a.service", lambda rows: len(rows) == 1)
    rows = flab.states()
    assert [(r["name"], r["machineID"]) for r in rows] == sorted((r["name"], r["machineID"]) for r in rows)
    target = flab.unit("a.service")["machineID"]
    assert {r["name"] for r in flab.states(machineID=target)} == {"a.service", "g.service"}
    assert flab.states(machineID=target[:8]) == []
    assert [r["machineID"] for r in flab.states(machineID=target, unitName="g.service")] == [target]
    assert flab.tcp.get(A + "/state?unitName=none.service").raw == b"{}"
    assert flab.tcp.get(A + "/state/g.service").json["name"] == "g.service"


def test_stats_count_every_api_request(flab):
    admin = flab.tcp
    admin.request("POST", "/fleetlab/v1/stats/reset")
    flab.tcp.get(A + "/units")
    flab.unix.get(A + "/machines")
    flab.put_unit("s.service", SLEEP, desired="inactive")
    flab.tcp.delete(A + "/units/s.service")
    flab.tcp.request("PATCH", A + "/machines", body="[]")
    stats = admin.get("/fleetlab/v1/stats").json
    assert stats["requests"] == {"GET": 2, "PUT": 1, "DELETE": 1, "PATCH": 1}
    assert (stats["reads"], stats["writes"]) == (2, 3)
    assert stats["by_path"]["/fleet/v1/units/s.service"] == {"PUT": 1, "DELETE": 1}


def test_admin_api_is_tcp_only(flab):
    assert flab.unix.get("/fleetlab/v1/stats").status == 404


def test_status_fault_with_count_and_filters(flab):
    reply = flab.tcp.request("POST", "/fleetlab/v1/faults", body=json.dumps(
        {"kind": "status", "status": 503, "count": 2, "methods": ["GET"], "path_prefix": "/fleet/v1/units"}))
    assert reply.status == 201
    fault_id = reply.json["id"]
    assert [f["id"] for f in flab.tcp.get("/fleetlab/v1/faults").json["faults"]] == [fault_id]
    assert flab.tcp.get(A + "/machines").status == 200
    for _attempt in range(2):
        reply = flab.unix.get(A + "/units")
        assert reply.raw == b'{"error":{"code":503,"message":"fleet server unable to communicate with etcd"}}'
    assert flab.tcp.get(A + "/units").status == 200
    assert flab.tcp.get("/fleetlab/v1/faults").json["faults"] == []


def test_drop_fault_closes_without_answer_and_delete(flab):
    fault_id = flab.tcp.request("POST", "/fleetlab/v1/faults", body='{"kind": "drop", "seconds": 600}').json["id"]
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        flab.tcp.get(A + "/units")
    assert flab.tcp.delete("/fleetlab/v1/faults/%s" % fault_id).status == 204
    assert flab.tcp.delete("/fleetlab/v1/faults/%s" % fault_id).status == 404
    assert flab.tcp.get(A + "/units").status == 200


@pytest.mark.parametrize("spec", [{"kind": "nope"}, {"kind": "status", "count": 0}, {"kind": "latency"},
                                  {"kind": "unit_fail"}, [1]])
def test_bad_fault_specs(flab, spec):
    assert flab.tcp.request("POST", "/fleetlab/v1/faults", body=json.dumps(spec)).status == 400


def test_unit_fail_fault_and_timings(flab):
    target = flab.ids[0]
    flab.tcp.request("POST", "/fleetlab/v1/faults", body=json.dumps({"kind": "unit_fail", "unit": "boom@*", "machine": target}))
    flab.put_unit("boom@1.service", SLEEP + opts(("X-Fleet", "Global", "true")))
    rows = flab.wait_rows("boom@1.service", lambda rows: len(rows) == 3 and all(
        r["systemdActiveState"] in ("active", "failed") for r in rows))
    assert {r["machineID"]: r["systemdActiveState"] for r in rows} == {
        mid: ("failed" if mid == target else "active") for mid in flab.ids}
    timings = flab.tcp.get("/fleetlab/v1/timings").json["units"]["boom@1.service"]
    assert sorted(timings) == sorted(set(flab.ids) - {target})
    assert all(t["start_seconds"] >= 0 for t in timings.values())
    assert flab.tcp.delete("/fleetlab/v1/faults").status == 204


def test_virtual_mode_at_scale(flab_factory):
    """300 virtual machines x 50 units (10 global): every row is listed through the paginated API."""
    machines = virtual_machines(300)
    assert len({m.id for m in machines}) == 300 and all(len(m.id) == 32 for m in machines)
    flab = flab_factory(machines)
    for index in range(10):
        flab.put_unit("global%d.service" % index, SLEEP + opts(("X-Fleet", "Global", "true")))
    for index in range(40):
        flab.put_unit("single%02d.service" % index, SLEEP)
    flab.settle()
    expected = 10 * 300 + 40

    def all_running():
        rows = flab.states()
        return rows if len(rows) == expected and all(r["systemdSubState"] == "running" for r in rows) else None

    from fleetlab_support import wait_for  # pylint: disable=import-outside-toplevel
    rows = wait_for(all_running, timeout=120, what="all rows running")
    assert len({r["machineID"] for r in rows if r["name"].startswith("single")}) == 40
    units = flab.tcp.get(A + "/units").json["units"]
    assert len(units) == 50 and all(u["currentState"] in ("launched", "inactive") for u in units)
