# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ProcessRuntime: start/stop lifecycle of real processes (oneshot, simple, failures, stop, unload)."""
from __future__ import annotations

import os
import signal

from lab.fleetlab.runtime import ProcessRuntime

try:
    from . import runtime_support as support
except ImportError:  # tests/unit/fleetlab is not a package
    import runtime_support as support  # type: ignore[no-redef]

PYTHON, machine, options = support.PYTHON, support.machine, support.options
live_pids_with_env, pid_alive, read_pid, wait_until = support.live_pids_with_env, support.pid_alive, support.read_pid, support.wait_until
recorder_fixture = support.recorder_fixture
runtime_fixture = support.runtime_fixture

LOADED_DEAD = ("loaded", "inactive", "dead")
RUNNING = ("loaded", "active", "running")
FAILED = ("loaded", "failed", "failed")


def test_load_reports_loaded_inactive_dead(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "idle.service", options("[Service]\nExecStart=/bin/sleep 60"), {})
    recorder.wait_for(m["id"], "idle.service", LOADED_DEAD)
    assert runtime.state(m["id"], "idle.service") == LOADED_DEAD


def test_oneshot_remain_after_exit_is_active_exited(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "ran"
    runtime.load(m, "once.service", options(f"""
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStart=/bin/sh -c 'echo ran > {marker}'
    """), {})
    runtime.start(m["id"], "once.service")
    recorder.wait_for(m["id"], "once.service", ("loaded", "active", "exited"), FAILED)
    assert recorder.current[(m["id"], "once.service")] == ("loaded", "active", "exited")
    assert marker.read_text() == "ran\n"
    assert ("loaded", "activating", "start") in recorder.history(m["id"], "once.service")
    assert (m["id"], "once.service") in runtime.timings()


def test_oneshot_without_remain_after_exit_ends_inactive_dead(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "ran"
    runtime.load(m, "once.service", options(f"""
        [Service]
        Type=oneshot
        ExecStart=/bin/sh -c 'echo one >> {marker}'
        ExecStart=/bin/sh -c 'echo two >> {marker}'
    """), {})
    runtime.start(m["id"], "once.service")
    recorder.wait_seen(m["id"], "once.service", ("loaded", "activating", "start"))
    recorder.wait_for(m["id"], "once.service", LOADED_DEAD, FAILED)
    assert recorder.current[(m["id"], "once.service")] == LOADED_DEAD
    assert marker.read_text() == "one\ntwo\n"


def test_simple_service_runs_and_logs_with_timestamps(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "web.service", options("""
        [Service]
        ExecStart=/bin/sh -c 'echo hello from $COREOS_PUBLIC_IPV4; exec sleep 60'
    """), {})
    runtime.start(m["id"], "web.service")
    recorder.wait_for(m["id"], "web.service", RUNNING)
    log = tmp_path / "logs" / m["id"] / "web.service.log"
    wait_until(lambda: log.exists() and "hello from 127.0.3.11" in log.read_text(), what="log line")
    line = next(line for line in log.read_text().splitlines() if "hello from" in line)
    assert line[:4].isdigit() and "T" in line.split()[0] and "web.service[" in line


def test_failing_exec_start_fails_the_unit(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "bad.service", options("[Service]\nExecStart=/bin/sh -c 'exit 3'"), {})
    runtime.start(m["id"], "bad.service")
    recorder.wait_for(m["id"], "bad.service", FAILED)
    log = (tmp_path / "logs" / m["id"] / "bad.service.log").read_text()
    assert "status=3/FAILURE" in log


def test_missing_executable_fails_the_unit(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "nobin.service", options("[Service]\nType=oneshot\nExecStart=/nonexistent/binary"), {})
    runtime.start(m["id"], "nobin.service")
    recorder.wait_for(m["id"], "nobin.service", FAILED)


def test_dash_prefix_ignores_failure(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    runtime.load(m, "tolerant.service", options("""
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStartPre=-/bin/false
        ExecStartPre=-/nonexistent/binary
        ExecStart=-/bin/sh -c 'exit 7'
    """), {})
    runtime.start(m["id"], "tolerant.service")
    assert recorder.wait_for(m["id"], "tolerant.service", ("loaded", "active", "exited"), FAILED) == \
        ("loaded", "active", "exited")


def test_exec_start_pre_failure_fails_without_running_exec_start(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "main-ran"
    post = tmp_path / "post-ran"
    runtime.load(m, "pre.service", options(f"""
        [Service]
        ExecStartPre=/bin/false
        ExecStart=/bin/sh -c 'touch {marker}; exec sleep 60'
        ExecStopPost=/bin/sh -c 'echo $SERVICE_RESULT > {post}'
    """), {})
    runtime.start(m["id"], "pre.service")
    recorder.wait_for(m["id"], "pre.service", FAILED)
    assert ("loaded", "activating", "start-pre") in recorder.history(m["id"], "pre.service")
    assert not marker.exists()
    assert post.read_text().strip() == "exit-code"


def test_stop_runs_exec_stop_then_terminates(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    stopped = tmp_path / "stopped"
    pidfile = tmp_path / "pid"
    runtime.load(m, "svc.service", options(f"""
        [Service]
        ExecStart=/bin/sh -c 'echo $$$$ > {pidfile}; exec sleep 60'
        ExecStop=/bin/sh -c 'echo stopped $MAINPID > {stopped}'
    """), {})
    runtime.start(m["id"], "svc.service")
    recorder.wait_for(m["id"], "svc.service", RUNNING)
    pid = read_pid(pidfile)
    runtime.stop(m["id"], "svc.service")
    recorder.wait_for(m["id"], "svc.service", LOADED_DEAD)
    assert stopped.read_text().strip() == f"stopped {pid}"
    assert not pid_alive(pid)
    assert ("loaded", "deactivating", "stop") in recorder.history(m["id"], "svc.service")


def test_timeout_stop_sec_kills_a_process_ignoring_sigterm(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    pidfile = tmp_path / "pid"
    script = tmp_path / "stubborn.py"
    script.write_text("import os, signal, sys, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                      "open(sys.argv[1], 'w').write(str(os.getpid()))\ntime.sleep(600)\n")
    runtime.load(m, "stubborn.service", options(f"""
        [Service]
        ExecStart={PYTHON} {script} {pidfile}
        TimeoutStopSec=1
    """), {})
    runtime.start(m["id"], "stubborn.service")
    recorder.wait_for(m["id"], "stubborn.service", RUNNING)
    pid = read_pid(pidfile)
    runtime.stop(m["id"], "stubborn.service")
    assert recorder.wait_for(m["id"], "stubborn.service", FAILED, LOADED_DEAD) == FAILED  # result 'timeout'
    history = recorder.history(m["id"], "stubborn.service")
    assert ("loaded", "deactivating", "stop-sigterm") in history
    assert ("loaded", "deactivating", "stop-sigkill") in history
    assert not pid_alive(pid)


def test_unload_of_running_unit_stops_it_and_reports_gone(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    pidfile = tmp_path / "pid"
    runtime.load(m, "gone.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo $$$$ > {pidfile}; exec sleep 60'"), {})
    runtime.start(m["id"], "gone.service")
    recorder.wait_for(m["id"], "gone.service", RUNNING)
    pid = read_pid(pidfile)
    runtime.unload(m["id"], "gone.service")
    recorder.wait_for(m["id"], "gone.service", (None, None, None))
    assert not pid_alive(pid)
    assert runtime.state(m["id"], "gone.service") is None
    assert LOADED_DEAD in recorder.history(m["id"], "gone.service")[1:]


def test_shutdown_leaves_no_process_behind(tmp_path, recorder):
    rt = ProcessRuntime(recorder, str(tmp_path / "logs"), default_timeout_stop=10)
    m = machine(tmp_path)
    stopped = tmp_path / "stopped"
    # a child in the group, and a grandchild that escapes the process group with setsid
    rt.load(m, "tree.service", options(f"""
        [Service]
        Environment=TREE_MARK={tmp_path.name}
        ExecStart=/bin/sh -c 'sleep 300 & setsid sleep 301 & wait'
        ExecStop=/bin/sh -c 'touch {stopped}'
    """), {})
    rt.load(m, "once.service", options("[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true"), {})
    rt.start(m["id"], "tree.service")
    rt.start(m["id"], "once.service")
    recorder.wait_for(m["id"], "tree.service", RUNNING)
    recorder.wait_for(m["id"], "once.service", ("loaded", "active", "exited"))
    marker = f"TREE_MARK={tmp_path.name}"
    wait_until(lambda: len(live_pids_with_env(marker)) >= 3, what="the unit's three processes")
    rt.shutdown()
    assert stopped.exists()
    assert live_pids_with_env(marker) == []
    assert recorder.current[(m["id"], "tree.service")] == (None, None, None)
    assert recorder.current[(m["id"], "once.service")] == (None, None, None)


def test_injected_start_failure_runs_nothing(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    marker = tmp_path / "ran"
    runtime.set_start_failure(lambda machine_id, unit: unit.startswith("doomed"))
    runtime.load(m, "doomed.service", options(f"[Service]\nExecStart=/bin/sh -c 'touch {marker}; sleep 60'"), {})
    runtime.start(m["id"], "doomed.service")
    recorder.wait_for(m["id"], "doomed.service", FAILED)
    assert not marker.exists()
    runtime.set_start_failure(None)
    runtime.start(m["id"], "doomed.service")
    recorder.wait_for(m["id"], "doomed.service", RUNNING)


def test_restart_after_stop_starts_again(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    count = tmp_path / "count"
    runtime.load(m, "again.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo x >> {count}; exec sleep 60'"), {})
    runtime.start(m["id"], "again.service")
    recorder.wait_for(m["id"], "again.service", RUNNING)
    wait_until(lambda: count.exists() and count.read_text().count("x") == 1, what="the first start")
    runtime.stop(m["id"], "again.service")
    recorder.wait_for(m["id"], "again.service", LOADED_DEAD)
    runtime.start(m["id"], "again.service")
    recorder.wait_for(m["id"], "again.service", RUNNING)
    wait_until(lambda: count.read_text().count("x") == 2, what="second start")


def test_sigterm_exit_of_simple_service_is_clean(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    pidfile = tmp_path / "pid"
    runtime.load(m, "term.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo $$$$ > {pidfile}; exec sleep 60'"), {})
    runtime.start(m["id"], "term.service")
    recorder.wait_for(m["id"], "term.service", RUNNING)
    os.kill(read_pid(pidfile), signal.SIGTERM)
    assert recorder.wait_for(m["id"], "term.service", LOADED_DEAD, FAILED) == LOADED_DEAD


def test_reload_right_after_unload_starts_once_the_old_incarnation_stopped(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    log = tmp_path / "events"
    unit = options(f"""
        [Service]
        ExecStart=/bin/sh -c 'echo start >> {log}; exec sleep 60'
        ExecStop=/bin/sh -c 'sleep 0.3; echo stop >> {log}'
    """)
    runtime.load(m, "replaced.service", unit, {})
    runtime.start(m["id"], "replaced.service")
    recorder.wait_for(m["id"], "replaced.service", RUNNING)
    runtime.unload(m["id"], "replaced.service")
    runtime.load(m, "replaced.service", unit, {})  # fleet replaced the unit: unload then load at once
    runtime.start(m["id"], "replaced.service")
    wait_until(lambda: log.exists() and log.read_text().split() == ["start", "stop", "start"], what="stop before restart")
    recorder.wait_for(m["id"], "replaced.service", RUNNING)
    assert runtime.state(m["id"], "replaced.service") == RUNNING


def test_load_of_a_loaded_unit_takes_effect_at_next_start(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    out = tmp_path / "out"
    runtime.load(m, "conf.service", options(f"[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo one >> {out}'"), {})
    runtime.load(m, "conf.service", options(f"[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo two >> {out}'"), {})
    runtime.start(m["id"], "conf.service")
    recorder.wait_seen(m["id"], "conf.service", ("loaded", "activating", "start"))
    recorder.wait_for(m["id"], "conf.service", LOADED_DEAD)
    assert out.read_text() == "two\n"


def test_stop_then_start_in_a_row_restarts_the_unit(runtime, recorder, tmp_path):
    m = machine(tmp_path)
    count = tmp_path / "count"
    runtime.load(m, "bounce.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo x >> {count}; exec sleep 60'"), {})
    runtime.start(m["id"], "bounce.service")
    recorder.wait_for(m["id"], "bounce.service", RUNNING)
    wait_until(lambda: count.exists() and count.read_text().count("x") == 1, what="the first start")
    runtime.stop(m["id"], "bounce.service")
    runtime.start(m["id"], "bounce.service")  # systemctl restart
    wait_until(lambda: count.read_text().count("x") == 2, what="the second start")
    recorder.wait_for(m["id"], "bounce.service", RUNNING)
    assert ("loaded", "deactivating", "stop") in recorder.history(m["id"], "bounce.service")


def test_a_new_runtime_kills_processes_left_by_a_crashed_one_with_the_same_log_dir(tmp_path, recorder):
    crashed = ProcessRuntime(recorder, str(tmp_path / "logs"), default_timeout_stop=10)
    m = machine(tmp_path)
    pidfile = tmp_path / "pid"
    crashed.load(m, "left.service", options(f"[Service]\nExecStart=/bin/sh -c 'echo $$$$ > {pidfile}; exec sleep 60'"), {})
    crashed.start(m["id"], "left.service")
    recorder.wait_for(m["id"], "left.service", RUNNING)
    pid = read_pid(pidfile)
    other = ProcessRuntime(recorder, str(tmp_path / "other-logs"))  # another lab: leaves it alone
    other.shutdown()
    assert pid_alive(pid)
    ProcessRuntime(recorder, str(tmp_path / "logs")).shutdown()  # the lab restarted after a crash
    wait_until(lambda: not pid_alive(pid), what="the orphan to be killed")
    crashed.shutdown()
