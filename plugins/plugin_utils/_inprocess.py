# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""Run the collection's modules inside the task worker instead of a new Python interpreter.

Every module task normally pays the AnsiballZ start-up: a payload written to disk, a new interpreter,
ansible's module_utils imported again. The collection's modules talk to fleet and Consul over HTTP and
run on the controller, so when the task's connection is local and the module's interpreter would be the
controller's own Python, :func:`execute_module` imports the module and runs its ``main()`` in the forked
task worker, the way AnsiballZ's loader runs it in its own process:

* the arguments are the ones ``_execute_module`` sends (``ActionBase._update_module_args``: check mode,
  diff, no_log, verbosity, remote_tmp, keep_remote_files...), JSON-encoded with the module's
  serialization profile and handed over through ``ansible.module_utils.basic._ANSIBLE_ARGS``;
* while it runs, the process is in target mode (``ansible.module_utils._internal.is_controller`` false,
  module-side traceback switches), so warnings and deprecations are recorded in the result, not
  displayed, and the task's ``environment:`` is applied to ``os.environ``;
* what the module prints (its JSON result and any stray output) is captured, never leaked, and goes
  through ``ActionBase._parse_returned_data`` and the same post-processing as ``_execute_module``: the
  result is the one the module would have returned through AnsiballZ, masked by the module's own
  no_log handling;
* every piece of process state a module run touches (environment, working directory, locale, urllib's
  global opener installed by ``open_url``, module_utils globals, stdout/stderr) is restored afterwards,
  so consecutive runs in one worker (loops) do not see each other.

Anything else (a remote host, become, async, another interpreter, or ``HOUSTON_STACK_IN_PROCESS=0`` in
the controller's environment) goes through the normal ``_execute_module``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import locale
import os
import shutil
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Sequence

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils import _internal
from ansible.module_utils import basic
from ansible.module_utils._internal import _traceback
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.common.json import Direction, get_module_encoder
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash
from ansible.vars.clean import remove_internal_keys

display = Display()

IN_PROCESS_ENV = "HOUSTON_STACK_IN_PROCESS"
"""Controller environment variable: ``0`` (or false/no/off) runs every module through AnsiballZ."""

COLLECTION_PACKAGE = __name__.split(".plugins.", 1)[0]  # ansible_collections.houston.stack
COLLECTION_NAME = ".".join(COLLECTION_PACKAGE.split(".")[1:3])  # houston.stack

_DISABLED = ("0", "false", "no", "off")
_AUTO_INTERPRETERS = ("", "auto", "auto_legacy", "auto_silent", "auto_legacy_silent")
_SERIALIZATION_PROFILE = "legacy"  # the profile modify_module gives modules without METADATA (all of ours)


def _same_interpreter(path):
    """True when ``path`` runs the controller's Python with the controller's packages (same venv)."""
    path = os.path.abspath(os.path.expanduser(path))
    controller = os.path.abspath(sys.executable)
    if os.path.realpath(os.path.dirname(path)) != os.path.realpath(os.path.dirname(controller)):
        return False  # a venv's python and the base python it links to see different packages
    try:
        return os.path.samefile(path, controller)
    except OSError:
        return False


def _host_vars(action, task_vars):
    if action._task.delegate_to:
        delegated = (task_vars.get("ansible_delegated_vars") or {}).get(action._task.delegate_to)
        if delegated is not None:
            return delegated
    return task_vars


def in_process_refusal(action, task_vars):
    """Why the module of ``action``'s task cannot run in the worker, or None when it can."""
    setting = os.environ.get(IN_PROCESS_ENV, "1").strip().lower()
    if setting in _DISABLED:
        return f"{IN_PROCESS_ENV}={setting}"
    if action._task.async_val:
        return "async task"
    if getattr(action._connection, "transport", None) != "local":
        return f"connection {getattr(action._connection, 'transport', None)!r} is not local"
    if getattr(action._play_context, "become", False):
        return "become is set"
    host_vars = _host_vars(action, task_vars)
    try:
        configured = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
        templar = action._templar.copy_with_new_env(available_variables=host_vars)
        interpreter = templar.template(configured)
    except Exception as e:  # pylint: disable=broad-exception-caught
        return f"cannot resolve the Python interpreter: {e}"
    interpreter = "" if interpreter is None else str(interpreter).strip()
    if interpreter in _AUTO_INTERPRETERS:
        interpreter = str((host_vars.get("ansible_facts") or {}).get("discovered_interpreter_python") or "")
        if not interpreter:
            # Not chosen by the user and not discovered yet: these modules need the standard library
            # only, so the controller's Python is as good as the one discovery would pick.
            return None
    if not _same_interpreter(interpreter):
        return f"interpreter {interpreter} is not the controller's {sys.executable}"
    return None


@contextlib.contextmanager
def _target_process(environment, tmpdir):
    """Make the worker look like a module process for the duration of one run, then restore it."""
    saved_environ = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_locale = locale.setlocale(locale.LC_ALL)
    saved_opener = urllib.request._opener  # open_url installs its own (bound to a unix socket, for instance)
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    saved_basic = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, basic._PARSED_MODULE_ARGS)
    saved_controller = _internal.is_controller
    saved_tb = (_traceback._is_traceback_enabled, _traceback._module_tracebacks_enabled_events)
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        os.environ.update({str(k): str(v) for k, v in environment.items() if v is not None})
        module_warnings._global_warnings.clear()
        module_warnings._global_deprecations.clear()
        _internal.is_controller = False
        _traceback._is_traceback_enabled = _traceback._is_module_traceback_enabled
        _traceback._module_tracebacks_enabled_events = None
        sys.stdout, sys.stderr = stdout, stderr
        yield stdout, stderr
    finally:
        sys.stdout, sys.stderr = saved_stdout, saved_stderr
        _traceback._is_traceback_enabled, _traceback._module_tracebacks_enabled_events = saved_tb
        _internal.is_controller = saved_controller
        module_warnings._global_warnings.clear()
        module_warnings._global_deprecations.clear()
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE, basic._PARSED_MODULE_ARGS = saved_basic
        urllib.request._opener = saved_opener
        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_ALL, saved_locale)
        with contextlib.suppress(OSError):
            os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _report_exception(exception, profile):
    """Print the result AnsiballZ's loader prints for an exception escaping the module, and exit 1."""
    try:
        from ansible.module_utils._internal._ansiballz import _loader  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - the loader moved: a plain equivalent
        encoder = get_module_encoder(profile, Direction.MODULE_TO_CONTROLLER)
        print(json.dumps(dict(failed=True, msg=f"{type(exception).__name__}: {exception}",
                              exception="".join(traceback.format_exception(exception))), cls=encoder))
        sys.exit(1)
    _loader._handle_exception(exception, profile)


def _exit_code(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
    return 1


def _run_main(module_fqn, params, profile):
    """Run the module's main() as AnsiballZ would: returns its exit code and the path of its file."""
    basic._ANSIBLE_ARGS = params
    basic._ANSIBLE_PROFILE = profile
    basic._PARSED_MODULE_ARGS = None
    path = None
    try:
        try:
            module = importlib.import_module(module_fqn)
            path = getattr(module, "__file__", None)
            module.main()
            raise RuntimeError("New-style module did not handle its own exit.")
        except SystemExit:
            raise
        except Exception as e:  # pylint: disable=broad-exception-caught
            _report_exception(e, profile)
    except SystemExit as done:
        return _exit_code(done.code), path
    return 1, path  # pragma: no cover - _report_exception always exits


def _module_tmpdir(action):
    """A private temporary directory for the module (AnsibleModule.tmpdir), under remote_tmp like AnsiballZ's."""
    remote_tmp = action.get_shell_option("remote_tmp", default="~/.ansible/tmp")
    base = os.path.expanduser(os.path.expandvars(remote_tmp))
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        return tempfile.mkdtemp(prefix="ansible-inprocess-", dir=base)
    except OSError:
        return tempfile.mkdtemp(prefix="ansible-inprocess-")


def run_in_process(action, module_name, module_args, task_vars):
    """Run ``module_name`` (``houston.stack.<leaf>``) in this process; the result ``_execute_module`` would return."""
    leaf = module_name.rsplit(".", 1)[-1]
    module_fqn = f"{COLLECTION_PACKAGE}.plugins.modules.{leaf}"
    action._update_module_args(module_name, module_args, task_vars)
    tmpdir = _module_tmpdir(action)
    module_args["_ansible_tmpdir"] = tmpdir
    keep = bool(module_args.get("_ansible_keep_remote_files"))
    profile = _SERIALIZATION_PROFILE
    encoder = get_module_encoder(profile, Direction.CONTROLLER_TO_MODULE)
    try:
        params = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args), cls=encoder).encode()
    except TypeError as e:
        raise AnsibleError(f"Failed to serialize arguments for the {module_name!r} module.") from e
    environment = {}
    action._compute_environment_string(environment)
    started = time.monotonic()
    with _target_process(environment, None if keep else tmpdir) as (stdout, stderr):
        rc, path = _run_main(module_fqn, params, profile)
    display.vvv(f"houston.stack: ran {module_name} in-process from {path} (rc={rc}, {time.monotonic() - started:.3f}s)",
                host=action._play_context.remote_addr)

    data = action._parse_returned_data(dict(rc=rc, stdout=stdout.getvalue(), stderr=stderr.getvalue()), profile)
    # the rest of ActionBase._execute_module's post-processing
    if data.pop("_ansible_suppress_tmpdir_delete", False):
        action._cleanup_remote_tmp = False
    if "results" in data and (not isinstance(data["results"], Sequence) or isinstance(data["results"], str)):
        data["ansible_module_results"] = data.pop("results")
        display.warning("Found internal 'results' key in module return, renamed to 'ansible_module_results'.")
    remove_internal_keys(data)
    for stream in ("stdout", "stderr"):
        if stream in data and f"{stream}_lines" not in data:
            data[f"{stream}_lines"] = (data.get(stream) or "").splitlines()
    return data


def execute_module(action, module_name, module_args, task_vars):
    """Run a module of this collection for ``action``: in this process when it may, else through AnsiballZ."""
    refusal = in_process_refusal(action, task_vars)
    if refusal is None:
        return run_in_process(action, module_name, module_args, task_vars)
    display.vvvv(f"houston.stack: {module_name} through AnsiballZ: {refusal}", host=action._play_context.remote_addr)
    wrap_async = bool(action._task.async_val and not action._connection.has_native_async)
    result = action._execute_module(module_name=module_name, module_args=module_args, task_vars=task_vars,
                                    wrap_async=wrap_async)
    if not wrap_async:
        action._remove_tmp_path(action._connection._shell.tmpdir)
    return result


def preload(leaf):
    """Import module ``leaf`` (and so its module_utils and ansible's urls) ahead of time, best effort.

    Strategies load the action class in the controller process before forking the task workers, so what
    is imported here is inherited by every worker instead of being imported again by each one.
    """
    with contextlib.suppress(Exception):
        importlib.import_module(f"{COLLECTION_PACKAGE}.plugins.modules.{leaf}")


class ModuleAction(ActionBase):
    """Base of the collection's thin action plugins: run module ``MODULE`` with the task's arguments."""

    MODULE = ""
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.MODULE:
            preload(cls.MODULE)

    @property
    def module_name(self):
        return f"{COLLECTION_NAME}.{self.MODULE}"

    def run_module(self, module_args, task_vars):
        """The module's result for ``module_args`` (a dict this call may extend with ``_ansible_*`` keys)."""
        return execute_module(self, self.module_name, module_args, task_vars)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars if task_vars is not None else {}
        return merge_hash(result, self.run_module(dict(self._task.args), task_vars))
