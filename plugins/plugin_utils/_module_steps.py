# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Run several of the collection's modules as the steps of one action task (stack_plan, stack_finish).

Every task costs a worker process and a templating pass, so the roles run some sequences of modules as one action.
Each step runs as a task of its module would: in the worker when it may (``_inprocess.execute_module``), with the
module defaults that apply to a task of that module (by name or by action group). A failed step raises
:class:`StepError` with a message naming the subject, the step, the module and the module's answer.
"""

from __future__ import annotations

import contextlib

from ansible.executor.module_common import _apply_action_arg_defaults

from ansible_collections.houston.stack.plugins.plugin_utils._inprocess import COLLECTION_NAME, execute_module


class StepError(Exception):
    """A step failed; ``result`` is the failed module's result (warnings included)."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result or {}


@contextlib.contextmanager
def _predicting(task):
    """Check mode and no diff for the modules, whatever the task says."""
    saved = task.check_mode, task.diff
    task.check_mode, task.diff = True, False
    try:
        yield
    finally:
        task.check_mode, task.diff = saved


class ModuleSteps:
    """``steps(step, leaf, args)`` runs module ``houston.stack.<leaf>`` for ``action``'s task; returns its result.

    ``subject`` starts the error messages (``plan of stack X``); ``predicting`` runs the modules in check mode.
    Warnings and deprecations of all steps are gathered for :meth:`report`.
    """

    def __init__(self, action, task_vars, subject, predicting=False):
        self.action = action
        self.task_vars = task_vars
        self.subject = subject
        self.predicting = predicting
        self.warnings = []
        self.deprecations = []

    def __call__(self, step, leaf, args, predicting=None):
        """Run the step; ``predicting`` (True or False) overrides the runner's for this step."""
        name = f"{COLLECTION_NAME}.{leaf}"
        task = self.action._task
        args = _apply_action_arg_defaults(name, task, args, self.action._templar)
        predict = self.predicting if predicting is None else predicting
        with _predicting(task) if predict else contextlib.nullcontext():
            outcome = execute_module(self.action, name, args, self.task_vars)
        self.warnings.extend(outcome.pop("warnings", None) or [])
        self.deprecations.extend(outcome.pop("deprecations", None) or [])
        outcome.pop("invocation", None)
        if outcome.get("failed"):
            raise StepError(f"{self.subject}, {step} ({name}): {outcome.get('msg', 'failed')}", outcome)
        return outcome

    def report(self, result):
        """Add the steps' warnings and deprecations to the action's ``result``."""
        if self.warnings:
            result["warnings"] = self.warnings
        if self.deprecations:
            result["deprecations"] = self.deprecations
        return result
