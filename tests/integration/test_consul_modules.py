# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""consul_archive, consul_service_wait, consul_lock and consul_history against the lab's real Consul.

Modules are driven through real ansible-playbook runs (check / real / idempotent-check / idempotent with
asserts in the play); what the play cannot see (KV layout, the extraction script on a machine, processes)
is checked here with independent clients.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import shlex
import signal
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.houston.stack.plugins.module_utils import _archive as A
from ansible_collections.houston.stack.plugins.module_utils._consul import ConsulClient, decode_value
from ansible_collections.houston.stack.plugins.module_utils._history import History
from tests.support import ANSIBLE_PLAYBOOK, COLLECTIONS_PATH, PYTHON, lab_environment, run_playbook


def write_play(tmp_path, lab, tasks, name="play", extra_vars=None):
    play = [{
        "name": name, "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": dict({"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, **(extra_vars or {})),
        "module_defaults": {"group/houston.stack.consul": {"consul_address": lab.consul_address}},
        "tasks": tasks,
    }]
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    return path


def play(tmp_path, lab, tasks, name="play", **kwargs):
    rc, out, err, _recap = run_playbook(write_play(tmp_path, lab, tasks, name), env=lab_environment(lab), **kwargs)
    return rc, out + err


def run_unit_script(unit_text, machine, root, extra_env=None):
    """Run the extraction unit's Exec lines like systemd would (Environment=, $$ unescaping) with sh."""
    env = {"PATH": os.environ["PATH"], "CONSUL_HTTP_ADDR": machine["consul"], "FLEETLAB_ROOT": str(root)}
    env.update(extra_env or {})
    for line in unit_text.splitlines():
        if line.startswith("Environment="):
            key, value = line[len("Environment="):].split("=", 1)
            env[key] = value
    for line in unit_text.splitlines():
        if line.startswith(("ExecStartPre=", "ExecStart=")):
            argv = shlex.split(line.split("=", 1)[1].replace("$$", "$"))
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
            if proc.returncode != 0:
                return proc.returncode, proc.stderr
    return 0, ""


@pytest.fixture
def consul(lab):
    return ConsulClient(lab.consul_address)


# -- consul_archive ------------------------------------------------------------------------------------

def archive_task(files, register, check=False, **extra):
    task = {"name": f"archive {register}", "houston.stack.consul_archive": dict(stack="arch", files=files, **extra),
            "register": register}
    if check:
        task["check_mode"] = True
    return task


def test_archive_roundtrip_with_a_10mb_chunked_file(lab, consul, tmp_path):
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    blob = os.urandom(10 * 1024 * 1024)
    (files_dir / "blob.bin").write_bytes(blob)
    files = [{"path": "/opt/app/blob.bin", "src": "blob.bin", "permissions": "0750"},
             {"path": "/etc/app/app.conf", "content": "port=8080\n", "permissions": "0600"},
             {"path": "/etc/app/logo.png", "content": base64.b64encode(b"\x89PNG\x00\x01").decode(), "encoding": "b64"}]
    tasks = [
        archive_task(files, "check1", check=True),
        archive_task(files, "real1"),
        archive_task(files, "check2", check=True),
        archive_task(files, "real2"),
        {"name": "results", "ansible.builtin.assert": {"that": [
            "check1 is changed", "check1.uploaded", "real1 is changed", "real1.chunks == 21",
            "check2 is not changed", "real2 is not changed", "not real2.uploaded",
            "check1.sha256 == real1.sha256 == real2.sha256",
            "real1.unit_name == 'arch-file-deploy@' + real1.sha256[:8] + '.service'",
            "real1.manifest | map(attribute='path') | list == ['/etc/app/app.conf', '/etc/app/logo.png', '/opt/app/blob.bin']",
        ]}},
        {"name": "dump", "ansible.builtin.copy": {"content": "{{ real1 | to_json }}", "dest": str(tmp_path / "real1.json"),
                                                  "mode": "0644"}},
    ]
    play_path = write_play(tmp_path, lab, tasks, "archive")
    rc, out, err, _recap = run_playbook(play_path, env=lab_environment(lab), diff=True)
    assert rc == 0, out[-5000:] + err[-2000:]
    result = json.loads((tmp_path / "real1.json").read_text())
    sha = result["sha256"]
    manifest, _index = consul.kv_get_json(f"houston/arch/archives/{sha}/manifest")
    assert manifest["chunks"] == 21 and manifest["sha256"] == sha and manifest["size"] == result["size"]
    assert len(consul.kv_keys(f"houston/arch/archives/{sha}/chunks/")) == 21
    assert "consul_token" not in result["unit_content"]

    root = tmp_path / "machine-root"
    root.mkdir()
    rc, err = run_unit_script(result["unit_content"], lab.machines[0], root)
    assert rc == 0, err
    assert (root / "opt/app/blob.bin").read_bytes() == blob
    assert (root / "opt/app/blob.bin").stat().st_mode & 0o7777 == 0o750
    assert (root / "etc/app/app.conf").read_text() == "port=8080\n"
    assert (root / "etc/app/app.conf").stat().st_mode & 0o7777 == 0o600
    assert (root / "etc/app/logo.png").read_bytes() == b"\x89PNG\x00\x01"


def test_archive_pruning_keeps_current_protected_and_newest(lab, consul, tmp_path):
    shas = []
    for n in range(4):
        tasks = [{"name": "store", "houston.stack.consul_archive": {
            "stack": "prune", "files": [{"path": "/etc/p", "content": f"v{n}\n"}], "keep": 0}, "register": "r"},
            {"name": "dump", "ansible.builtin.copy": {"content": "{{ r.sha256 }}", "dest": str(tmp_path / f"sha{n}"),
                                                      "mode": "0644"}}]
        rc, out = play(tmp_path, lab, tasks, f"prune{n}")
        assert rc == 0, out[-3000:]
        shas.append((tmp_path / f"sha{n}").read_text())
    files = [{"path": "/etc/p", "content": "v4\n"}]
    tasks = [
        {"name": "check", "houston.stack.consul_archive": {"stack": "prune", "files": files, "keep": 2, "protect": [shas[0][:8]]},
         "check_mode": True, "register": "c"},
        {"name": "real", "houston.stack.consul_archive": {"stack": "prune", "files": files, "keep": 2, "protect": [shas[0][:8]]},
         "register": "r"},
        {"name": "again", "houston.stack.consul_archive": {"stack": "prune", "files": files, "keep": 2, "protect": [shas[0][:8]]},
         "register": "a"},
        {"name": "assert", "ansible.builtin.assert": {"that": [
            "c.pruned == r.pruned", f"r.pruned | sort == {sorted(shas[1:3])}", "a is not changed", "a.pruned == []"]}},
    ]
    rc, out = play(tmp_path, lab, tasks, "prune")
    assert rc == 0, out[-4000:]
    remaining = {k.split("/")[3] for k in consul.kv_keys("houston/prune/archives/")}
    assert shas[0] in remaining and shas[3] in remaining and not remaining & set(shas[1:3])


def test_manifest_is_written_after_every_chunk(lab, consul):
    """A spy around the real client checks, at each chunk write, that no reader can see the manifest yet."""
    observer = ConsulClient(lab.consul_address)
    seen = []

    class Spy(ConsulClient):
        def kv_put(self, key, value, **kwargs):
            manifest_visible = observer.kv_get(f"{store.prefix}/{sha}/manifest")[0] is not None
            seen.append((key, manifest_visible))
            return super().kv_put(key, value, **kwargs)

    data = os.urandom(3 * A.CHUNK_SIZE + 10)
    sha = A.sha256_hex(data)
    store = A.ArchiveStore(Spy(lab.consul_address), "houston/order/archives")
    ops = store.upload(data, A.build_manifest("order", data, A.split_chunks(data), []))
    assert [op[0] for op in ops] == ["put", "put", "put", "put", "txn"]
    assert len(seen) == 4 and not any(visible for _key, visible in seen)
    assert observer.kv_get(f"houston/order/archives/{sha}/manifest")[0] is not None


def test_extraction_refuses_path_traversal_and_bad_checksums(lab, tmp_path):
    client = ConsulClient(lab.consul_address)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, payload in (("etc/ok", b"ok"), ("../escaped", b"evil")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    data = raw.getvalue()
    store = A.ArchiveStore(client, "houston/evil/archives")
    manifest = A.build_manifest("evil", data, A.split_chunks(data), [])
    store.upload(data, manifest)
    _name, unit = A.extraction_unit("evil", manifest["sha256"], store.prefix, manifest["chunks"])
    root = tmp_path / "sandbox" / "root"
    root.mkdir(parents=True)
    rc, err = run_unit_script(unit, lab.machines[0], root)
    assert rc != 0 and "refusing unsafe archive member: ../escaped" in err
    assert not (tmp_path / "sandbox" / "escaped").exists() and not (root / "etc/ok").exists()

    # a unit whose sha256 does not match the stored bytes refuses to extract
    bad_unit = unit.replace(f"HOUSTON_ARCHIVE_SHA256={manifest['sha256']}", "HOUSTON_ARCHIVE_SHA256=" + "0" * 64)
    rc, err = run_unit_script(bad_unit, lab.machines[0], root)
    assert rc != 0 and "sha256 mismatch" in err


def test_archive_errors_are_clear(lab, tmp_path):
    tasks = [{"name": "dup", "houston.stack.consul_archive": {
        "stack": "bad", "files": [{"path": "/a", "content": "1"}, {"path": "/a", "content": "2"}]}}]
    rc, out = play(tmp_path, lab, tasks, "dup")
    assert rc != 0 and "duplicate path" in out
    tasks = [{"name": "binary", "houston.stack.consul_archive": {"stack": "bad", "files": [{"path": "/a", "content": "a\u0000"}]}}]
    rc, out = play(tmp_path, lab, tasks, "binary")
    assert rc != 0 and "binary content needs encoding: b64" in out


def test_wrong_token_is_reported_without_leaking_it(lab, tmp_path):
    # the lab runs without ACLs, so a token is accepted; what matters is it never shows in output
    tasks = [{"name": "with token", "houston.stack.consul_history": {"stack": "tok", "action": "start", "version": "v1",
                                                                     "consul_token": "very-secret-token-value"},
              "register": "r"},
             {"name": "show", "ansible.builtin.debug": {"var": "r"}}]
    rc, out = play(tmp_path, lab, tasks, "token", verbosity=3)
    assert rc == 0, out[-3000:]
    assert "very-secret-token-value" not in out


# -- consul_service_wait -------------------------------------------------------------------------------

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args):
        pass


@pytest.fixture
def health_server(lab):
    server = http.server.ThreadingHTTPServer((lab.machines[0]["ip"], 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def register(machine, service_id, name, tags, url):
    client = ConsulClient(machine["consul"])
    body = {"ID": service_id, "Name": name, "Tags": tags, "Port": 80,
            "Check": {"HTTP": url, "Interval": "1s", "Timeout": "1s", "Status": "passing"}}
    client.transport.request("PUT", "/v1/agent/service/register", body=body)
    return client


def test_service_wait_passes_and_fails_naming_what_is_missing(lab, consul, health_server, tmp_path):
    m1, m2 = lab.machines[0], lab.machines[1]
    port = health_server.server_address[1]
    c1 = register(m1, "svcw-1", "svcw", ["v1"], f"http://{m1['ip']}:{port}/health")
    c2 = register(m2, "svcw-2", "svcw", ["v1"], f"http://{m2['ip']}:1/health")  # nothing listens: critical
    try:
        # until the catalog shows the failing check with its output (a check that starts passing and turns critical
        # syncs its output at once; output-only changes are synced lazily by Consul's anti-entropy)
        while not any(c["ServiceID"] == "svcw-2" and c["Status"] == "critical" and c["Output"]
                      for c in consul.transport.request_json("GET", "/v1/health/checks/svcw")[1]):
            time.sleep(0.2)
        tasks = [
            {"name": "check", "houston.stack.consul_service_wait": {"service": "svcw", "tag": "v1",
                                                                    "expected_addresses": [m1["ip"]]},
             "check_mode": True, "register": "c"},
            {"name": "wait m1", "houston.stack.consul_service_wait": {"service": "svcw", "tag": "v1",
                                                                      "expected_addresses": [m1["ip"]], "wait_timeout": 60},
             "register": "w"},
            {"name": "wait count", "houston.stack.consul_service_wait": {"service": "svcw", "min_passing": 1}, "register": "n"},
            {"name": "assert", "ansible.builtin.assert": {"that": [
                "w is not changed", "w.passing == 1", "n.passing == 1", "c is not changed",
                "w.instances | map(attribute='address') | list | sort == " + json.dumps(sorted([m1["ip"], m2["ip"]]))]}},
            {"name": "wait both", "houston.stack.consul_service_wait": {
                "service": "svcw", "tag": "v1", "expected_addresses": [m1["ip"], m2["ip"]], "wait_timeout": 3}},
        ]
        rc, out = play(tmp_path, lab, tasks, "svcwait")
        assert rc != 0
        assert "ok: [localhost]" in out and "wait both" in out
        assert f"no passing instance on {m2['ip']}" in out
        assert f"{m2['ip']} svcw-2: critical" in out and "connection refused" in out.lower(), out[-3000:]
        assert f"{m1['ip']} svcw-1: passing" in out
    finally:
        c1.transport.request("PUT", "/v1/agent/service/deregister/svcw-1")
        c2.transport.request("PUT", "/v1/agent/service/deregister/svcw-2")


def test_service_wait_times_out_for_an_unknown_service(lab, tmp_path):
    tasks = [{"name": "nothing", "houston.stack.consul_service_wait": {"service": "nosuch", "wait_timeout": 2}}]
    rc, out = play(tmp_path, lab, tasks, "nosvc")
    assert rc != 0 and "Timed out after 2s waiting for 1 passing instance(s) of service 'nosuch'" in out
    assert "Consul knows no instance" in out


# -- consul_lock ---------------------------------------------------------------------------------------

def holder_task(stack, flag, **extra):
    return [
        {"name": "lock", "houston.stack.consul_lock": dict(stack=stack, holder={"version": "v1"}, **extra), "register": "l"},
        {"name": "signal", "ansible.builtin.copy": {"content": "{{ l | to_json }}", "dest": str(flag), "mode": "0644"}},
        {"name": "hold", "ansible.builtin.wait_for": {"path": str(flag) + ".done", "timeout": 600}},
        {"name": "release", "houston.stack.consul_lock": {"stack": stack, "state": "released", "session": "{{ l.session }}"}},
    ]


def start_playbook(tmp_path, lab, tasks, name):
    path = write_play(tmp_path, lab, tasks, name)
    env = dict(lab_environment(lab), ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_NOCOLOR="1")
    return subprocess.Popen([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e", f"ansible_python_interpreter={PYTHON}",
                             str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_file(path, proc):
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    return json.loads(path.read_text())


def test_lock_contention_names_the_holder_and_release_frees_it(lab, consul, tmp_path):
    flag = tmp_path / "held"
    holder = start_playbook(tmp_path, lab, holder_task("lockc", flag, ttl=10), "holder")
    try:
        held = wait_for_file(flag, holder)
        tasks = [{"name": "contender", "houston.stack.consul_lock": {"stack": "lockc", "wait_timeout": 2}}]
        rc, out = play(tmp_path, lab, tasks, "contender")
        assert rc != 0
        assert f"is held by user {held['holder']['user']} on host {held['holder']['host']}, pid {holder.pid}" in out
        assert held["session"] in out
        check = [{"name": "check", "houston.stack.consul_lock": {"stack": "lockc"}, "check_mode": True, "register": "c"},
                 {"name": "assert", "ansible.builtin.assert": {"that": ["c is changed"]}}]
        rc, out = play(tmp_path, lab, check, "check")
        assert rc == 0 and "is held by user" in out
        # the keeper renews: the session outlives several TTLs while the holder waits
        keeper = held["keeper_pid"]
        assert Path(f"/proc/{keeper}").exists()
    finally:
        Path(str(flag) + ".done").write_text("x")
        out, _err = holder.communicate(timeout=120)
    assert holder.returncode == 0, out[-3000:]
    entry, _index = consul.kv_get("houston/lockc/lock")
    assert not entry.get("Session") and json.loads(decode_value(entry))["version"] == "v1"
    assert consul.session_info(held["session"]) is None
    for _attempt in range(100):
        if not Path(f"/proc/{keeper}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{keeper}").exists()


def test_lock_expires_after_the_controller_is_killed(lab, consul, tmp_path):
    flag = tmp_path / "held"
    holder = start_playbook(tmp_path, lab, holder_task("lockk", flag, ttl=10), "holder")
    held = wait_for_file(flag, holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    tasks = [{"name": "next deploy", "houston.stack.consul_lock": {"stack": "lockk", "ttl": 10, "wait_timeout": 90},
              "register": "l2"},
             {"name": "release", "houston.stack.consul_lock": {"stack": "lockk", "state": "released",
                                                               "session": "{{ l2.session }}"}}]
    rc, out = play(tmp_path, lab, tasks, "next")
    assert rc == 0, out[-3000:]
    assert consul.session_info(held["session"]) is None


# -- consul_history ------------------------------------------------------------------------------------

def test_history_records_deploys_and_previous_versions(lab, tmp_path):
    tasks = []
    for version, result in (("v1", "success"), ("v2", "success"), ("v3", "failed")):
        tasks += [
            {"name": f"start {version}", "houston.stack.consul_history": {
                "stack": "hist", "action": "start", "version": version, "units": [f"hist@{version}.service"]},
             "register": f"s_{version}"},
            {"name": f"finish {version}", "houston.stack.consul_history": {
                "stack": "hist", "action": "finish", "id": f"{{{{ s_{version}.entry.id }}}}", "result": result},
             "register": f"f_{version}"},
        ]
    tasks += [
        {"name": "finish again", "houston.stack.consul_history": {
            "stack": "hist", "action": "finish", "id": "{{ s_v3.entry.id }}", "result": "failed"}, "register": "again"},
        {"name": "check start", "houston.stack.consul_history": {"stack": "hist", "action": "start", "version": "v4"},
         "check_mode": True, "register": "cs"},
        {"name": "info", "houston.stack.consul_history_info": {"stack": "hist"}, "register": "info"},
        {"name": "assert", "ansible.builtin.assert": {"that": [
            "f_v2.current == 'v2'", "f_v3.current == 'v2'", "again is not changed", "cs is changed",
            "info.current == 'v2'", "info.previous_versions == ['v1']",
            "info.history | map(attribute='version') | list == ['v3', 'v2', 'v1']",
            "info.history[0].result == 'failed'", "info.history[0].finished is string"]}},
    ]
    rc, out = play(tmp_path, lab, tasks, "history")
    assert rc == 0, out[-4000:]


def test_history_cas_loses_no_update_under_concurrency(lab):
    writers = 8
    errors = []

    def writer(n):
        try:
            History(ConsulClient(lab.consul_address), "histc", keep=100).start(f"v{n}")
        except Exception as e:  # pylint: disable=broad-except
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries, _index, _current = History(ConsulClient(lab.consul_address), "histc").read()
    assert sorted(e["version"] for e in entries) == sorted(f"v{n}" for n in range(writers))
