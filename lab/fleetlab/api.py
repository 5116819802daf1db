# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet v1 API handlers (reference sections 1 to 5 and 14), independent of the HTTP server.

``FleetAPI.handle(method, raw_path, query, headers, body)`` returns a ``Response``. Behaviour,
status codes and error texts are fleet v1.0.0's (api/*.go); the deviations where fleet panics or
corrupts its state are listed in docs/fleetlab.md.
"""
from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import struct
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

from .registry import Registry
from .unitfile import JOB_STATES, NameInfo, go_quote, unit_hash, validate_name, validate_options

PREFIXES = ("/fleet/v1", "/v1-alpha")
DEFAULT_TOKEN_LIMIT = 100
SERVER_HEADER = "fleetd/1.0.0"
METADATA_PATH = re.compile(r"^/([^/]+)/metadata/([A-Za-z0-9_.-]+)$")
_DISCOVERY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "discovery.json")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(Exception):
    """A 400 whose message is the decoder's (or validator's) text."""


def go_json(value) -> bytes:
    """json.Marshal: compact, UTF-8, <>& escaped like Go."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8")


def json_response(status: int, value) -> Response:
    return Response(status, go_json(value), {"Content-Type": "application/json"})


def error_response(status: int, message: str = "") -> Response:
    return json_response(status, {"error": {"code": status, "message": message}})


# -- page tokens ---------------------------------------------------------------------------------
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}


def go_urlsafe_b64decode(text: str) -> bytes:
    """base64.URLEncoding.DecodeString with Go's error positions ("illegal base64 data at input byte N")."""
    def corrupt(pos: int) -> BadRequest:
        return BadRequest("illegal base64 data at input byte %d" % pos)

    out = bytearray()
    si, n = 0, len(text)
    while True:
        dbuf = [0, 0, 0, 0]
        dlen = 4
        j = 0
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out)
                raise corrupt(si - j)
            char = text[si]
            si += 1
            if char in "\r\n":
                continue
            if char in _B64:
                dbuf[j] = _B64[char]
                j += 1
                continue
            if char != "=":
                raise corrupt(si - 1)
            if j in (0, 1):
                raise corrupt(si - 1)
            if j == 2:
                while si < n and text[si] in "\r\n":
                    si += 1
                if si == n:
                    raise corrupt(n)
                if text[si] != "=":
                    raise corrupt(si - 1)
                si += 1
            while si < n and text[si] in "\r\n":
                si += 1
            if si < n:
                raise corrupt(si)
            dlen = j
            break
        value = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3]
        chunk = bytes([(value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF])
        out += chunk[:dlen - 1]
        if dlen < 4:
            return bytes(out)


def encode_token(limit: int, page: int) -> str:
    return base64.urlsafe_b64encode(struct.pack("<HH", limit, page)).decode("ascii")


def parse_token(query: dict[str, list[str]], limit: int) -> tuple[int, int]:
    """fleet's findNextPageToken: returns (limit, page) or raises BadRequest."""
    values = query.get("nextPageToken", [])
    if len(values) > 1:
        raise BadRequest("too many values for page token")
    if not values:
        return limit, 1
    raw = go_urlsafe_b64decode(values[0])
    if len(raw) == 0:
        raise BadRequest("EOF")
    if len(raw) < 4:
        raise BadRequest("unexpected EOF")
    tok_limit, page = struct.unpack("<HH", raw[:4])
    if tok_limit != limit:
        raise BadRequest("token limit must be %d" % limit)
    if page == 0:
        raise BadRequest("token page must be greater than zero")
    return tok_limit, page


def page_slice(total: int, limit: int, page: int) -> tuple[int, int, str | None]:
    """(start, stop, next token) exactly as fleet's extract*PageData."""
    start, stop = (page - 1) * limit, page * limit
    if start >= total:
        return 0, 0, None
    if stop > total:
        return start, total, None
    return start, stop, encode_token(limit, page + 1 if page < 0xFFFF else 0)


# -- JSON request decoding (Go encoding/json semantics, approximately) ---------------------------
_GO_KIND = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}


def _kind(value) -> str:
    return _GO_KIND.get(type(value), "number")


def decode_first_value(body: bytes):
    """Decode the first JSON value of body as json.Decoder.Decode does; errors are Go's texts."""
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise BadRequest("EOF")
    try:
        value, _end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped):
            raise BadRequest("unexpected EOF") from None
        char = stripped[exc.pos]
        if exc.msg.startswith("Expecting value"):
            where = "looking for beginning of value"
        elif exc.msg.startswith("Expecting property name"):
            where = "looking for beginning of object key string"
        elif exc.msg.startswith("Expecting ':'"):
            where = "after object key"
        elif "delimiter" in exc.msg and s_is_object(stripped, exc.pos):
            where = "after object key:value pair"
        else:
            where = "after array element"
        raise BadRequest("invalid character %s %s" % (_rune(char), where)) from None
    return value


def s_is_object(text: str, pos: int) -> bool:
    """Whether the innermost open bracket before pos is an object (for Go's syntax error text)."""
    depth = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth.append(char)
        elif char in "]}" and depth:
            depth.pop()
    return bool(depth) and depth[-1] == "{"


def _rune(char: str) -> str:
    if char == "'":
        return "'\\''"
    if char == "\\":
        return "'\\\\'"
    if ord(char) < 0x20:
        return "'\\x%02x'" % ord(char)
    return "'%s'" % char


def _fold_get(obj: dict, name: str, go_path: str, expect: type, type_name: str):
    """Go's case-insensitive field matching (last key wins), with its type error text."""
    value = None
    for key, item in obj.items():
        if key.lower() == name.lower():
            value = item
    if value is None:
        return None
    if not isinstance(value, expect) or isinstance(value, bool) != (expect is bool):
        raise BadRequest("json: cannot unmarshal %s into Go struct field %s of type %s" % (_kind(value), go_path, type_name))
    return value


def decode_unit(body: bytes) -> dict:
    """Decode a PUT body into schema.Unit fields: name, desiredState, options."""
    try:
        value = decode_first_value(body)
    except BadRequest as exc:
        raise BadRequest("unable to decode body: %s" % exc) from None
    if value is None:
        return {"name": "", "desiredState": "", "options": []}
    if not isinstance(value, dict):
        raise BadRequest("unable to decode body: json: cannot unmarshal %s into Go value of type schema.Unit" % _kind(value))
    try:
        name = _fold_get(value, "name", "Unit.name", str, "string") or ""
        desired = _fold_get(value, "desiredState", "Unit.desiredState", str, "string") or ""
        _fold_get(value, "currentState", "Unit.currentState", str, "string")
        _fold_get(value, "machineID", "Unit.machineID", str, "string")
        raw_options = _fold_get(value, "options", "Unit.options", list, "[]*schema.UnitOption") or []
        options = []
        for raw in raw_options:
            if raw is None:
                continue  # a null *UnitOption; fleet would panic later, we drop it
            if not isinstance(raw, dict):
                raise BadRequest("json: cannot unmarshal %s into Go struct field Unit.options of type schema.UnitOption" % _kind(raw))
            options.append({key: _fold_get(raw, key, "UnitOption.options.%s" % key, str, "string") or ""
                            for key in ("section", "name", "value")})
    except BadRequest as exc:
        raise BadRequest("unable to decode body: %s" % exc) from None
    return {"name": name, "desiredState": desired, "options": options}


def decode_metadata_ops(body: bytes) -> list[dict]:
    value = decode_first_value(body)
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRequest("json: cannot unmarshal %s into Go value of type []api.machineMetadataOp" % _kind(value))
    ops = []
    for raw in value:
        if raw is None:
            ops.append({"op": "", "path": "", "value": ""})
            continue
        if not isinstance(raw, dict):
            raise BadRequest("json: cannot unmarshal %s into Go value of type api.machineMetadataOp" % _kind(raw))
        op = _fold_get(raw, "op", "machineMetadataOp.op", str, "string") or ""
        path = _fold_get(raw, "path", "machineMetadataOp.path", str, "string") or ""
        nested = _fold_get(raw, "value", "machineMetadataOp.Value", dict,
                           'struct { Value string "json:\\"value\\"" }') or {}
        inner = _fold_get(nested, "value", "machineMetadataOp.Value.value", str, "string") or ""
        ops.append({"op": op, "path": path, "value": inner})
    return ops


class FleetAPI:
    """The fleet v1 HTTP API over a Registry."""

    def __init__(self, registry: Registry, token_limit: int = DEFAULT_TOKEN_LIMIT):
        self.registry = registry
        self.token_limit = token_limit
        with open(_DISCOVERY_PATH, "rb") as handle:
            self.discovery = handle.read()

    # -- routing --------------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, query_string: str, headers: list[tuple[str, str]],
               body: bytes) -> Response:
        path = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
        query = parse_qs(query_string, keep_blank_values=True)
        if path in ("/",) + PREFIXES:
            return error_response(405)
        if path == "/metrics":
            return Response(200, b"# fleetlab: no metrics\n", {"Content-Type": "text/plain; version=0.0.4"})
        for prefix in PREFIXES:
            if path.startswith(prefix + "/"):
                return self._route(method, path[len(prefix):], path, query, headers, body)
        return error_response(404)

    def _route(self, method, rel, path, query, headers, body) -> Response:
        try:
            if rel == "/discovery":
                if method != "GET":
                    return error_response(400, "only HTTP GET supported against this resource")
                return Response(200, self.discovery, {"Content-Type": "application/json"})
            if rel == "/machines":
                if method == "GET":
                    return self.list_machines(query)
                if method == "PATCH":
                    return self.patch_machines(body)
                return error_response(405, "only GET and PATCH supported against this resource")
            for base, item_methods in (("/units", "only GET, PUT and DELETE supported against this resource"),
                                       ("/state", "only GET supported against this resource")):
                if rel == base:
                    if method != "GET":
                        return error_response(405, "only GET supported against this resource")
                    return self.list_units(query) if base == "/units" else self.list_state(query)
                if rel.startswith(base + "/"):
                    item = rel[len(base) + 1:]
                    if not item or "/" in item or path.endswith("/"):
                        return error_response(404)
                    item = posixpath.basename(item)
                    if base == "/state":
                        if method != "GET":
                            return error_response(405, item_methods)
                        return self.get_state(item)
                    if method == "GET":
                        return self.get_unit(item)
                    if method == "PUT":
                        return self.put_unit(item, headers, body)
                    if method == "DELETE":
                        return self.delete_unit(item)
                    return error_response(405, item_methods)
            return error_response(404)
        except BadRequest as exc:
            return error_response(400, str(exc))

    # -- units ----------------------------------------------------------------------------------
    def list_units(self, query) -> Response:
        limit, page = parse_token(query, self.token_limit)
        reg = self.registry
        with reg.lock:
            names = reg.unit_names()
            start, stop, token = page_slice(len(names), limit, page)
            units = [reg.unit_entity(reg.units[n], in_list=True) for n in names[start:stop]]
        result: dict = {}
        if token:
            result["nextPageToken"] = token
        if units:
            result["units"] = units
        return json_response(200, result)

    def get_unit(self, name: str) -> Response:
        reg = self.registry
        with reg.lock:
            unit = reg.get_unit(name)
            if unit is None:
                return error_response(404, "unit does not exist")
            return json_response(200, reg.unit_entity(unit))

    def delete_unit(self, name: str) -> Response:
        if not self.registry.delete_unit(name):
            return error_response(404, "unit does not exist")
        return Response(204)

    def put_unit(self, item: str, headers: list[tuple[str, str]], body: bytes) -> Response:
        content_types = [value for key, value in headers if key.lower() == "content-type"]
        if len(content_types) != 1:
            return error_response(415, "expected 1 Content-Type, got %d" % len(content_types))
        if content_types[0].split(";", 1)[0].strip() != "application/json":
            return error_response(415, "only acceptable Content-Type is application/json")
        unit = decode_unit(body)
        name = unit["name"] or item
        if name != item:
            return error_response(400, "name in URL %s differs from unit name in request body %s" % (go_quote(item), go_quote(name)))
        error = validate_name(name)
        if error:
            return error_response(400, error)
        desired, options = unit["desiredState"], unit["options"]
        reg = self.registry
        with reg.lock:
            existing = reg.get_unit(name)
            replace = False
            if existing is None:
                if not options:
                    return error_response(409, "unit does not exist and options field empty")
                error = validate_options(options)
                if error:
                    return error_response(400, error)
                replace = True
            elif options:
                replace = unit_hash(options) != existing.hash
            if replace:
                # deviation: fleet answers 500 (new unit) for an invalid desiredState; we answer 400
                if desired and desired not in JOB_STATES:
                    return error_response(400, "invalid value %s for JobState" % go_quote(desired))
                reg.create_unit(name, options, desired or "inactive")
                return Response(201, b"", {"Content-Length": "0"})
            if not desired:
                return error_response(409, "must provide DesiredState to update existing unit")
            info = NameInfo.parse(name)
            if info is not None and info.is_template and desired != "inactive":
                return error_response(400, "cannot activate template %s" % go_quote(name))
            # deviation: fleet stores an invalid desiredState (204) and the unit is broken for good
            if desired not in JOB_STATES:
                return error_response(400, "invalid value %s for JobState" % go_quote(desired))
            reg.set_desired(name, desired)
        return Response(204)

    # -- state ----------------------------------------------------------------------------------
    def list_state(self, query) -> Response:
        limit, page = parse_token(query, self.token_limit)
        machine_id = query.get("machineID", [""])[0]
        unit_name = query.get("unitName", [""])[0]
        reg = self.registry
        with reg.lock:
            keys = reg.state_keys(machine_id, unit_name)
            start, stop, token = page_slice(len(keys), limit, page)
            states = reg.state_page(keys[start:stop])
        result: dict = {}
        if token:
            result["nextPageToken"] = token
        if states:
            result["states"] = states
        return json_response(200, result)

    def get_state(self, name: str) -> Response:
        reg = self.registry
        with reg.lock:
            keys = reg.state_keys(unit_name=name)
            states = reg.state_page(keys[:1])
        if not states:
            # deviation: fleet 1.0.0 panics here and drops the connection
            return error_response(404, "unit state does not exist")
        return json_response(200, states[0])

    # -- machines -------------------------------------------------------------------------------
    def list_machines(self, query) -> Response:
        limit, page = parse_token(query, self.token_limit)
        reg = self.registry
        with reg.lock:
            ids = reg.machine_ids()
            start, stop, token = page_slice(len(ids), limit, page)
            machines = [reg.machine_entity(mid) for mid in ids[start:stop]]
        result: dict = {}
        if machines:
            result["machines"] = machines
        if token:
            result["nextPageToken"] = token
        return json_response(200, result)

    def patch_machines(self, body: bytes) -> Response:
        ops = decode_metadata_ops(body)
        for op in ops:
            if op["op"] not in ("add", "remove", "replace"):
                return error_response(400, "invalid op: expect add, remove, or replace")
            if METADATA_PATH.match(op["path"]) is None:
                return error_response(400, "machine metadata path invalid")
            if op["op"] != "remove" and not op["value"]:
                return error_response(400, "invalid value: add and replace require a value")
        changes = []
        for op in ops:
            match = METADATA_PATH.match(op["path"])
            changes.append((match.group(1), match.group(2), None if op["op"] == "remove" else op["value"]))
        self.registry.set_metadata(changes)
        return Response(204, b"", {"Content-Type": "application/json"})


__all__ = ["FleetAPI", "Response", "encode_token", "go_urlsafe_b64decode"]
