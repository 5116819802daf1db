# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""The start of a deploy under its lock (houston.stack.stack_start): record the start, store the file archive, stop
the units that restart after a replaced unit they require.

The stack_deploy role ran these as three tasks; each task is a worker process and a templating pass (30-80 ms), so
they are one action running the same modules, in the same order, through ``run``. :func:`start_stack` holds the
sequence apart from ansible's plumbing, so it is tested with any ``run``.
"""

from __future__ import annotations

SKIPPED = {"skipped": True, "changed": False}


def start_stack(options, run, done=None):
    """Start the deploy of ``options['stack']``; ``run(step, module, args)`` runs a module of the collection.

    ``run`` returns the module's result, or raises (``_module_steps.StepError``) naming ``step``. Returns each step's
    result: ``history`` (the entry recorded as running), ``archive`` (skipped without ``files``) and ``stopped``
    (``units``: one result per unit of ``restart``, stopped last first). They are kept in ``done`` as the steps end, so a caller
    catching a failed step still has the history entry to record as failed.
    """
    stack = options["stack"]
    done = {} if done is None else done
    done.update(history=dict(SKIPPED), archive=dict(SKIPPED), stopped={"changed": False, "units": []})
    history_args = {"stack": stack, "version": options["version"], "action": "start", "units": options["units"]}
    if options["archive"]:
        history_args["archive"] = options["archive"]
    done["history"] = run("recording the start of the deploy", "consul_history", history_args)
    if options["files"]:
        done["archive"] = run("storing the file archive in Consul", "consul_archive",
                              {"stack": stack, "files": options["files"], "protect": options["protect"]})
    # Units that require a replaced unit: stopped now (loaded, not running), the launch starts them after it.
    for unit in reversed(options["restart"]):
        stopped = run(f"stopping {unit['fleet_name']}, which restarts after a replaced unit", "fleet_unit", {
            "name": unit["fleet_name"], "content": unit["content"], "state": "loaded", "wait": True,
            "wait_timeout": options["wait_timeout"]})
        done["stopped"]["units"].append(stopped)
        done["stopped"]["changed"] = done["stopped"]["changed"] or bool(stopped.get("changed"))
    return done
