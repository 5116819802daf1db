# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.

"""One-off tasks: the oneshot unit that runs a command on one machine and reports through Consul KV.

The task unit is named ``<stack>-task-<task>-<suffix>@<version>.service`` (``suffix``: 8 random hex
characters, so two runs of the same task never collide). Its ExecStart decodes the command (base64,
in ``HOUSTON_TASK_COMMAND_<n>`` Environment= lines of at most ~1 KiB each), runs it with ``/bin/sh``
(output and errors to one file), then writes the last ``output_limit`` bytes of that output and the
exit status through the machine's local Consul agent (``$CONSUL_HTTP_ADDR``) to
``houston/<stack>/tasks/<unit>/output`` and ``.../status``. ExecStopPost stores whatever output there
is with status ``stopped`` when the command did not finish (the unit was stopped: timeout, machine
loss), or retries storing the real status when the first write failed. A Consul token is read at run
time from ``/etc/houston/consul-token`` when the file exists; it is never part of the unit.

Only sh, curl, base64, tail, mkdir and rm are used (CoreOS userland). Every line of the unit stays
below MAX_UNIT_LINE bytes.
"""

from __future__ import annotations

import base64
import re
import secrets
import shlex

from ansible_collections.houston.stack.plugins.module_utils._naming import (
    InvalidName, MARKER_SECTION, marker_options, unit_name, validate_stack, validate_version,
)

TASK_KEY_ROOT = "houston"
DEFAULT_TOKEN_FILE = "/etc/houston/consul-token"
DEFAULT_OUTPUT_LIMIT = 64 * 1024
MAX_OUTPUT_LIMIT = 500 * 1024          # Consul's default kv_max_value_size is 512 KiB
MAX_COMMAND_BYTES = 32 * 1024
COMMAND_CHUNK = 1024                   # base64 characters per Environment= line (a multiple of 4)
MAX_UNIT_LINE = 1500
MAX_TASK_NAME = 50                     # "task-<name>-<8 hex>" must fit the 64 characters of a unit name
STATUS_STOPPED = "stopped"
TIMEOUT_RC = 124
REDACTED = "********"

_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAME_RE = re.compile(r"pass|secret|token|credential|private|auth|api_?key|access_?key|(^|_)key$|cert", re.I)
_URL_CREDENTIALS_RE = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
_SUFFIX_RE = re.compile(r"^[0-9a-f]{8}$")


class TaskError(ValueError):
    """A task definition the collection refuses (the message says why)."""


def new_suffix():
    """8 random hex characters making a task unit name unique."""
    return secrets.token_hex(4)


def task_unit_name(stack, task, version, suffix):
    """``<stack>-task-<task>-<suffix>@<version>.service``, every part validated by _naming."""
    if not isinstance(task, str) or len(task) > MAX_TASK_NAME:
        raise InvalidName(f"task name {task!r} must be a string of at most {MAX_TASK_NAME} characters")
    if not _SUFFIX_RE.match(suffix or ""):
        raise InvalidName(f"task suffix {suffix!r} must be 8 lowercase hex characters")
    return unit_name(stack, f"task-{task}-{suffix}", version)


def task_key_prefix(stack, unit):
    """Consul KV prefix holding a task run's results: ``houston/<stack>/tasks/<unit>/``."""
    return f"{TASK_KEY_ROOT}/{validate_stack(stack)}/tasks/{unit}/"


def command_script(command=None, argv=None):
    """The shell script the unit runs: ``command`` as is, or ``argv`` quoted word by word (no shell parsing)."""
    if (command is None) == (argv is None):
        raise TaskError("give exactly one of command (a shell command line) and argv (a list of words)")
    if argv is not None:
        if not argv or not all(isinstance(w, str) for w in argv):
            raise TaskError("argv must be a non-empty list of strings")
        if argv[0] == "":
            raise TaskError("argv[0] (the program) must not be empty")
        script = "exec " + " ".join(shlex.quote(w) for w in argv)
    else:
        if not isinstance(command, str) or not command.strip():
            raise TaskError("command must be a non-empty string")
        script = command
    if not script.endswith("\n"):
        script += "\n"
    size = len(script.encode("utf-8"))
    if size > MAX_COMMAND_BYTES:
        raise TaskError(f"the command is {size} bytes long; at most {MAX_COMMAND_BYTES} are allowed (ship a script as a file)")
    return script


def looks_secret(name, value):
    """True for an environment entry whose name (or a URL with credentials in its value) suggests a secret."""
    return bool(_SECRET_NAME_RE.search(name)) or bool(_URL_CREDENTIALS_RE.search(str(value)))


def _systemd_quote(text):
    """Double-quoted systemd word: backslash, quote, newline escaped; % doubled (specifiers)."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t").replace("%", "%%"))
    return f'"{escaped}"'


def environment_lines(environment):
    """(lines, secret names) for the user's environment: ``Environment="NAME=value"`` lines, validated."""
    lines, secret = [], []
    for name in sorted(environment or {}):
        value = environment[name]
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            raise TaskError(f"environment variable name {name!r} is invalid: use letters, digits and '_', not starting with a digit")
        if name.startswith("HOUSTON_TASK_"):
            raise TaskError(f"environment variable {name!r}: names starting with HOUSTON_TASK_ are reserved for the task unit")
        if value is None:
            value = ""
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif not isinstance(value, (str, int, float)):
            raise TaskError(f"environment variable {name!r}: value must be a string or a number, got {type(value).__name__}")
        value = str(value)
        line = "Environment=" + _systemd_quote(f"{name}={value}")
        if len(line.encode("utf-8")) >= MAX_UNIT_LINE:
            raise TaskError(f"environment variable {name!r} is too long for one unit line ({len(line)} bytes, the limit is {MAX_UNIT_LINE})")
        lines.append((name, value, line))
        if looks_secret(name, value):
            secret.append(name)
    return lines, secret


# Shell for the unit. systemd expands $VAR and %x itself, so every shell dollar is written $$, and there is no
# % and no backslash; single quotes only delimit the sh -c script.
_PATHS = 'r=$${FLEETLAB_ROOT:-}; d=$$r/var/tmp/houston-tasks; f=$$d/$$HOUSTON_TASK_UNIT; '

_PRELUDE = _PATHS + (
    'a=$${CONSUL_HTTP_ADDR:-127.0.0.1:8500}; case "$$a" in *://*) ;; *) a=http://$$a ;; esac; '
    'tf=$$r$$HOUSTON_TASK_TOKEN_FILE; '
    'c() { t=; if [ -r "$$tf" ]; then read -r t < "$$tf"; fi; '
    'if [ -n "$$t" ]; then echo "header = X-Consul-Token:$$t"; fi | '
    'curl -K - -fsS -o /dev/null --retry 10 --retry-delay 1 --retry-connrefused --max-time 60 -X PUT "$$@"; }; '
    'up() { tail -c "$$HOUSTON_TASK_OUTPUT_LIMIT" "$$f.out" > "$$f.tail" 2>/dev/null || : > "$$f.tail"; '
    'c --data-binary "@$$f.tail" "$$a/v1/kv/$$HOUSTON_TASK_KEY/output" '
    '&& c --data-binary "$$1" "$$a/v1/kv/$$HOUSTON_TASK_KEY/status"; }; '
)

# ExecStartPre lines: a fresh directory, then one line per base64 part of the command (parts are a multiple of
# 4 characters long, so each decodes on its own).
_PREPARE = _PATHS + 'mkdir -p "$$d" && rm -f "$$f.cmd" "$$f.out" "$$f.tail" "$$f.rc" "$$f.done" && : > "$$f.cmd"'
_DECODE = _PATHS + 'echo "$$HOUSTON_TASK_COMMAND_@N@" | base64 -d >> "$$f.cmd"'

_RUN = (
    'sh "$$f.cmd" > "$$f.out" 2>&1 < /dev/null; rc=$$?; echo "$$rc" > "$$f.rc"; '
    'echo "task $$HOUSTON_TASK exited with status $$rc"; '
    'up "$$rc" || { echo "cannot store the result of task $$HOUSTON_TASK in Consul at $$a" >&2; exit 1; }; '
    ': > "$$f.done"'
)

_STOP_POST = (
    'if [ ! -e "$$f.done" ] && [ -e "$$f.cmd" ]; then s=@STOPPED@; if [ -s "$$f.rc" ]; then read -r s < "$$f.rc"; fi; '
    'echo "task $$HOUSTON_TASK: storing status $$s"; up "$$s"; fi; rm -f "$$f.cmd" "$$f.out" "$$f.tail" "$$f.rc" "$$f.done"'
)


def machine_options(machine_id=None, metadata=None):
    """[X-Fleet] options choosing the machine: MachineID, or MachineMetadata (a list value means any of them)."""
    if machine_id and metadata:
        raise TaskError("give machine_id or metadata, not both")
    options = []
    if machine_id:
        if not re.match(r"^[0-9a-f]{32}$", machine_id):
            raise TaskError(f"machine id {machine_id!r} must be a full 32 hex character fleet machine id")
        options.append({"section": "X-Fleet", "name": "MachineID", "value": machine_id})
    for key in sorted(metadata or {}):
        values = metadata[key]
        values = values if isinstance(values, list) else [values]
        for value in values:
            pair = f"{key}={value}"
            if not re.match(r"^[A-Za-z0-9._-]+=[A-Za-z0-9._:/-]+$", pair):
                raise TaskError(f"metadata {pair!r} must look like key=value (letters, digits, . _ - : /)")
            options.append({"section": "X-Fleet", "name": "MachineMetadata", "value": pair})
    return options


def task_options(stack, version, task, unit, script, environment=None, machine_id=None, metadata=None,
                 output_limit=DEFAULT_OUTPUT_LIMIT, timeout=600, token_file=DEFAULT_TOKEN_FILE):
    """The task unit as fleet options, and the names of environment variables that look secret."""
    validate_stack(stack)
    validate_version(version)
    if not 1 <= int(output_limit) <= MAX_OUTPUT_LIMIT:
        raise TaskError(f"output_limit {output_limit} must be between 1 and {MAX_OUTPUT_LIMIT} bytes (Consul's value limit)")
    if token_file and (not token_file.startswith("/") or not re.match(r"^[A-Za-z0-9._/-]+$", token_file)):
        raise TaskError(f"token_file {token_file!r} must be an absolute path of [A-Za-z0-9._/-]")
    encoded = base64.b64encode(script.encode("utf-8")).decode("ascii")
    parts = [encoded[i:i + COMMAND_CHUNK] for i in range(0, len(encoded), COMMAND_CHUNK)] or [""]
    env_lines, secret = environment_lines(environment)

    def svc(name, value):
        return {"section": "Service", "name": name, "value": value}

    options = [
        {"section": "Unit", "name": "Description", "value": f"houston.stack task {task} of stack {stack} version {version}"},
        svc("Type", "oneshot"),
        svc("RemainAfterExit", "no"),
        # a safety net when the controller goes away: systemd stops the task a minute after the module's deadline
        svc("TimeoutStartSec", str(int(timeout) + 60)),
        svc("Environment", f"HOUSTON_STACK={stack}"),
        svc("Environment", f"HOUSTON_VERSION={version}"),
        svc("Environment", f"HOUSTON_TASK={task}"),
        svc("Environment", f"HOUSTON_TASK_UNIT={unit}"),
        svc("Environment", f"HOUSTON_TASK_KEY={task_key_prefix(stack, unit).rstrip('/')}"),
        svc("Environment", f"HOUSTON_TASK_OUTPUT_LIMIT={int(output_limit)}"),
        svc("Environment", f"HOUSTON_TASK_TOKEN_FILE={token_file or '/nonexistent'}"),
    ]
    options += [svc("Environment", f"HOUSTON_TASK_COMMAND_{i}={part}") for i, part in enumerate(parts)]
    options += [svc("Environment", line[len("Environment="):]) for _name, _value, line in env_lines]
    options.append(svc("ExecStartPre", "/bin/sh -c '" + _PREPARE + "'"))
    options += [svc("ExecStartPre", "/bin/sh -c '" + _DECODE.replace("@N@", str(i)) + "'") for i in range(len(parts))]
    options.append(svc("ExecStart", "/bin/sh -c '" + _PRELUDE + _RUN + "'"))
    options.append(svc("ExecStopPost", "-/bin/sh -c '" + _PRELUDE + _STOP_POST.replace("@STOPPED@", STATUS_STOPPED) + "'"))
    options += machine_options(machine_id, metadata)
    options += marker_options(stack, version)
    options.append({"section": MARKER_SECTION, "name": "Task", "value": task})
    for opt in options:
        line = f"{opt['name']}={opt['value']}"
        if len(line.encode("utf-8")) >= MAX_UNIT_LINE:
            raise TaskError(f"task unit line [{opt['section']}] {opt['name']} would be {len(line)} bytes (limit {MAX_UNIT_LINE})")
    return options, secret


def redact_options(options, secret_names):
    """A copy of the options with the values of secret-looking Environment= entries replaced by REDACTED."""
    result = []
    for opt in options:
        opt = dict(opt)
        if opt["section"] == "Service" and opt["name"] == "Environment" and opt["value"].startswith('"'):
            name = opt["value"][1:].partition("=")[0]
            if name in secret_names:
                opt["value"] = _systemd_quote(f"{name}={REDACTED}")
        result.append(opt)
    return result


def parse_status(raw):
    """The exit status stored by the unit: an int, or STATUS_STOPPED; None for anything else."""
    text = (raw or b"").decode("utf-8", "replace").strip()
    if text == STATUS_STOPPED:
        return STATUS_STOPPED
    if re.match(r"^[0-9]{1,3}$", text):
        return int(text)
    return None


def resolve_machine(machine_id, machines):
    """The fleet machine whose id is ``machine_id`` or starts with it (at least 8 characters, unique)."""
    wanted = str(machine_id or "").strip().lower()
    if not re.match(r"^[0-9a-f]{8,32}$", wanted):
        raise TaskError(f"machine_id {machine_id!r} must be a fleet machine id (32 hex characters) or its first 8 or more")
    found = [m for m in machines if m.get("id", "").startswith(wanted)]
    known = ", ".join(sorted(m.get("id", "")[:8] for m in machines)) or "none"
    if not found:
        raise TaskError(f"no fleet machine has id {machine_id!r} (machines: {known})")
    if len(found) > 1:
        raise TaskError(f"machine_id {machine_id!r} matches {len(found)} machines; give more characters")
    return found[0]
