# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The modules a stack action runs as steps, answered from data: what the tests of stack_plan, stack_start and
stack_finish give as each module's result, and the calls the action made."""
from __future__ import annotations


class ModuleAnswers:
    """``run(step, module, args)`` as ``_module_steps.ModuleSteps`` is called: returns ``ANSWERS[module]`` (or the
    answer given to the constructor), raising it when it is an exception; records the calls in ``calls``. An answer
    given as a tuple answers the module's successive calls in turn (the last one answers the calls after it)."""

    ANSWERS: dict = {}

    def __init__(self, **answers):
        self.answers = {**self.ANSWERS, **answers}
        self.calls = []
        self.predicting = {}

    def __call__(self, step, module, args, predicting=None):
        self.calls.append((step, module, args))
        self.predicting[module] = predicting
        answer = self.answers[module]
        if isinstance(answer, tuple):
            calls = sum(1 for _step, called, _args in self.calls if called == module)
            answer = answer[min(calls, len(answer)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)

    def modules(self):
        return [module for _step, module, _args in self.calls]

    def args(self, module):
        return next(args for _step, called, args in self.calls if called == module)

    def all_args(self, module):
        return [args for _step, called, args in self.calls if called == module]
