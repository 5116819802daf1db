# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""A client for the Consul HTTP API: KV (get/put/cas/delete/txn), health blocking queries, sessions.

The token travels only in the ``X-Consul-Token`` header, never in a URL, a message or a result.
"""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback

from ansible_collections.houston.stack.plugins.module_utils._http import HttpTransport, RequestError

API = "/v1"
DEFAULT_ADDRESS = "127.0.0.1:8500"
# Consul's default kv_max_value_size is 512 KiB; chunks stay 1 KiB under it.
KV_MAX_VALUE_SIZE = 512 * 1024
# Consul adds up to wait/16 of jitter to a blocking query; the HTTP timeout must cover it.
MAX_BLOCKING_WAIT = 300

CONSUL_ARGSPEC = dict(
    consul_address=dict(type="str", default=DEFAULT_ADDRESS, fallback=(env_fallback, ["CONSUL_HTTP_ADDR"])),
    consul_token=dict(type="str", no_log=True, fallback=(env_fallback, ["CONSUL_HTTP_TOKEN"])),
    consul_datacenter=dict(type="str"),
    consul_validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["CONSUL_HTTP_SSL_VERIFY"])),
    consul_ca_path=dict(type="path", fallback=(env_fallback, ["CONSUL_CACERT"])),
    consul_client_cert=dict(type="path", fallback=(env_fallback, ["CONSUL_CLIENT_CERT"])),
    consul_client_key=dict(type="path", no_log=False, fallback=(env_fallback, ["CONSUL_CLIENT_KEY"])),
    consul_timeout=dict(type="int", default=10),
)


class ConsulError(Exception):
    """A Consul API failure, with a message naming the operation, the resource and Consul's answer."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error
        self.status = getattr(error, "status", None)


class TxnConflict(ConsulError):
    """A /v1/txn that Consul rolled back (HTTP 409); ``errors`` is Consul's list of {OpIndex, What}."""

    def __init__(self, message, errors, error=None):
        super().__init__(message, error)
        self.errors = errors


def base_url(address, ssl=None):
    """``http://host:port`` for an address that may lack a scheme (``https`` when CONSUL_HTTP_SSL is true)."""
    address = (address or DEFAULT_ADDRESS).strip().rstrip("/")
    if "://" in address:
        return address
    if ssl is None:
        ssl = os.environ.get("CONSUL_HTTP_SSL", "").strip().lower() in ("1", "true", "yes", "on")
    return ("https://" if ssl else "http://") + address


def kv_path(key):
    """Quote a KV key for a URL path (keeps ``/``)."""
    return quote(key, safe="/")


def consul_answer(error):
    """Consul's answer in a RequestError, for messages (Consul answers errors as text/plain)."""
    if error.status is None:
        return f"no answer: {error.reason}"
    body = error.body.strip()
    return f"HTTP {error.status}: {body or error.reason or '(empty answer)'}"


def _b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def decode_value(entry):
    """The bytes of a KV entry's base64 ``Value`` (b'' for an empty value)."""
    value = (entry or {}).get("Value")
    return base64.b64decode(value) if value else b""


class ConsulClient:
    """Calls against one Consul agent. Every failure raises ConsulError (one place to turn into fail_json)."""

    def __init__(self, address=DEFAULT_ADDRESS, token=None, datacenter=None, validate_certs=True, ca_path=None,
                 client_cert=None, client_key=None, timeout=10, retries=3, transport=None):
        self.url = base_url(address)
        self.datacenter = datacenter
        self.timeout = timeout
        headers = {"X-Consul-Token": token} if token else {}
        self.transport = transport or HttpTransport(
            self.url, timeout=timeout, retries=retries, validate_certs=validate_certs, ca_path=ca_path,
            client_cert=client_cert, client_key=client_key, headers=headers,
        )

    @classmethod
    def from_params(cls, params):
        return cls(
            params["consul_address"], token=params.get("consul_token"), datacenter=params.get("consul_datacenter"),
            validate_certs=params["consul_validate_certs"], ca_path=params.get("consul_ca_path"),
            client_cert=params.get("consul_client_cert"), client_key=params.get("consul_client_key"),
            timeout=params["consul_timeout"],
        )

    # -- plumbing ---------------------------------------------------------------------------------------

    def _path(self, path, query=None):
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        if self.datacenter:
            params.append(("dc", self.datacenter))
        if not params:
            return API + path
        # flags such as ?raw / ?recurse / ?keys are sent as "name=" (Consul accepts both forms)
        return API + path + "?" + urlencode([(k, "" if v is True else v) for k, v in params], quote_via=quote)

    def _call(self, operation, method, path, query=None, body=None, missing_ok=False, timeout=None):
        """(status, decoded JSON body, headers); 404 gives (404, None, headers) when missing_ok."""
        try:
            return self.transport.request_json(method, self._path(path, query), body=body, operation=operation, timeout=timeout)
        except RequestError as e:
            if missing_ok and e.status == 404:
                return 404, None, e.headers
            raise ConsulError(f"{operation} failed at Consul {self.url}: {consul_answer(e)}", e) from e

    def _blocking_timeout(self, wait):
        if not wait:
            return None
        return self.timeout + wait + wait / 16.0 + 1

    @staticmethod
    def index_of(headers):
        for name, value in (headers or {}).items():
            if name.lower() == "x-consul-index":
                try:
                    return int(value)
                except (TypeError, ValueError):
                    return None
        return None

    # -- KV ---------------------------------------------------------------------------------------------

    def kv_get(self, key, index=None, wait=None, consistent=False):
        """(entry or None, X-Consul-Index). ``entry`` has Key, Value (base64), Flags, Session, ModifyIndex..."""
        query = {}
        if index:
            query["index"] = index
            query["wait"] = f"{int(wait or 5)}s"
        if consistent:
            query["consistent"] = True
        status, data, headers = self._call(f"read Consul key {key!r}", "GET", "/kv/" + kv_path(key), query,
                                           missing_ok=True, timeout=self._blocking_timeout(wait if index else None))
        entry = data[0] if status != 404 and data else None
        return entry, self.index_of(headers)

    def kv_get_json(self, key):
        """(decoded JSON value or None, ModifyIndex or 0) of a key holding JSON."""
        entry, _index = self.kv_get(key)
        if entry is None:
            return None, 0
        raw = decode_value(entry)
        try:
            return (json.loads(raw) if raw else None), entry["ModifyIndex"]
        except ValueError as e:
            raise ConsulError(f"Consul key {key!r} at {self.url} does not hold JSON: {e}") from e

    def kv_keys(self, prefix, separator=None):
        """Key names under ``prefix`` (string prefix; end it with '/'), [] when none."""
        query = {"keys": True}
        if separator:
            query["separator"] = separator
        status, data, _headers = self._call(f"list Consul keys under {prefix!r}", "GET", "/kv/" + kv_path(prefix), query,
                                            missing_ok=True)
        return [] if status == 404 else list(data or [])

    def kv_list(self, prefix):
        """Entries under ``prefix`` (recursive), [] when none."""
        status, data, _headers = self._call(f"read Consul keys under {prefix!r}", "GET", "/kv/" + kv_path(prefix),
                                            {"recurse": True}, missing_ok=True)
        return [] if status == 404 else list(data or [])

    def kv_put(self, key, value, cas=None, acquire=None, release=None, flags=None):
        """Write bytes/str to a key; returns Consul's boolean (False: cas mismatch or lock not acquired)."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        query = {"cas": cas, "acquire": acquire, "release": release, "flags": flags}
        what = "acquire lock" if acquire else "release lock" if release else "write"
        _status, data, _headers = self._call(f"{what} Consul key {key!r}", "PUT", "/kv/" + kv_path(key), query,
                                             body=value if value is not None else b"")
        return data is True

    def kv_delete(self, key, recurse=False, cas=None):
        """Delete a key (or a subtree: end ``key`` with '/'); returns Consul's boolean."""
        if recurse and not key.endswith("/"):
            raise ConsulError(f"refusing to delete Consul subtree {key!r}: prefixes must end with '/'")
        query = {"recurse": True if recurse else None, "cas": cas}
        _status, data, _headers = self._call(f"delete Consul key{'s under' if recurse else ''} {key!r}", "DELETE",
                                             "/kv/" + kv_path(key), query)
        return data is True

    def txn(self, operations, what="transaction"):
        """Run a /v1/txn. ``operations`` are KV dicts ({"Verb", "Key", "Value" (bytes), "Index", "Session"}).

        Raises TxnConflict when Consul rolls it back (409), with Consul's errors.
        """
        ops = []
        for op in operations:
            kv = dict(op)
            if "Value" in kv:
                kv["Value"] = _b64(kv["Value"])
            ops.append({"KV": kv})
        try:
            _status, data, _headers = self.transport.request_json("PUT", self._path("/txn"), body=ops, operation=what)
        except RequestError as e:
            if e.status == 409:
                try:
                    errors = json.loads(e.body).get("Errors") or []
                except (ValueError, AttributeError):
                    errors = []
                detail = "; ".join(f"op {err.get('OpIndex')}: {err.get('What')}" for err in errors) or e.body.strip()
                raise TxnConflict(f"{what} rolled back by Consul {self.url}: {detail}", errors, e) from e
            raise ConsulError(f"{what} failed at Consul {self.url}: {consul_answer(e)}", e) from e
        return (data or {}).get("Results") or []

    # -- health -----------------------------------------------------------------------------------------

    def health_service(self, service, tags=None, index=None, wait=None):
        """(entries, X-Consul-Index) from /v1/health/service/<service>, blocking when ``index`` is given."""
        params = []
        for tag in tags or []:
            params.append(("tag", tag))
        if index:
            params.append(("index", str(index)))
            params.append(("wait", f"{int(wait or 5)}s"))
        if self.datacenter:
            params.append(("dc", self.datacenter))
        path = API + "/health/service/" + quote(service, safe="")
        if params:
            path += "?" + urlencode(params, quote_via=quote)
        operation = f"query health of Consul service {service!r}"
        try:
            _status, data, headers = self.transport.request_json(
                "GET", path, operation=operation, timeout=self._blocking_timeout(wait if index else None))
        except RequestError as e:
            raise ConsulError(f"{operation} failed at Consul {self.url}: {consul_answer(e)}", e) from e
        return list(data or []), self.index_of(headers)

    # -- sessions ---------------------------------------------------------------------------------------

    def session_create(self, name, ttl, behavior="release", lock_delay=1):
        """Create a TTL-only session (no node checks); returns its ID."""
        body = {"Name": name, "TTL": f"{int(ttl)}s", "Behavior": behavior, "LockDelay": f"{int(lock_delay)}s",
                "NodeChecks": []}
        _status, data, _headers = self._call(f"create Consul session {name!r}", "PUT", "/session/create", body=body)
        return data["ID"]

    def session_renew(self, session):
        """Renew a session; False when Consul no longer knows it."""
        status, _data, _headers = self._call(f"renew Consul session {session}", "PUT", "/session/renew/" + quote(session, safe=""),
                                             missing_ok=True)
        return status != 404

    def session_info(self, session):
        """The session's description, or None when it is gone."""
        _status, data, _headers = self._call(f"read Consul session {session}", "GET", "/session/info/" + quote(session, safe=""),
                                             missing_ok=True)
        return data[0] if data else None

    def session_destroy(self, session):
        _status, data, _headers = self._call(f"destroy Consul session {session}", "PUT",
                                             "/session/destroy/" + quote(session, safe=""))
        return data is True


# -- service health waits ------------------------------------------------------------------------------

def instance_status(checks):
    """Aggregate status of a health entry: critical > warning > maintenance-free passing."""
    statuses = [c.get("Status") for c in checks or []]
    if any(s == "critical" for s in statuses):
        return "critical"
    if any(s == "warning" for s in statuses):
        return "warning"
    if statuses and all(s == "passing" for s in statuses):
        return "passing"
    return "critical" if statuses else "passing"


def instances_from_health(entries):
    """Flatten /v1/health/service entries into [{node, address, service_id, tags, status, checks}]."""
    result = []
    for entry in entries or []:
        node, service, checks = entry.get("Node") or {}, entry.get("Service") or {}, entry.get("Checks") or []
        result.append({
            "node": node.get("Node"),
            "address": service.get("Address") or node.get("Address"),
            "service_id": service.get("ID"),
            "tags": list(service.get("Tags") or []),
            "status": instance_status(checks),
            "checks": [{"name": c.get("Name"), "check_id": c.get("CheckID"), "status": c.get("Status"),
                        "output": (c.get("Output") or "").strip()[:500]} for c in checks],
        })
    result.sort(key=lambda i: (i["address"] or "", i["node"] or "", i["service_id"] or ""))
    return result


def evaluate_instances(instances, expected_addresses=None, min_passing=1):
    """(satisfied, missing addresses) for the wait's condition."""
    passing = [i for i in instances if i["status"] == "passing"]
    if expected_addresses:
        have = {i["address"] for i in passing}
        missing = [a for a in expected_addresses if a not in have]
        return not missing, missing
    return len(passing) >= min_passing, []


def describe_instances(instances):
    """One line per instance: node, address, status and the output of non-passing checks."""
    lines = []
    for i in instances:
        text = f"{i['node']} {i['address']} {i['service_id']}: {i['status']}"
        bad = [f"{c['name'] or c['check_id']} {c['status']}: {c['output'] or '(no output)'}"
               for c in i["checks"] if c["status"] != "passing"]
        if bad:
            text += " (" + "; ".join(bad) + ")"
        lines.append(text)
    return lines


def wait_for_service(client, service, tags=None, expected_addresses=None, min_passing=1, timeout=120,
                     clock=None, max_wait=60):
    """Blocking queries until the condition holds or ``timeout`` passes.

    Returns (satisfied, instances, missing addresses, elapsed). Follows Consul's index rules: block with
    index >= 1, restart from 0 when the index goes backwards, and never issue two queries without either a
    changed index or a short pause (a churning index cannot turn this into a busy loop).
    """
    clock = clock or time.monotonic
    start = clock()
    index = 0
    instances, missing = [], list(expected_addresses or [])
    while True:
        remaining = timeout - (clock() - start)
        wait = max(1, min(max_wait, int(remaining))) if index else None
        before = clock()
        entries, new_index = client.health_service(service, tags=tags, index=index or None, wait=wait)
        instances = instances_from_health(entries)
        satisfied, missing = evaluate_instances(instances, expected_addresses, min_passing)
        if satisfied:
            return True, instances, missing, clock() - start
        if clock() - start >= timeout:
            return False, instances, missing, clock() - start
        if new_index is None or new_index < index:
            new_index = 0
        if index and new_index == index and clock() - before < 0.1:
            time.sleep(0.1)
        index = max(1, new_index)
