# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleetlab admin/fault API under /fleetlab/v1 (TCP only): stats, faults, machines, timings."""
from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field

from .api import Response, go_json
from .registry import Registry, UnitFailRule

ADMIN_PREFIX = "/fleetlab/v1"
ETCD_MESSAGE = "fleet server unable to communicate with etcd"
WRITE_METHODS = ("PUT", "DELETE", "PATCH")


def _json(status: int, value) -> Response:
    return Response(status, go_json(value), {"Content-Type": "application/json"})


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": {"code": status, "message": message}})


class Stats:
    """Counts every fleet API request by method and path (admin requests are not counted)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = {"GET": 0, "PUT": 0, "DELETE": 0, "PATCH": 0}
            self.by_path: dict[str, dict[str, int]] = {}

    def count(self, method: str, path: str) -> None:
        with self._lock:
            self.requests[method] = self.requests.get(method, 0) + 1
            per_path = self.by_path.setdefault(path, {})
            per_path[method] = per_path.get(method, 0) + 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "reads": self.requests.get("GET", 0),
                "writes": sum(self.requests.get(m, 0) for m in WRITE_METHODS),
                "by_path": {p: dict(v) for p, v in sorted(self.by_path.items())},
            }


@dataclass
class Fault:
    id: str
    kind: str
    spec: dict
    remaining: int | None = None
    until: float | None = None
    methods: list[str] | None = None
    path_prefix: str | None = None
    hits: int = field(default=0)

    def expired(self, now: float) -> bool:
        return (self.remaining is not None and self.remaining <= 0) or (self.until is not None and now >= self.until)

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        return True

    def as_dict(self) -> dict:
        result = dict(self.spec)
        result["id"] = self.id
        result["hits"] = self.hits
        if self.remaining is not None:
            result["remaining"] = self.remaining
        if self.until is not None:
            result["seconds_left"] = max(0.0, round(self.until - time.monotonic(), 3))
        return result


@dataclass
class FaultDecision:
    delay: float = 0.0
    drop: bool = False
    response: Response | None = None


class Faults:
    """Request faults (status, latency, drop) and unit_fail rules (kept in the registry)."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.faults: list[Fault] = []

    def add(self, spec: dict) -> Fault:
        if not isinstance(spec, dict):
            raise ValueError("fault must be a JSON object")
        kind = spec.get("kind")
        if kind not in ("status", "latency", "drop", "unit_fail"):
            raise ValueError("kind must be one of status, latency, drop, unit_fail")
        fault = Fault(id=str(next(self._ids)), kind=kind, spec=dict(spec))
        if kind == "unit_fail":
            if not isinstance(spec.get("unit"), str) or not spec["unit"]:
                raise ValueError("unit_fail needs 'unit' (a glob)")
            machine = spec.get("machine")
            if machine is not None and not isinstance(machine, str):
                raise ValueError("'machine' must be a machine id")
            with self.registry.lock:
                self.registry.unit_fail_rules.append(UnitFailRule(fault.id, spec["unit"], machine))
        else:
            if kind == "status":
                status = spec.get("status", 503)
                if not isinstance(status, int) or not 100 <= status <= 599:
                    raise ValueError("'status' must be an HTTP status code")
            if kind == "latency" and not isinstance(spec.get("ms"), (int, float)):
                raise ValueError("latency needs 'ms'")
            if "count" in spec:
                if not isinstance(spec["count"], int) or spec["count"] < 1:
                    raise ValueError("'count' must be a positive integer")
                fault.remaining = spec["count"]
            if "seconds" in spec:
                if not isinstance(spec["seconds"], (int, float)) or spec["seconds"] <= 0:
                    raise ValueError("'seconds' must be a positive number")
                fault.until = time.monotonic() + float(spec["seconds"])
            methods = spec.get("methods")
            if methods is not None:
                if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
                    raise ValueError("'methods' must be a list of HTTP methods")
                fault.methods = [m.upper() for m in methods]
            prefix = spec.get("path_prefix")
            if prefix is not None and not isinstance(prefix, str):
                raise ValueError("'path_prefix' must be a string")
            fault.path_prefix = prefix
        with self._lock:
            self.faults.append(fault)
        return fault

    def remove(self, fault_id: str | None = None) -> bool:
        with self._lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if fault_id is not None and f.id != fault_id]
            removed = len(self.faults) != before
        with self.registry.lock:
            self.registry.unit_fail_rules = [r for r in self.registry.unit_fail_rules
                                             if fault_id is not None and r.id != fault_id]
        return removed

    def listing(self) -> list[dict]:
        now = time.monotonic()
        with self._lock:
            self.faults = [f for f in self.faults if f.kind == "unit_fail" or not f.expired(now)]
            return [f.as_dict() for f in self.faults]

    def decide(self, method: str, path: str) -> FaultDecision:
        """What the faults do to this fleet API request."""
        decision = FaultDecision()
        now = time.monotonic()
        with self._lock:
            for fault in self.faults:
                if fault.kind == "unit_fail" or fault.expired(now) or not fault.matches(method, path):
                    continue
                if fault.kind == "latency":
                    decision.delay += float(fault.spec["ms"]) / 1000.0
                elif decision.drop or decision.response is not None:
                    continue
                elif fault.kind == "drop":
                    decision.drop = True
                else:
                    status = fault.spec.get("status", 503)
                    message = fault.spec.get("message", ETCD_MESSAGE if status == 503 else "")
                    decision.response = _error(status, message)
                fault.hits += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
            self.faults = [f for f in self.faults if f.kind == "unit_fail" or not f.expired(now)]
        return decision


class AdminAPI:
    def __init__(self, registry: Registry, stats: Stats, faults: Faults):
        self.registry = registry
        self.stats = stats
        self.faults = faults

    def handle(self, method: str, path: str, body: bytes) -> Response:
        rel = path[len(ADMIN_PREFIX):].rstrip("/")
        parts = [p for p in rel.split("/") if p]
        try:
            if parts == ["stats"] and method == "GET":
                return _json(200, self.stats.snapshot())
            if parts == ["stats", "reset"] and method == "POST":
                self.stats.reset()
                return _json(200, self.stats.snapshot())
            if parts == ["faults"]:
                if method == "GET":
                    return _json(200, {"faults": self.faults.listing()})
                if method == "POST":
                    try:
                        spec = json.loads(body or b"null")
                    except ValueError as exc:
                        return _error(400, "invalid JSON: %s" % exc)
                    fault = self.faults.add(spec)
                    return _json(201, {"id": fault.id})
                if method == "DELETE":
                    self.faults.remove(None)
                    return Response(204)
            if len(parts) == 2 and parts[0] == "faults" and method == "DELETE":
                if not self.faults.remove(parts[1]):
                    return _error(404, "fault %s does not exist" % parts[1])
                return Response(204)
            if parts == ["machines"] and method == "GET":
                with self.registry.lock:
                    machines = [dict(m.as_dict(), alive=m.alive, virtual=m.virtual,
                                     metadata=self.registry.effective_metadata(m.id))
                                for m in sorted(self.registry.machines.values(), key=lambda m: m.id)]
                return _json(200, {"machines": machines})
            if len(parts) == 3 and parts[0] == "machines" and parts[2] in ("lose", "restore") and method == "POST":
                if not self.registry.set_alive(parts[1], parts[2] == "restore"):
                    return _error(404, "machine %s does not exist" % parts[1])
                return _json(200, {"id": parts[1], "alive": parts[2] == "restore"})
            if parts == ["timings"] and method == "GET":
                return _json(200, {"units": self.timings()})
            if parts == ["settle"] and method == "POST":
                settled = self.registry.wait_idle(timeout=30)
                return _json(200 if settled else 504, {"settled": settled})
        except ValueError as exc:
            return _error(400, str(exc))
        return _error(404, "no admin resource %s %s" % (method, path))

    def timings(self) -> dict:
        runtime = self.registry.runtime
        units: dict[str, dict[str, dict]] = {}
        if runtime is None:
            return units
        for (machine_id, unit_name), timing in sorted(runtime.timings().items()):
            units.setdefault(unit_name, {})[machine_id] = timing
        return units
