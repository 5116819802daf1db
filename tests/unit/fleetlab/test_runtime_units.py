# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ProcessRuntime: environment, specifiers, working directory, restarts, dependencies, a unit that serves HTTP."""
from __future__ import annotations

import json
import os
import signal
import sys
import urllib.request

try:
    from . import runtime_support as support
except ImportError:  # tests/unit/fleetlab is not a package
    import runtime_support as support  # type: ignore[no-redef]

PYTHON, machine, options = support.PYTHON, support.machine, support.options
read_pid, wait_until = support.read_pid, support.wait_until
recorder_fixture = support.recorder_fixture
runtime_fixture = support.runtime_fixture

LOADED_DEAD = ("loaded", "inactive", "dead")
RUNNING = ("loaded", "active", "running")
EXITED = ("loaded", "active", "exited")
FAILED = ("loaded", "failed", "failed")
DUMP_ENV = (f"{PYTHON} -c 'import json, os, sys; "
            "json.dump({k: os.environ.get(k) for k in sys.argv[2:]} | {\"argv\": sys.argv[2:], \"cwd\": os.getcwd()}, "
            "open(sys.argv[1], \"w\"))'")


def oneshot(body: str) -> list[dict]:
    return options("[Service]\nType=oneshot\nRemainAfterExit=yes\n" + body)


def test_machine_environment_specifiers_and_variable_expansion(runtime, recorder, tmp_path):
    m = machine(tmp_path, 2)
    out = tmp_path / "env.json"
    names = ("COREOS_PUBLIC_IPV4 COREOS_PRIVATE_IPV4 FLEETLAB_ROOT CONSUL_HTTP_ADDR FLEETLAB_MACHINE_ID PATH HOME EXTRA "
             "UNIT PREFIX INSTANCE HOST MID PCT RUNDIR INVOCATION_ID")
    runtime.load(m, "app@v1.service", oneshot(f"""
        Environment="GREETING=hello world" PORT=8080
        Environment=UNIT=%n PREFIX=%p INSTANCE=%i HOST=%H MID=%m PCT=100%% RUNDIR=%t
        ExecStart={DUMP_ENV} {out} {names} $GREETING ${{GREETING}} port-${{PORT}}
    """), {"EXTRA": "from-load"})
    runtime.start(m["id"], "app@v1.service")
    assert recorder.wait_for(m["id"], "app@v1.service", EXITED, FAILED) == EXITED
    seen = json.loads(out.read_text())
    assert seen["COREOS_PUBLIC_IPV4"] == seen["COREOS_PRIVATE_IPV4"] == "127.0.3.12"
    assert seen["FLEETLAB_ROOT"] == m["root"] == seen["cwd"]
    assert seen["CONSUL_HTTP_ADDR"] == "127.0.3.12:8500"
    assert seen["FLEETLAB_MACHINE_ID"] == seen["MID"] == m["id"]
    assert seen["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)  # python3 is the lab's own
    assert seen["EXTRA"] == "from-load"
    assert (seen["UNIT"], seen["PREFIX"], seen["INSTANCE"], seen["HOST"], seen["PCT"]) == \
        ("app@v1.service", "app", "v1", "machine-2", "100%")
    assert seen["RUNDIR"] == m["root"] + "/run"
    assert len(seen["INVOCATION_ID"]) == 32
    assert seen["argv"][-4:] == ["hello", "world", "hello world", "port-8080"]


def test_environment_file_overrides_environment_and_optional_missing_file(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    envfile = tmp_path / "app.env"
    envfile.write_text("# settings\nCOLOR=blue\nSIZE='large one'\n")
    out = tmp_path / "env.json"
    runtime.load(m, "envfile.service", oneshot(f"""
        Environment=COLOR=red KEEP=yes
        EnvironmentFile={envfile}
        EnvironmentFile=-{tmp_path}/missing.env
        ExecStart={DUMP_ENV} {out} COLOR SIZE KEEP
    """), {})
    runtime.start(m["id"], "envfile.service")
    assert recorder.wait_for(m["id"], "envfile.service", EXITED, FAILED) == EXITED
    seen = json.loads(out.read_text())
    assert (seen["COLOR"], seen["SIZE"], seen["KEEP"]) == ("blue", "large one", "yes")


def test_missing_required_environment_file_fails_the_start(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "noenv.service", oneshot(f"EnvironmentFile={tmp_path}/missing.env\nExecStart=/bin/true"), {})
    runtime.start(m["id"], "noenv.service")
    recorder.wait_for(m["id"], "noenv.service", FAILED)


def test_working_directory(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "cwd.json"
    runtime.load(m, "wd.service", oneshot(f"WorkingDirectory={work}\nExecStart={DUMP_ENV} {out}"), {})
    runtime.load(m, "nowd.service", oneshot(f"WorkingDirectory={tmp_path}/absent\nExecStart=/bin/true"), {})
    runtime.start(m["id"], "wd.service")
    runtime.start(m["id"], "nowd.service")
    assert recorder.wait_for(m["id"], "wd.service", EXITED, FAILED) == EXITED
    assert json.loads(out.read_text())["cwd"] == str(work)
    recorder.wait_for(m["id"], "nowd.service", FAILED)


def test_restart_on_failure_restarts_until_success(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    count = tmp_path / "count"
    # fails twice, then stays up
    runtime.load(m, "flaky.service", options(f"""
        [Service]
        ExecStart=/bin/sh -c 'echo x >> {count}; [ $$(wc -l < {count}) -ge 3 ] && exec sleep 60; exit 1'
        Restart=on-failure
        RestartSec=100ms
    """), {})
    runtime.start(m["id"], "flaky.service")
    recorder.wait_seen(m["id"], "flaky.service", ("loaded", "activating", "auto-restart"))
    wait_until(lambda: count.exists() and count.read_text().count("x") >= 3, what="third start")
    recorder.wait_for(m["id"], "flaky.service", RUNNING)
    assert FAILED not in recorder.history(m["id"], "flaky.service")


def test_restart_always_hits_the_start_limit(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    count = tmp_path / "count"
    runtime.load(m, "loop.service", options(f"""
        [Unit]
        StartLimitBurst=3
        StartLimitIntervalSec=1h
        [Service]
        ExecStart=/bin/sh -c 'echo x >> {count}'
        Restart=always
        RestartSec=0
    """), {})
    runtime.start(m["id"], "loop.service")
    recorder.wait_for(m["id"], "loop.service", FAILED)
    assert count.read_text().count("x") == 4  # the first start and three restarts
    log = (tmp_path / "logs" / m["id"] / "loop.service.log").read_text()
    assert "Start request repeated too quickly" in log


def test_after_orders_the_start_and_requires_pulls_in(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    order = tmp_path / "order"
    runtime.load(m, "db.service", options(f"""
        [Service]
        ExecStartPre=/bin/sh -c 'sleep 0.5; echo db >> {order}'
        ExecStart=/bin/sleep 60
    """), {})
    runtime.load(m, "app.service", options(f"""
        [Unit]
        Requires=db.service
        After=db.service
        [Service]
        ExecStartPre=/bin/sh -c 'echo app >> {order}'
        ExecStart=/bin/sleep 60
    """), {})
    runtime.start(m["id"], "app.service")  # pulls db.service in
    recorder.wait_for(m["id"], "app.service", RUNNING)
    assert recorder.current[(m["id"], "db.service")] == RUNNING
    assert order.read_text().split() == ["db", "app"]


def test_stopping_a_required_unit_stops_its_dependents(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    stopped = tmp_path / "app-stopped"
    runtime.load(m, "db.service", options("[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.load(m, "app.service", options(f"""
        [Unit]
        Requires=db.service
        After=db.service
        [Service]
        ExecStart=/bin/sleep 60
        ExecStop=/bin/sh -c 'touch {stopped}'
    """), {})
    runtime.start(m["id"], "db.service")
    runtime.start(m["id"], "app.service")
    recorder.wait_for(m["id"], "app.service", RUNNING)
    runtime.stop(m["id"], "db.service")
    recorder.wait_for(m["id"], "db.service", LOADED_DEAD)
    recorder.wait_for(m["id"], "app.service", LOADED_DEAD)
    assert stopped.exists()


def test_failure_of_a_required_unit_stops_its_dependents(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    pidfile = tmp_path / "db.pid"
    runtime.load(m, "db.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo $$$$ > {pidfile}; exec sleep 60'"), {})
    runtime.load(m, "app.service", options("[Unit]\nRequires=db.service\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.start(m["id"], "app.service")
    recorder.wait_for(m["id"], "app.service", RUNNING)
    os.kill(read_pid(pidfile), signal.SIGKILL)
    recorder.wait_for(m["id"], "db.service", FAILED)
    recorder.wait_for(m["id"], "app.service", LOADED_DEAD)


def test_failed_dependency_fails_an_ordered_start(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "app-ran"
    runtime.load(m, "db.service", options("[Service]\nType=oneshot\nExecStart=/bin/false"), {})
    runtime.load(m, "app.service", options(f"""
        [Unit]
        Requires=db.service
        After=db.service
        [Service]
        ExecStart=/bin/sh -c 'touch {marker}; exec sleep 60'
    """), {})
    runtime.start(m["id"], "app.service")
    recorder.wait_for(m["id"], "db.service", FAILED)
    recorder.wait_for(m["id"], "app.service", FAILED)
    assert not marker.exists()


def test_after_a_unit_that_never_starts_times_out(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "never.service", options("[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.load(m, "waiter.service", options("[Unit]\nAfter=never.service docker.service\n[Service]\nExecStart=/bin/sleep 60\nTimeoutStartSec=1"), {})
    runtime.start(m["id"], "waiter.service")
    recorder.wait_for(m["id"], "waiter.service", FAILED)
    assert recorder.current[(m["id"], "never.service")] == LOADED_DEAD
    log = (tmp_path / "logs" / m["id"] / "waiter.service.log").read_text()
    assert "never.service" in log and "docker.service" not in log


def test_units_of_other_machines_do_not_order(runtime, recorder, tmp_path):
    m1, m2 = machine(tmp_path, 1), machine(tmp_path, 2)
    runtime.load(m1, "db.service", options("[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.load(m2, "app.service", options("[Unit]\nAfter=db.service\n[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.start(m2["id"], "app.service")
    recorder.wait_for(m2["id"], "app.service", RUNNING)
    assert recorder.current[(m1["id"], "db.service")] == LOADED_DEAD


def test_unit_binding_its_machine_ip_serves_http(runtime, recorder, tmp_path):
    m = machine(tmp_path, 3)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("hello from the lab\n")
    portfile = tmp_path / "port"
    picker = tmp_path / "pick_port.py"
    picker.write_text("import socket, sys\ns = socket.socket()\ns.bind((sys.argv[1], 0))\nprint(s.getsockname()[1])\n")
    # the unit picks a free port on its machine IP, then serves on it
    runtime.load(m, "web.service", options(f"""
        [Service]
        WorkingDirectory={site}
        ExecStartPre=/bin/sh -c '{PYTHON} {picker} $COREOS_PRIVATE_IPV4 > {portfile}'
        ExecStart=/bin/sh -c 'exec {PYTHON} -m http.server --bind $COREOS_PRIVATE_IPV4 $$(cat {portfile})'
    """), {})
    runtime.start(m["id"], "web.service")
    recorder.wait_for(m["id"], "web.service", RUNNING)
    port = int(wait_until(lambda: portfile.exists() and portfile.read_text().strip(), what="port file"))

    def fetch():
        try:
            with urllib.request.urlopen(f"http://127.0.3.13:{port}/index.html", timeout=5) as response:
                return response.read().decode()
        except OSError:
            return None
    assert wait_until(fetch, what="the unit's HTTP server") == "hello from the lab\n"
    runtime.stop(m["id"], "web.service")
    recorder.wait_for(m["id"], "web.service", LOADED_DEAD)
    assert fetch() is None


def test_binds_to_stops_with_its_peer_even_on_a_clean_exit(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    release = tmp_path / "release"
    runtime.load(m, "peer.service", options(f"[Service]\nExecStart=/bin/sh -c 'while [ ! -e {release} ]; do sleep 0.1; done'"), {})
    runtime.load(m, "bound.service", options("[Unit]\nBindsTo=peer.service\nAfter=peer.service\n[Service]\nExecStart=/bin/sleep 60"), {})
    runtime.start(m["id"], "bound.service")
    recorder.wait_for(m["id"], "bound.service", RUNNING)
    assert recorder.current[(m["id"], "peer.service")] == RUNNING
    release.touch()
    recorder.wait_for(m["id"], "peer.service", LOADED_DEAD)
    recorder.wait_for(m["id"], "bound.service", LOADED_DEAD)


def test_timeout_start_sec_fails_a_slow_start(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "main-ran"
    runtime.load(m, "slow.service", options(f"""
        [Service]
        TimeoutStartSec=1
        ExecStartPre=/bin/sleep 60
        ExecStart=/bin/sh -c 'touch {marker}; exec sleep 60'
    """), {})
    runtime.start(m["id"], "slow.service")
    recorder.wait_for(m["id"], "slow.service", FAILED)
    assert not marker.exists()
    assert "start operation timed out" in (tmp_path / "logs" / m["id"] / "slow.service.log").read_text()


def test_forking_service_stays_running_while_its_daemon_lives(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    pidfile = tmp_path / "daemon.pid"
    stopped = tmp_path / "stopped"
    runtime.load(m, "daemon.service", options(f"""
        [Service]
        Type=forking
        PIDFile={pidfile}
        ExecStart=/bin/sh -c 'setsid sh -c "echo \\\\$$$$ > {pidfile}; exec sleep 60" > /dev/null 2>&1 &'
        ExecStop=/bin/sh -c 'echo $MAINPID > {stopped}'
    """), {})
    runtime.start(m["id"], "daemon.service")
    recorder.wait_for(m["id"], "daemon.service", RUNNING)
    pid = read_pid(pidfile)
    assert support.pid_alive(pid)
    runtime.stop(m["id"], "daemon.service")
    recorder.wait_for(m["id"], "daemon.service", LOADED_DEAD)
    assert stopped.read_text().strip() == str(pid)
    assert not support.pid_alive(pid)


def test_unknown_specifier_fails_the_start_and_says_why(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "spec.service", oneshot("ExecStart=/bin/echo %Z"), {})
    runtime.start(m["id"], "spec.service")
    recorder.wait_for(m["id"], "spec.service", FAILED)
    assert "unknown specifier %Z" in (tmp_path / "logs" / m["id"] / "spec.service.log").read_text()
