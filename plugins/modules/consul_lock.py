#!/usr/bin/python
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: consul_lock
short_description: Acquire or release a stack's deploy lock in Consul
version_added: 1.0.0
description:
  - Takes the deploy lock of O(stack), the Consul key C(houston/<stack>/lock) acquired by a session with a TTL
    (behavior C(release), lock-delay 1 s, no node checks), or releases it.
  - While the lock is busy, waits for it with blocking queries on the key up to O(wait_timeout) seconds, then fails
    naming the holder (user, host, controller pid, start time, AWX job id), which is stored as the key's value.
  - After acquiring, a detached keeper process renews the session every O(ttl)/3 seconds while the controller's
    C(ansible-playbook) process lives. When the controller dies (even by C(kill -9)) the keeper stops renewing and
    the lock expires by its TTL (Consul reaps a session between one and two TTLs after its last renewal).
  - Releasing releases the key (its value, the last holder, stays readable), destroys the session and stops the keeper.
    Release it in an C(always:) section.
author:
  - houston.stack contributors (@houston-stack)
extends_documentation_fragment:
  - houston.stack._consul
  - houston.stack._consul.actiongroup_consul
  - houston.stack._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the lock key and predicts C(changed); it creates no session and does not wait. When the lock
        is busy, a warning names the holder.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Acquiring again with the O(session) that already holds the lock renews it and reports no change.
options:
  stack:
    description: Name of the stack whose deploy lock this is.
    type: str
    required: true
  state:
    description: V(acquired) takes the lock (waiting for it), V(released) gives it back.
    type: str
    choices: [acquired, released]
    default: acquired
  ttl:
    description:
      - TTL of the lock's session in seconds (10 to 86400). The keeper renews every O(ttl)/3 seconds; after a controller
        crash the lock is free after one to two TTLs.
    type: int
    default: 30
  wait_timeout:
    description: How long to wait for a busy lock, in seconds; V(0) fails at once.
    type: int
    default: 60
  holder:
    description:
      - Free-form facts about this deploy stored with the lock (for example C(version), C(playbook)). They are added to
        C(user), C(host), C(pid), C(started) and C(job_id) (from E(AWX_JOB_ID) or E(JOB_ID)), which they may override.
      - Never put secrets here; the key is readable by anybody with KV read access.
    type: dict
    default: {}
  session:
    description:
      - The session returned by an earlier acquire. Required with O(state=released) unless O(force=true).
      - With O(state=acquired), a session that already holds the lock is renewed instead of acquiring again.
    type: str
  force:
    description:
      - With O(state=released) and no O(session), destroy whatever session holds the lock (force-unlock).
    type: bool
    default: false
  keeper:
    description:
      - Start the keeper process that renews the session while the controller lives. Without it the lock expires
        O(ttl) seconds after the acquire unless renewed by acquiring again with O(session).
    type: bool
    default: true
seealso:
  - module: houston.stack.consul_history
"""

EXAMPLES = r"""
- name: Deploy the example stack under its lock
  block:
    - name: Take the deploy lock
      houston.stack.consul_lock:
        stack: example
        holder:
          version: "{{ version }}"
        wait_timeout: 120
      delegate_to: localhost
      register: example_lock

    - name: Deploy
      ansible.builtin.debug:
        msg: "deploying under session {{ example_lock.session }}"
  always:
    - name: Release the deploy lock
      houston.stack.consul_lock:
        stack: example
        state: released
        session: "{{ example_lock.session }}"
      delegate_to: localhost
      when: example_lock.session is defined
"""

RETURN = r"""
key:
  description: The lock key.
  returned: always
  type: str
  sample: houston/example/lock
session:
  description: The session holding (or, after release, that held) the lock. Not returned in check mode acquires.
  returned: when a session is known
  type: str
  sample: 5a3f7e2c-9a41-4c44-8d59-0b7cbe0ad1f2
holder:
  description: The holder information stored with the lock.
  returned: always
  type: dict
  sample: {"user": "deploy", "host": "ctl1", "pid": 4242, "started": "2026-12-03T10:00:00Z", "job_id": "55"}
waited:
  description: Seconds spent waiting for the lock.
  returned: when state=acquired
  type: float
  sample: 0.01
keeper_pid:
  description: Pid of the keeper process renewing the session (on the controller).
  returned: when a keeper was started
  type: int
held:
  description:
    - Whether a session held the lock when the module looked at it (in check mode, or before an acquire waited).
  returned: when state=acquired
  type: bool
lock_index:
  description:
    - Consul's C(LockIndex) of the lock key (how many times it was acquired; V(0) when the key does not exist).
    - In check mode as it is now, after an acquire as this acquire left it. An acquire whose RV(lock_index) is one
      more than a check-mode RV(lock_index) read earlier proves that nobody held the lock in between.
  returned: when state=acquired
  type: int
  sample: 12
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.houston.stack.plugins.module_utils._consul import CONSUL_ARGSPEC, ConsulClient, ConsulError
from ansible_collections.houston.stack.plugins.module_utils._lock import DeployLock, LockTimeout, default_holder, describe_holder
from ansible_collections.houston.stack.plugins.module_utils._lock_keeper import find_controller, spawn_keeper, stop_keeper
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, validate_stack


def keeper_config(client, params, session):
    return dict(url=client.url, session=session, ttl=params["ttl"], token=params["consul_token"],
                datacenter=params["consul_datacenter"], validate_certs=params["consul_validate_certs"],
                ca_path=params["consul_ca_path"], client_cert=params["consul_client_cert"],
                client_key=params["consul_client_key"], timeout=params["consul_timeout"])


def acquire(module, client, lock):
    params = module.params
    entry, _index = client.kv_get(lock.key)
    holding, current = lock.read_entry(entry)
    seen = dict(held=bool(holding), lock_index=int((entry or {}).get("LockIndex") or 0))
    if params["session"] and holding == params["session"]:
        if not module.check_mode and not client.session_renew(params["session"]):
            module.fail_json(msg=f"session {params['session']} holds {lock.key!r} but Consul cannot renew it")
        return dict(changed=False, key=lock.key, session=params["session"], holder=current or {}, waited=0.0, **seen)
    if module.check_mode:
        if holding:
            module.warn(f"deploy lock {lock.key!r} is held by {describe_holder(current, holding)}")
        return dict(changed=True, key=lock.key, holder=current or {}, waited=0.0, **seen)
    controller = find_controller() if params["keeper"] else None
    if params["keeper"] and controller is None:
        module.warn("no ansible-playbook process found among this module's ancestors: the lock is not renewed "
                    f"and expires {params['ttl']} to {2 * params['ttl']} seconds after this task")
    holder = default_holder(controller[0] if controller else None)
    holder.update(params["holder"] or {})
    session = lock.create_session(params["ttl"])
    keeper_pid = None
    if controller:
        keeper_pid = spawn_keeper(keeper_config(client, params, session), controller[0], controller[1])
        holder["keeper_pid"] = keeper_pid
    holder["session"] = session
    try:
        waited = lock.acquire(session, holder, params["wait_timeout"])
    except LockTimeout as e:
        stop_keeper(keeper_pid, session)
        client.session_destroy(session)
        module.fail_json(msg=str(e), key=lock.key, holder=e.holder or {}, holder_session=e.session)
    except BaseException:
        stop_keeper(keeper_pid, session)
        client.session_destroy(session)
        raise
    entry, _index = client.kv_get(lock.key)
    result = dict(changed=True, key=lock.key, session=session, holder=holder, waited=round(waited, 3),
                  held=seen["held"], lock_index=int((entry or {}).get("LockIndex") or 0))
    if keeper_pid:
        result["keeper_pid"] = keeper_pid
    return result


def release(module, client, lock):
    params = module.params
    holding, current, _index = lock.state()
    session = params["session"]
    if not session:
        if not params["force"]:
            module.fail_json(msg="state=released needs the session returned by the acquire (or force=true)")
        session = holding
        if not session:
            return dict(changed=False, key=lock.key, holder=current or {})
    known = client.session_info(session) is not None
    changed = holding == session or known
    if changed and not module.check_mode:
        lock.release(session)
        if holding == session and isinstance(current, dict):
            stop_keeper(current.get("keeper_pid"), session)
    return dict(changed=changed, key=lock.key, session=session, holder=current or {})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            stack=dict(type="str", required=True),
            state=dict(type="str", choices=["acquired", "released"], default="acquired"),
            ttl=dict(type="int", default=30),
            wait_timeout=dict(type="int", default=60),
            holder=dict(type="dict", default={}),
            session=dict(type="str"),
            force=dict(type="bool", default=False),
            keeper=dict(type="bool", default=True),
            **CONSUL_ARGSPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        lock = DeployLock(ConsulClient.from_params(params), validate_stack(params["stack"]))
        if params["state"] == "acquired":
            result = acquire(module, lock.client, lock)
        else:
            result = release(module, lock.client, lock)
    except InvalidName as e:
        module.fail_json(msg=f"consul_lock: {e}")
    except ConsulError as e:
        module.fail_json(msg=f"consul_lock for stack {params['stack']!r}: {e}", status=e.status)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
