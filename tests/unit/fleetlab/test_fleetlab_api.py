# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet v1 API over the wire: routing, status codes, error bodies, headers (reference 1-4)."""
from __future__ import annotations

import json

import pytest

from fleetlab_support import SLEEP, opts

A = "/fleet/v1"
JSON = [("Content-Type", "application/json")]
ROUTES = [
    # method, path, status, message (None: no error body)
    ("GET", "/", 405, ""), ("GET", "/fleet/v1", 405, ""), ("GET", "/v1-alpha", 405, ""),
    ("GET", "/bogus", 404, ""), ("GET", "/fleet/v1/", 404, ""), ("GET", "/fleet/v1/machines/x", 404, ""),
    ("POST", "/fleet/v1/discovery", 400, "only HTTP GET supported against this resource"),
    ("POST", "/fleet/v1/units", 405, "only GET supported against this resource"),
    ("HEAD", "/fleet/v1/units", 405, None),
    ("POST", "/fleet/v1/units/foo.service", 405, "only GET, PUT and DELETE supported against this resource"),
    ("PATCH", "/fleet/v1/units/foo.service", 405, "only GET, PUT and DELETE supported against this resource"),
    ("GET", "/fleet/v1/units/", 404, ""), ("GET", "/fleet/v1/units/a/b", 404, ""),
    ("GET", "/fleet/v1/units/a%2Fb.service", 404, ""),
    ("PUT", "/fleet/v1/state", 405, "only GET supported against this resource"),
    ("DELETE", "/fleet/v1/state/foo.service", 405, "only GET supported against this resource"),
    ("GET", "/fleet/v1/state/", 404, ""),
    ("PUT", "/fleet/v1/machines", 405, "only GET and PATCH supported against this resource"),
    ("GET", "/fleet/v1/units/nope.service", 404, "unit does not exist"),
    ("GET", "/fleet/v1/units/invalid$name", 404, "unit does not exist"),
    ("DELETE", "/fleet/v1/units/nope.service", 404, "unit does not exist"),
    ("GET", "/fleet/v1/state/nope.service", 404, "unit state does not exist"),
    ("GET", "/v1-alpha/units/nope.service", 404, "unit does not exist"),
    ("POST", "/v1-alpha/machines", 405, "only GET and PATCH supported against this resource"),
]


@pytest.mark.parametrize("method,path,status,message", ROUTES)
def test_routing_table(flab, method, path, status, message):
    reply = flab.tcp.request(method, path)
    assert reply.status == status
    assert reply.headers["Server"] == "fleetd/1.0.0"
    if message is None:
        assert reply.raw == b""
    else:
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json == {"error": {"code": status, "message": message}}


def test_error_body_is_compact_go_json(flab):
    reply = flab.tcp.get(A + "/units/nope.service")
    assert reply.raw == b'{"error":{"code":404,"message":"unit does not exist"}}'


def test_discovery_is_fleets_document(flab):
    reply = flab.unix.get(A + "/discovery")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    doc = reply.json
    assert doc["rootUrl"] == "$ENDPOINT/" and doc["baseUrl"] == "$ENDPOINT/fleet/v1/"
    assert set(doc["resources"]) == {"Machines", "Units", "UnitState"}
    assert set(doc["resources"]["Units"]["methods"]) == {"List", "Get", "Delete", "Set"}


PUT_CASES = [
    # headers, body, status, message
    ([], '{"desiredState":"launched"}', 415, "expected 1 Content-Type, got 0"),
    (JSON + JSON, '{}', 415, "expected 1 Content-Type, got 2"),
    ([("Content-Type", "text/plain")], '{}', 415, "only acceptable Content-Type is application/json"),
    ([("Content-Type", "application/json; charset=utf-8")], '', 400, "unable to decode body: EOF"),
    (JSON, "", 400, "unable to decode body: EOF"),
    (JSON, "[]", 400, "unable to decode body: json: cannot unmarshal array into Go value of type schema.Unit"),
    (JSON, '"x"', 400, "unable to decode body: json: cannot unmarshal string into Go value of type schema.Unit"),
    (JSON, "{bad", 400, "unable to decode body: invalid character 'b' looking for beginning of object key string"),
    (JSON, '{"desiredState":5}', 400,
     "unable to decode body: json: cannot unmarshal number into Go struct field Unit.desiredState of type string"),
    (JSON, '{"name":"other.service","desiredState":"launched"}', 400,
     'name in URL "new.service" differs from unit name in request body "other.service"'),
    (JSON, '{"desiredState":"launched"}', 409, "unit does not exist and options field empty"),
    (JSON, '{"options":[]}', 409, "unit does not exist and options field empty"),
    (JSON, json.dumps({"options": opts(("X-Fleet", "MachineID", "a"), ("X-Fleet", "Global", "true"))}), 400,
     "MachineID cannot be used with Global"),
    (JSON, json.dumps({"desiredState": "bogus", "options": SLEEP}), 400, 'invalid value "bogus" for JobState'),
    (JSON, json.dumps({"options": SLEEP}), 201, None),
    (JSON, json.dumps({"DesiredState": "loaded", "Options": SLEEP, "currentState": "x", "machineID": "y"}), 201, None),
    (JSON, json.dumps({"options": SLEEP}) + " trailing garbage", 201, None),
]


@pytest.mark.parametrize("headers,body,status,message", PUT_CASES)
def test_put_new_unit(flab, headers, body, status, message):
    reply = flab.tcp.request("PUT", A + "/units/new.service", body=body, headers=headers)
    assert reply.status == status, reply.raw
    if message is None:
        assert reply.raw == b"" and reply.headers["Content-Length"] == "0" and "Content-Type" not in reply.headers
    else:
        assert reply.json == {"error": {"code": status, "message": message}}


@pytest.mark.parametrize("name,message", [
    ("fooservice", 'unit name must contain "."'), ("foo.bar", 'invalid unit type: "bar"'),
    ("foo@1.mount", 'invalid unit type for template: "mount"'), ("@foo.service", 'unit name cannot start in "@"'),
    ("foo%24x.service", "invalid character '$' in unit name"),
])
def test_put_name_validation(flab, name, message):
    reply = flab.tcp.put(A + "/units/" + name, {"options": SLEEP})
    assert (reply.status, reply.error) == (400, message)


def test_put_decision_order_on_existing_unit(flab):
    path = A + "/units/web.service"
    assert flab.tcp.put(path, {"options": SLEEP}).status == 201
    unit = flab.unit("web.service")
    assert unit["desiredState"] == "inactive" and unit["currentState"] == "inactive" and "machineID" not in unit
    # same options, no desiredState -> 409
    reply = flab.tcp.put(path, {"options": SLEEP})
    assert (reply.status, reply.error) == (409, "must provide DesiredState to update existing unit")
    reply = flab.tcp.put(path, {})
    assert (reply.status, reply.error) == (409, "must provide DesiredState to update existing unit")
    # same options + state: a plain state change
    reply = flab.tcp.put(path, {"options": SLEEP, "desiredState": "loaded"})
    assert (reply.status, reply.raw) == (204, b"") and "Content-Type" not in reply.headers
    assert flab.unit("web.service")["desiredState"] == "loaded"
    # deviation: an invalid desiredState on an existing unit is a 400, nothing stored
    reply = flab.tcp.put(path, {"desiredState": "bogus"})
    assert (reply.status, reply.error) == (400, 'invalid value "bogus" for JobState')
    assert flab.unit("web.service")["desiredState"] == "loaded"
    # new options replace the unit: 201 and desiredState back to inactive
    new = opts(("Service", "ExecStart", "/bin/sleep 200"))
    assert flab.tcp.put(path, {"options": new}).status == 201
    unit = flab.unit("web.service")
    assert unit["desiredState"] == "inactive" and unit["options"] == [{"name": "ExecStart", "section": "Service", "value": "/bin/sleep 200"}]
    # replace keeps a given desiredState; replace skips ValidateOptions
    bad = opts(("Service", "ExecStart", "/bin/x"), ("X-Fleet", "MachineID", "a"), ("X-Fleet", "Global", "true"))
    assert flab.tcp.put(path, {"options": bad, "desiredState": "loaded"}).status == 201
    assert flab.unit("web.service")["desiredState"] == "loaded"


def test_padded_options_are_normalised_and_count_as_different(flab):
    sent = opts(("Unit", "Description", "  padded  "), ("Service", "ExecStart", "/bin/a"), ("Unit", "After", "b.service"))
    assert flab.tcp.put(A + "/units/pad.service", {"options": sent}).status == 201
    assert flab.unit("pad.service")["options"] == [
        {"name": "Description", "section": "Unit", "value": "padded"},
        {"name": "After", "section": "Unit", "value": "b.service"},
        {"name": "ExecStart", "section": "Service", "value": "/bin/a"}]
    # the raw options hash differently from the stored ones: replaced again (201)
    assert flab.tcp.put(A + "/units/pad.service", {"options": sent, "desiredState": "inactive"}).status == 201
    stored = flab.unit("pad.service")["options"]
    assert flab.tcp.put(A + "/units/pad.service", {"options": stored, "desiredState": "inactive"}).status == 204


def test_templates(flab):
    assert flab.tcp.put(A + "/units/tpl@.service", {"options": SLEEP, "desiredState": "launched"}).status == 201
    reply = flab.tcp.put(A + "/units/tpl@.service", {"desiredState": "launched"})
    assert (reply.status, reply.error) == (400, 'cannot activate template "tpl@.service"')
    assert flab.tcp.put(A + "/units/tpl@.service", {"desiredState": "inactive"}).status == 204
    # no server-side template instantiation
    reply = flab.tcp.put(A + "/units/tpl@1.service", {"desiredState": "launched"})
    assert (reply.status, reply.error) == (409, "unit does not exist and options field empty")


def test_at_sign_raw_and_encoded(flab):
    assert flab.tcp.put(A + "/units/app%401.service", {"options": SLEEP}).status == 201
    assert flab.tcp.get(A + "/units/app@1.service").json["name"] == "app@1.service"
    assert flab.tcp.get("/v1-alpha/units/app%401.service?alt=json").status == 200
    assert flab.tcp.put(A + "/units/app@1.service", {"name": "app@1.service", "desiredState": "loaded"}).status == 204
    assert flab.tcp.delete(A + "/units/app%401.service").status == 204
    assert flab.tcp.get(A + "/units/app@1.service").status == 404


def test_delete_removes_from_list_at_once(flab):
    flab.put_unit("gone.service", SLEEP, desired="launched")
    flab.wait_rows("gone.service", lambda rows: len(rows) == 1, what="one row")
    reply = flab.tcp.delete(A + "/units/gone.service")
    assert (reply.status, reply.raw) == (204, b"")
    assert flab.tcp.get(A + "/units").json == {}
    flab.wait_rows("gone.service", lambda rows: rows == [], what="no rows")


def test_empty_pages_are_empty_objects(flab):
    assert flab.tcp.get(A + "/units?alt=json").raw == b"{}"
    assert flab.tcp.get(A + "/state").raw == b"{}"


def test_global_unit_current_state(flab):
    flab.put_unit("g.service", SLEEP + opts(("X-Fleet", "Global", "true")), desired="launched")
    unit = flab.unit("g.service")
    assert "currentState" not in unit and "machineID" not in unit
    assert flab.tcp.get(A + "/units").json["units"][0]["currentState"] == "inactive"


def test_machines_listing_and_patch(flab):
    ids = flab.ids
    page = flab.tcp.get(A + "/machines").json
    assert [m["id"] for m in page["machines"]] == ids
    assert all(set(m) == {"id", "primaryIP", "metadata"} for m in page["machines"])
    ops = [{"op": "add", "path": "/%s/metadata/disk" % ids[0], "value": {"value": "ssd"}},
           {"op": "replace", "path": "/%s/metadata/role" % ids[0], "value": {"value": "db"}},
           {"op": "remove", "path": "/%s/metadata/az" % ids[0]},
           {"op": "add", "path": "/unknownmachine/metadata/k", "value": {"value": "v"}}]
    reply = flab.tcp.request("PATCH", A + "/machines", body=json.dumps(ops))
    assert (reply.status, reply.raw, reply.headers.get("Content-Type")) == (204, b"", "application/json")
    first = flab.tcp.get(A + "/machines").json["machines"][0]
    assert first["metadata"] == {"disk": "ssd", "role": "db"}
    assert flab.tcp.request("PATCH", A + "/machines", body="[]").status == 204


@pytest.mark.parametrize("body,message", [
    ("", "EOF"),
    ('{"op":"add"}', "json: cannot unmarshal object into Go value of type []api.machineMetadataOp"),
    ('[{"op":"move","path":"/m/metadata/k","value":{"value":"v"}}]', "invalid op: expect add, remove, or replace"),
    ('[{"op":"add","path":"/m/meta/k","value":{"value":"v"}}]', "machine metadata path invalid"),
    ('[{"op":"add","path":"/m/metadata/k!","value":{"value":"v"}}]', "machine metadata path invalid"),
    ('[{"op":"add","path":"/m/metadata/k"}]', "invalid value: add and replace require a value"),
    ('[{"op":"replace","path":"/m/metadata/k","value":{"value":""}}]', "invalid value: add and replace require a value"),
    ('[{"op":"add","path":"/m/metadata/k","value":"bar"}]',
     'json: cannot unmarshal string into Go struct field machineMetadataOp.Value of type struct { Value string "json:\\"value\\"" }'),
])
def test_patch_validation_is_all_or_nothing(flab, body, message):
    first_ok = '{"op":"add","path":"/%s/metadata/zz","value":{"value":"1"}}' % flab.ids[0]
    if body.startswith("[{"):
        body = "[" + first_ok + "," + body[1:]
    reply = flab.tcp.request("PATCH", A + "/machines", body=body)
    assert (reply.status, reply.error) == (400, message)
    assert "zz" not in flab.tcp.get(A + "/machines").json["machines"][0]["metadata"]
