# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m lab.fleetlab serve``: ready file, real processes over the unix socket, virtual padding, SIGTERM."""
from __future__ import annotations

import http.client
import json
import os
import socket
import time

from fleetlab_process import start_fleetlab_process, stop_fleetlab_process


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("domain-sock", timeout=30)
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_)


def call(sock_path, method, path, body=None):
    conn = UnixConnection(sock_path)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, (json.loads(data) if data else None)


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        return handle.read().split(")")[-1].split()[0] != "Z"


def test_real_processes_over_unix_socket_and_sigterm(tmp_path):
    lab = start_fleetlab_process(tmp_path / "lab")
    try:
        options = [{"section": "Service", "name": "ExecStart",
                    "value": "/bin/sh -c 'echo $$$$ > \"$FLEETLAB_ROOT/pid\"; exec sleep 300'"},
                   {"section": "X-Fleet", "name": "Global", "value": "true"}]
        status, _body = call(lab.socket, "PUT", "/fleet/v1/units/sleeper.service", {"desiredState": "launched", "options": options})
        assert status == 201

        def all_running():
            _status, page = call(lab.socket, "GET", "/fleet/v1/state?unitName=sleeper.service")
            rows = (page or {}).get("states", [])
            return rows if len(rows) == 3 and all(r["systemdSubState"] == "running" for r in rows) else None

        rows = wait_for(all_running, what="sleeper running on every machine")
        assert sorted(r["machineID"] for r in rows) == sorted(m["id"] for m in lab.machines)
        pids = [int(wait_for(lambda m=m: os.path.exists(m["root"] + "/pid") and open(m["root"] + "/pid").read().strip(),
                             what="pid file")) for m in lab.machines]
        assert all(pid_alive(pid) for pid in pids)
    finally:
        stop_fleetlab_process(lab)
    assert lab.proc.returncode == 0
    assert not os.path.exists(lab.socket) and not (lab.lab_dir / "fleetlab.json").exists()
    assert not any(pid_alive(pid) for pid in pids)


def test_virtual_padding_keeps_real_machines_first(tmp_path):
    lab = start_fleetlab_process(tmp_path / "lab", extra_args=("--virtual", "7"))
    try:
        status, page = call(lab.socket, "GET", "/fleet/v1/machines")
        assert status == 200
        ids = [m["id"] for m in page["machines"]]
        assert len(ids) == 7 and {m["id"] for m in lab.machines} <= set(ids)
        conn = http.client.HTTPConnection(lab.url.split("//")[1], timeout=30)
        conn.request("GET", "/fleetlab/v1/machines")
        listing = json.loads(conn.getresponse().read())["machines"]
        conn.close()
        assert sum(1 for m in listing if m["virtual"]) == 4
    finally:
        stop_fleetlab_process(lab)
