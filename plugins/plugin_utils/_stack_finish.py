# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The end of a deploy once its units run (houston.stack.stack_finish): verify in Consul, prune, record success,
release the deploy lock.

The stack_deploy role ran these as three tasks; each task is a worker process and a templating pass (30-80 ms),
so they are one action running the same modules, in the same order, through ``run``. :func:`finish_stack` holds
the sequence apart from ansible's plumbing, so it is tested with any ``run``.
"""

from __future__ import annotations

from ansible_collections.houston.stack.plugins.plugin_utils._module_steps import StepError

SKIPPED = {"skipped": True, "changed": False}


def prune_arguments(stack, kind, keep, max_remove):
    """fleet_prune's arguments for a deploy: the stack's units but ``keep`` (a global stack's have no name prefix)."""
    args = {"stack": stack, "keep": keep, "keep_versions": 0, "max_remove": max_remove}
    if kind == "global":
        args["prefix"] = ""
    return args


def finish_stack(options, run, check_mode=False, done=None):
    """Finish the deploy of ``options['stack']``; ``run(step, module, args)`` runs a module of the collection.

    ``run`` returns the module's result, or raises (``_module_steps.StepError``) naming ``step``; the steps after a
    failed one do not run, so nothing is pruned or recorded as successful after a failed wait. Returns each step's
    result: ``consul`` (skipped without ``wait_consul`` and in check mode), ``prune`` (a prediction in check mode),
    ``history`` (skipped in check mode, where the start entry was only predicted) and ``lock`` (see
    :func:`release_lock`; skipped without ``lock_session`` and in check mode). They are kept in ``done`` as the
    steps end, so a caller catching a failed step still has the results of the steps before it.
    """
    stack, version = options["stack"], options["version"]
    done = {} if done is None else done
    done.update(consul=dict(SKIPPED), prune=dict(SKIPPED), history=dict(SKIPPED), lock=dict(SKIPPED))
    if options["wait_consul"] and not check_mode:
        done["consul"] = run("waiting until the service passes in Consul", "consul_service_wait", {
            "service": options["consul_service"], "tag": version,
            "expected_addresses": options["expected_addresses"], "wait_timeout": options["consul_wait_timeout"]})
    done["prune"] = run("pruning the stack's other versions", "fleet_prune",
                        prune_arguments(stack, options["kind"], options["keep"], options["max_remove"]))
    if not check_mode:
        history_args = {"stack": stack, "version": version, "action": "finish", "result": "success",
                        "units": options["units"]}
        for option, arg in (("history_id", "id"), ("archive", "archive")):
            if options[option]:
                history_args[arg] = options[option]
        done["history"] = run("recording the deploy as successful", "consul_history", history_args)
        if options.get("lock_session"):
            done["lock"] = release_lock(stack, options["lock_session"], run)
    return done


def release_lock(stack, session, run):
    """Release the deploy lock held by ``session`` once the deploy is recorded (``released: true``).

    The deploy is done by then, so a release that fails does not fail it: the result says why (``released: false``,
    ``msg``), and the role's ``always:`` release, which runs unless the lock was released here, tries again and fails
    the play naming Consul's answer.
    """
    try:
        result = run("releasing the deploy lock", "consul_lock", {"stack": stack, "state": "released", "session": session})
    except StepError as exc:
        return {"released": False, "changed": False, "msg": str(exc)}
    return dict(result, released=True)
