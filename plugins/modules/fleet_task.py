#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_task
short_description: Run a one-off command (a migration, a maintenance job) as a oneshot fleet unit on one machine
version_added: 1.0.0
description:
  - Runs O(command) (or O(argv)) once, on one machine of the fleet cluster, as a C(Type=oneshot) unit carrying the
    stack's O(version) and O(environment), waits for it to finish, and returns its exit status and its output.
  - The machine is the one whose id is O(machine_id), or one matching O(metadata), or any machine fleet picks.
  - The unit is named C(<stack>-task-<task>-<suffix>@<version>.service), where C(suffix) is 8 random hex characters
    so that two runs of the same task never collide. It carries the C([X-Houston]) marker (C(Stack), C(Version),
    C(Owner)) and a C(Task=<task>) key.
  - The unit runs the command with C(/bin/sh), output and errors together, then stores the last O(output_limit) bytes
    of the output and the exit status through the machine's local Consul agent (E(CONSUL_HTTP_ADDR) on the machine)
    under C(houston/<stack>/tasks/<unit>/output) and C(houston/<stack>/tasks/<unit>/status). A token is read on the
    machine from C(/etc/houston/consul-token) when that file exists; no token is ever written into the unit.
  - The module watches the status key with Consul blocking queries (and fleet for a unit that fails before it can
    report), then removes the unit and the keys, whatever the outcome (also after a failure or a timeout).
  - After O(wait_timeout) seconds the unit is stopped (what the command printed so far is kept), RV(timed_out) is
    true and RV(rc) is V(124), as with C(timeout(1)).
  - A task that exits with a status other than 0 makes the module fail, naming the task, the machine and the status;
    the result still holds RV(stdout).
  - The unit uses only C(sh), C(curl), C(base64) and C(tail) (the CoreOS userland); the command travels base64-encoded
    in C(Environment=) lines, so every line of the unit stays short whatever the command.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._fleet
  - houston.stack._fleet.actiongroup_fleet
  - houston.stack._consul
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode runs nothing. It checks the inputs and the machine choice against fleet's machine list and returns
        the unit that would run (RV(unit_content)), with C(changed=true).
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run runs the command again.
options:
  stack:
    description: The stack the task belongs to (names the unit and the Consul keys).
    type: str
    required: true
  version:
    description: The stack's version the task runs with (the unit's instance and its C(HOUSTON_VERSION) variable).
    type: str
    required: true
  task:
    description: Name of the task, for example V(migrate). At most 50 characters of letters, digits, C(.), C(_), C(-).
    type: str
    required: true
  command:
    description:
      - The command line, run by C(/bin/sh) on the machine. It may be a whole script.
      - Mutually exclusive with O(argv); one of them is required.
    type: str
  argv:
    description:
      - The command as a list of words; each word is passed to the program as one argument (quoted for C(/bin/sh),
        no shell expansion).
      - Mutually exclusive with O(command).
    type: list
    elements: str
  environment:
    description:
      - Variables for the command, written as C(Environment=) lines of the unit.
      - The unit also sets C(HOUSTON_STACK), C(HOUSTON_VERSION), C(HOUSTON_TASK) and C(HOUSTON_TASK_UNIT); names
        starting with C(HOUSTON_TASK_) are reserved.
      - Values of variables whose name looks secret (containing C(PASS), C(SECRET), C(TOKEN), C(KEY), C(AUTH), C(CERT),
        C(CREDENTIAL), C(PRIVATE)) or that hold a URL with credentials are redacted in RV(unit_content) and masked in the
        module's output. They are stored in fleet as part of the unit, like any unit environment.
    type: dict
    default: {}
  machine_id:
    description:
      - Run on the machine with this fleet machine id (32 hex characters, or its first 8 or more).
      - Mutually exclusive with O(metadata).
    type: str
  metadata:
    description:
      - Run on a machine whose fleet metadata matches, with fleet's C(MachineMetadata) semantics; every key must match,
        a list value matches any of its values (a key C(role) with the list C([web, worker]) matches both roles).
      - Without O(machine_id) and O(metadata), fleet picks the machine.
    type: dict
  wait_timeout:
    description:
      - Seconds to wait for the task to finish. Past it the unit is stopped, RV(timed_out) is true, RV(rc) is V(124) and
        the module fails.
    type: int
    default: 600
  output_limit:
    description:
      - How many bytes of output are kept, the last ones (at most 512000, under Consul's value size limit).
    type: int
    default: 65536
  token_file:
    description:
      - Path, on the machines, of the file holding the Consul token the unit uses. The token itself never enters the unit.
    type: str
    default: /etc/houston/consul-token
  stop_timeout:
    description:
      - After a timeout, how many seconds to wait for the unit to stop (and store what the command printed) before
        removing it anyway; also bounds the wait for the unit to leave the machine during the cleanup.
    type: int
    default: 60
notes:
  - The module talks to Consul (O(consul_address)) and fleet from where it runs; the unit talks to the Consul agent of
    its own machine. Both must see the same Consul datacenter.
  - If the controller goes away while a task runs, the unit stays in fleet (systemd stops the command 60 seconds after
    O(wait_timeout)); remove it with M(houston.stack.fleet_unit) (O(houston.stack.fleet_unit#module:state=absent)).
seealso:
  - module: houston.stack.fleet_unit
"""

EXAMPLES = r"""
- name: Run the database migration of version v42 on a worker machine
  houston.stack.fleet_task:
    stack: example
    version: v42
    task: migrate
    command: /opt/example/bin/manage migrate --noinput
    metadata:
      role: worker
    environment:
      DATABASE_URL: postgres://example@db.internal/example
      DATABASE_PASSWORD: "{{ vault_database_password }}"
    wait_timeout: 1800
    fleet_endpoint: "{{ houston_fleet_endpoint }}"
    consul_address: "{{ houston_consul_address }}"
  register: migration
  delegate_to: localhost

- name: Show what it printed
  ansible.builtin.debug:
    var: migration.stdout_lines

- name: Run a program with arguments on one machine (no shell parsing)
  houston.stack.fleet_task:
    stack: example
    version: v42
    task: reindex
    argv: [/opt/example/bin/reindex, --since, "2026-01-01 00:00"]
    machine_id: 3fa2b1c9
  delegate_to: localhost

- name: See the unit a task would run, without running it
  houston.stack.fleet_task:
    stack: example
    version: v42
    task: migrate
    command: /opt/example/bin/manage migrate
  check_mode: true
  register: would_run
  delegate_to: localhost
"""

RETURN = r"""
rc:
  description:
    - Exit status of the command; V(124) after a timeout; V(-1) when the unit was stopped by someone else (or its
      machine was lost) before the command finished.
  returned: when the task ran (not in check mode)
  type: int
  sample: 0
stdout:
  description: The last O(output_limit) bytes of the command's output and errors (decoded as UTF-8).
  returned: always
  type: str
  sample: "Applying example.0042_add_index... OK\n"
stdout_lines:
  description: RV(stdout) split into lines.
  returned: always
  type: list
  elements: str
unit:
  description: Name of the task unit (it no longer exists when the module returns).
  returned: always
  type: str
  sample: example-task-migrate-3f9a0c1d@v42.service
unit_content:
  description: The unit text, with the values of secret-looking environment variables redacted.
  returned: always
  type: str
machine:
  description: The machine the task ran on (in check mode, the machine chosen by O(machine_id), else V(null)).
  returned: always
  type: dict
  contains:
    id:
      description: fleet machine id.
      type: str
    ip:
      description: The machine's primary IP.
      type: str
candidate_machines:
  description: Ids of the machines the task may run on (all of them without O(machine_id) and O(metadata)).
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds from the creation of the unit to the exit status (or the timeout).
  returned: always
  type: float
  sample: 2.5
timed_out:
  description: Whether O(wait_timeout) expired (the unit was then stopped).
  returned: always
  type: bool
key_prefix:
  description: The Consul KV prefix where the unit stored the results (deleted when the module returns).
  returned: always
  type: str
  sample: houston/example/tasks/example-task-migrate-3f9a0c1d@v42.service/
cleanup_warnings:
  description: Problems met while removing the unit or the keys (the task result itself stands).
  returned: always
  type: list
  elements: str
"""

import copy
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils import _task as tasks
from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC, ConsulClient, ConsulError, decode_value
from ansible_collections.houston.stack.plugins.module_utils._fleet import FLEET_ARGSPEC, FleetClient, FleetError, describe_row, state_row
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName
from ansible_collections.houston.stack.plugins.module_utils._wait import DONE, PENDING, Waiter

BLOCKING_WAIT = 5
RUNNING = frozenset(("activating", "active", "deactivating", "reloading"))


class TaskFailed(Exception):
    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def argument_spec():
    spec = dict(
        stack=dict(type="str", required=True),
        version=dict(type="str", required=True),
        task=dict(type="str", required=True),
        command=dict(type="str"),
        argv=dict(type="list", elements="str"),
        environment=dict(type="dict", default={}),
        machine_id=dict(type="str"),
        metadata=dict(type="dict"),
        wait_timeout=dict(type="int", default=600),
        output_limit=dict(type="int", default=tasks.DEFAULT_OUTPUT_LIMIT),
        token_file=dict(type="str", default=tasks.DEFAULT_TOKEN_FILE, no_log=False),
        stop_timeout=dict(type="int", default=60),
    )
    spec.update(copy.deepcopy(FLEET_ARGSPEC))
    spec.update(copy.deepcopy(CONSUL_ARGSPEC))
    return spec


class FleetTask:
    def __init__(self, module, fleet, consul):
        self.module = module
        self.fleet = fleet
        self.consul = consul
        self.params = module.params
        self.machines_by_id = {}
        self.warnings = []

    # -- preparation ----------------------------------------------------------------------------------

    def prepare(self):
        p = self.params
        self.script = tasks.command_script(p["command"], p["argv"])
        self.unit = tasks.task_unit_name(p["stack"], p["task"], p["version"], tasks.new_suffix())
        self.prefix = tasks.task_key_prefix(p["stack"], self.unit)
        self.machines_by_id = {m["id"]: m for m in self.fleet.machines()}
        machine_id = None
        if p["machine_id"]:
            machine_id = tasks.resolve_machine(p["machine_id"], list(self.machines_by_id.values()))["id"]
        self.options, secret = tasks.task_options(
            p["stack"], p["version"], p["task"], self.unit, self.script, environment=p["environment"], machine_id=machine_id,
            metadata=p["metadata"], output_limit=p["output_limit"], timeout=p["wait_timeout"], token_file=p["token_file"])
        for name in secret:
            self.module.no_log_values.add(str(p["environment"][name]))
        self.options = unitfile.validate(unitfile.check_options(self.options))
        candidates = unitfile.expected_machines(self.options, list(self.machines_by_id.values()), self.unit)
        if not candidates:
            wanted = f"metadata {p['metadata']}" if p["metadata"] else "its [X-Fleet] constraints"
            raise tasks.TaskError(f"task {p['task']!r}: no fleet machine matches {wanted} "
                                  f"(machines: {self.describe_machines()})")
        self.candidates = [m["id"] for m in candidates]
        self.content = unitfile.render(tasks.redact_options(self.options, secret))
        return machine_id

    def describe_machines(self):
        return "; ".join(f"{m['id'][:8]} {m.get('primaryIP')} {m.get('metadata') or {}}" for m in self.machines_by_id.values()) or "none"

    def machine(self, machine_id):
        if not machine_id:
            return None
        if machine_id not in self.machines_by_id:
            self.machines_by_id.update({m["id"]: m for m in self.fleet.machines()})
        return {"id": machine_id, "ip": self.machines_by_id.get(machine_id, {}).get("primaryIP")}

    def base_result(self, machine_id=None):
        return dict(changed=True, unit=self.unit, unit_content=self.content, machine=self.machine(machine_id),
                    candidate_machines=self.candidates, key_prefix=self.prefix, elapsed=0.0, timed_out=False,
                    stdout="", stdout_lines=[], cleanup_warnings=self.warnings)

    # -- the run --------------------------------------------------------------------------------------

    def run(self):
        machine_id = self.prepare()
        if self.module.check_mode:
            return self.base_result(machine_id)
        result = self.base_result(machine_id)
        started = time.monotonic()
        try:
            self.fleet.put_unit(self.unit, self.options, "launched")
            status, machine_id, failed_row = self.wait_status(started)
            result["elapsed"] = round(time.monotonic() - started, 3)
            if status is None and failed_row is None:
                result["timed_out"] = True
                self.stop()
                status = self.read_status()
            result["machine"] = self.machine(machine_id) or result["machine"]
            result["stdout"] = self.read_output()
            result["stdout_lines"] = result["stdout"].splitlines()
        finally:
            self.cleanup()
        return self.conclude(result, status, failed_row)

    def conclude(self, result, status, failed_row):
        p = self.params
        where = self.where(result["machine"])
        if result["timed_out"]:
            result["rc"] = tasks.TIMEOUT_RC
            raise TaskFailed(f"task {p['task']!r} of stack {p['stack']} timed out after {p['wait_timeout']}s on {where}: "
                             f"the unit was stopped (rc {tasks.TIMEOUT_RC}){self.tail(result)}", result)
        if failed_row is not None and status is None:
            result["rc"] = -1
            raise TaskFailed(f"task {p['task']!r} of stack {p['stack']}: unit {self.unit} failed on {describe_row(failed_row)} "
                             "before it stored an exit status (is curl there and the local Consul agent reachable? "
                             "see the unit's journal)", result)
        if status == tasks.STATUS_STOPPED or status is None:
            result["rc"] = -1
            raise TaskFailed(f"task {p['task']!r} of stack {p['stack']} was stopped on {where} before the command finished "
                             f"(unit {self.unit} stopped or its machine lost){self.tail(result)}", result)
        result["rc"] = status
        if status != 0:
            raise TaskFailed(f"task {p['task']!r} of stack {p['stack']} failed on {where} with rc {status}{self.tail(result)}", result)
        return result

    @staticmethod
    def where(machine):
        if not machine:
            return "an unknown machine"
        return f"machine {machine['id']} ({machine.get('ip') or 'no IP'})"

    @staticmethod
    def tail(result, lines=20):
        shown = result["stdout_lines"][-lines:]
        if not shown:
            return "; no output"
        return f"; last {len(shown)} line(s) of output:\n" + "\n".join(shown)

    def rows(self):
        return [state_row(r, self.machines_by_id) for r in self.fleet.state(unit_name=self.unit) if r.get("name", self.unit) == self.unit]

    def wait_status(self, started):
        """Block on the status key until it appears, the unit fails without it, or wait_timeout passes.

        Returns (status or None, machine id or None, failed state row or None)."""
        deadline = started + self.params["wait_timeout"]
        key = self.prefix + "status"
        index = None
        machine_id = None
        failed_seen = None
        while True:
            remaining = deadline - time.monotonic()
            wait = max(1, min(BLOCKING_WAIT, int(remaining))) if index else None
            entry, new_index = self.consul.kv_get(key, index=index, wait=wait)
            if entry is not None:
                return tasks.parse_status(decode_value(entry)), machine_id or self.scheduled_machine(), None
            if failed_seen is not None:  # one more look at the key after fleet said failed
                return None, machine_id, failed_seen
            if machine_id is None:
                machine_id = self.scheduled_machine()
            failed = [r for r in self.rows() if r["active_state"] == "failed"]
            if failed:
                failed_seen = failed[0]
                machine_id = machine_id or failed_seen["machine_id"]
                index = None
                continue
            if time.monotonic() >= deadline:
                return None, machine_id, None
            index = new_index if new_index and (index is None or new_index >= index) else 1

    def scheduled_machine(self):
        unit = self.fleet.unit(self.unit) or {}
        return unit.get("machineID")

    def stop(self):
        """After a timeout: stop the unit (ExecStopPost stores the output so far) and wait until it is stopped."""
        self.fleet.set_state(self.unit, "loaded")

        def probe():
            rows = self.rows()
            running = [r for r in rows if r["active_state"] in RUNNING]
            return (PENDING if running else DONE), rows
        outcome = Waiter(self.params["stop_timeout"]).wait(probe)
        if not outcome.done:
            self.warnings.append(f"unit {self.unit} was still stopping after {self.params['stop_timeout']}s: "
                                 + "; ".join(describe_row(r) for r in outcome.observation or []))

    def read_status(self):
        entry, _index = self.consul.kv_get(self.prefix + "status")
        return tasks.parse_status(decode_value(entry)) if entry else None

    def read_output(self):
        entry, _index = self.consul.kv_get(self.prefix + "output")
        return decode_value(entry).decode("utf-8", "replace") if entry else ""

    def cleanup(self):
        """Remove the unit (waiting until no machine reports it, so ExecStopPost is done) and then the keys."""
        try:
            self.fleet.delete(self.unit)
            outcome = Waiter(self.params["stop_timeout"]).wait(lambda: ((PENDING if self.rows() else DONE), None))
            if not outcome.done:
                self.warnings.append(f"unit {self.unit} still reported by a machine {self.params['stop_timeout']}s after its removal")
        except FleetError as e:
            self.warnings.append(f"removing unit {self.unit}: {e}")
        try:
            self.consul.kv_delete(self.prefix, recurse=True)
        except ConsulError as e:
            self.warnings.append(f"removing Consul keys {self.prefix}: {e}")


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("command", "argv"), ("machine_id", "metadata")],
        required_one_of=[("command", "argv")],
        supports_check_mode=True,
    )
    runner = FleetTask(module, FleetClient.from_params(module.params), ConsulClient.from_params(module.params))
    try:
        result = runner.run()
    except (tasks.TaskError, InvalidName, unitfile.UnitFileError) as e:
        module.fail_json(msg=str(e), changed=False)
    except TaskFailed as e:
        module.fail_json(msg=str(e), **e.result)
    except (FleetError, ConsulError) as e:
        module.fail_json(msg=f"task {module.params['task']!r} of stack {module.params['stack']}: {e}", changed=True,
                         unit=getattr(runner, "unit", None), cleanup_warnings=runner.warnings)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
