# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Run several of the collection's modules as the steps of one action task (stack_plan, stack_start, stack_finish).

Every task costs a worker process and a templating pass, so the roles run some sequences of modules as one action.
Each step runs as a task of its module would: in the worker when it may (``_inprocess.execute_module``), with the
module defaults that apply to a task of that module (by name or by action group). A failed step raises
:class:`StepError` with a message naming the subject, the step, the module and the module's answer.
"""

from __future__ import annotations

import contextlib
import time

from ansible.errors import AnsibleError
from ansible.executor.module_common import _get_action_arg_defaults
from ansible.plugins.action import ActionBase

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
        self._templated_defaults = {}

    def module_defaults(self, name, args):
        """``args`` over the module defaults that apply to a task of module ``name``, templated.

        The steps of one action mostly share their defaults (the Consul modules' consul_address and consul_token, the
        fleet modules' fleet_endpoint...), and a default is often a chain of role variables: one set of defaults is
        templated once per action run, not once per step (the variables do not change while the action runs).
        """
        raw = {option: value for option, value in _get_action_arg_defaults(name, self.action._task,
                                                                           self.action._templar._engine).items()
               if option not in args}
        try:
            key = frozenset(raw.items())
        except TypeError:  # a list or dict default: templated for each step
            key = None
        templated = self._templated_defaults.get(key) if key is not None else None
        if templated is None:
            templated = self.action._templar.template(raw)
            if key is not None:
                self._templated_defaults[key] = templated
        return {**templated, **args}

    def __call__(self, step, leaf, args, predicting=None):
        """Run the step; ``predicting`` (True or False) overrides the runner's for this step."""
        name = f"{COLLECTION_NAME}.{leaf}"
        task = self.action._task
        args = self.module_defaults(name, args)
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


class StepsAction(ActionBase):
    """Base of the actions that run a sequence of the collection's modules (stack_plan, stack_start, stack_finish).

    A subclass gives ``ARGUMENT_SPEC`` (and ``REQUIRED_IF``), ``SUBJECT`` (formatted with the options: the start of
    the error messages), ``PREDICTING`` (every module in check mode) and :meth:`sequence`, which runs the steps and
    keeps their results in ``done`` as they end. The task's result holds ``done`` (also when a step failed: what
    ended before it), ``changed`` (:meth:`changed`) and ``elapsed``. A failed step, or an AnsibleError of
    :meth:`prepare` or :meth:`sequence`, fails the task with a message that starts with the subject.
    """

    TRANSFERS_FILES = False
    _supports_check_mode = True
    ARGUMENT_SPEC: dict = {}
    REQUIRED_IF: list = []
    SUBJECT = ""
    PREDICTING = False

    def prepare(self, options):
        """Adjust ``options`` before the steps run (raise AnsibleError to fail the task)."""

    def sequence(self, options, steps, done):
        raise NotImplementedError

    def changed(self, done):
        """Whether the steps changed something: one of them reported a change."""
        return any(step.get("changed") for step in done.values() if isinstance(step, dict))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars if task_vars is not None else {}
        _validation, options = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC,
                                                           required_if=self.REQUIRED_IF)
        subject = self.SUBJECT.format(**options)
        started = time.monotonic()
        steps = ModuleSteps(self, task_vars, subject, predicting=self.PREDICTING)
        done = {}
        try:
            self.prepare(options)
            self.sequence(options, steps, done)
        except StepError as exc:
            result.update({k: v for k, v in exc.result.items() if k not in ("msg", "changed")})
            result.update(failed=True, msg=str(exc))
        except AnsibleError as exc:  # options the action refuses, a unit the filters refuse (name, syntax, [X-Fleet])
            result.update(failed=True, msg=f"{subject}: {exc.message}")
        result.update(done)
        result["changed"] = self.changed(done)
        result["elapsed"] = round(time.monotonic() - started, 3)
        return steps.report(result)
