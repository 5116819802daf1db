# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleetlab: a fleet v1 API emulator that schedules units by fleet's rules and runs them.

``start_fleetlab(...)`` builds and starts a server in-process (tests, tools); ``python -m
lab.fleetlab serve ...`` is the command line (see docs/fleetlab.md).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings

from .registry import DEFAULT_LATENCY, Machine, Registry
from .server import App, FleetServer
from .virtual import RoutingRuntime, VirtualRuntime

__version__ = "1.0.0"
LOG = logging.getLogger("fleetlab")
DEFAULT_METADATA = [{"role": "web", "az": "a"}, {"role": "web", "az": "b"}, {"role": "worker", "az": "a"}]


def load_machines(path: str) -> list[Machine]:
    """Machines from a machines.json written by the lab launcher."""
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    machines = []
    for entry in entries:
        machines.append(Machine(id=entry["id"], ip=entry.get("ip", ""), metadata=dict(entry.get("metadata") or {}),
                                root=entry.get("root", ""), consul=entry.get("consul", "")))
    return machines


def virtual_machines(count: int, start: int = 0, metadata: list[dict] | None = None,
                     root_dir: str | None = None) -> list[Machine]:
    """Deterministic virtual machines: ip 127.254.<i // 250>.<i % 250 + 1>, id = sha256(ip)[:32]."""
    if metadata is None:
        env_metadata = os.environ.get("LAB_METADATA")
        metadata = json.loads(env_metadata) if env_metadata else DEFAULT_METADATA
    machines = []
    for index in range(start, count):
        ip = "127.254.%d.%d" % (index // 250, index % 250 + 1)
        machine_id = hashlib.sha256(("virtual:" + ip).encode()).hexdigest()[:32]
        root = os.path.join(root_dir, machine_id) if root_dir else ""
        machines.append(Machine(id=machine_id, ip=ip, metadata=dict(metadata[index % len(metadata)]) if metadata else {},
                                root=root, consul="%s:8500" % ip, virtual=True))
    return machines


def make_runtime_factory(machines: list[Machine], log_dir: str | None, process: bool = True):
    """Runtime per machine: ProcessRuntime for real machines (when available), VirtualRuntime otherwise."""
    virtual_ids = {m.id for m in machines if m.virtual}
    real = [m for m in machines if not m.virtual]

    def factory(report):
        virtual = VirtualRuntime(report, log_dir)
        if not real or not process:
            return virtual
        try:
            from .runtime import ProcessRuntime  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            warnings.warn("fleetlab: process runtime unavailable (%s); units of real machines run virtually" % exc)
            LOG.warning("process runtime unavailable (%s); using VirtualRuntime", exc)
            return virtual
        return RoutingRuntime(ProcessRuntime(report, log_dir or tempfile.mkdtemp(prefix="fleetlab-logs-")), virtual, virtual_ids)

    return factory


def start_fleetlab(machines: list[Machine], host: str = "127.0.0.1", port: int = 0, socket_path: str | None = None,
                   state_dir: str | None = None, latency: float = DEFAULT_LATENCY, token_limit: int = 100,
                   process: bool = True) -> FleetServer:
    """Build registry, runtime and listeners, start serving, and return the server."""
    log_dir = os.path.join(state_dir, "logs") if state_dir else None
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
    registry = Registry(machines, make_runtime_factory(machines, log_dir, process), latency=latency)
    server = FleetServer(App(registry, token_limit), host, port, socket_path)
    server.start()
    return server


__all__ = ["Machine", "Registry", "FleetServer", "App", "load_machines", "virtual_machines", "start_fleetlab"]
