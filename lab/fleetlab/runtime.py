# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleetlab's process runtime: fleet units run as real local processes under a systemd subset.

One ``ProcessRuntime`` plays systemd for every lab machine at once. Units are keyed by
``(machine_id, unit_name)``; each loaded unit has a driver thread that performs its start and stop
jobs, so ``start()``/``stop()`` return at once and state changes arrive through the ``report``
callback, in order, from a single reporter thread (never with the runtime lock held, so the server
may hold its own lock while calling the runtime and take it again inside the callback).

The systemd subset, and how it differs from systemd:

* ``[Unit]`` ``Requires=``, ``BindsTo=``, ``Wants=``, ``After=``, ``Before=`` among units loaded
  on the same machine; units not loaded there (``After=docker.service``) are ignored. Starting a
  unit pulls in (starts) its ``Requires=``/``Wants=``/``BindsTo=`` units. A start waits (in
  ``inactive/dead``, as systemd's queued job) until every ``After=`` unit loaded on the machine is
  active, or for a oneshot without RemainAfterExit has finished successfully, bounded by
  ``TimeoutStartSec``. A failed required unit it is ordered after, or the timeout, fails the start
  (``failed/failed``; systemd would leave the unit ``inactive/dead`` with result "dependency", the
  failed triple is more useful to fleet clients). When a ``Requires=`` unit fails or is stopped
  (``stop``/``unload``), its dependents are stopped (first, when ordered after it); ``BindsTo=``
  dependents are also stopped when the unit exits by itself. ``StartLimitBurst=``,
  ``StartLimitIntervalSec=``.
* ``[Service]`` ``Type=simple|exec|oneshot|forking|notify|dbus|idle``: notify, exec, dbus and idle
  behave as simple (active as soon as ExecStart is spawned); forking is best effort (ExecStart must
  exit 0, then the daemon, ``PIDFile=`` or else the oldest process of the unit, is polled; its exit
  status is unknown so its end counts as success). ``ExecStartPre=``, ``ExecStart=``,
  ``ExecStartPost=``, ``ExecStop=``, ``ExecStopPost=``: repeatable, an empty value resets the list,
  prefixes ``-`` (failure ignored), ``@`` (argv[0] given separately), ``:`` (no variable expansion),
  ``+``/``!``/``!!`` (tolerated, no effect), systemd command-line quoting and C escapes, ``;``
  between commands, ``$VAR`` (a word of its own: split at whitespace) and ``${VAR}`` (inside a
  word) expansion, ``$$`` for a dollar; a relative executable is looked up in ``PATH``.
  ``RemainAfterExit=``, ``Restart=no|on-success|on-failure|on-abnormal|on-abort|always`` with
  ``RestartSec=`` (default 100ms) and the start limit (5 automatic restarts within 10s, then
  ``failed``), ``TimeoutStartSec=``, ``TimeoutStopSec=``, ``TimeoutSec=`` (default 90s, see the
  constructor; ``0``/``infinity`` disable), ``Environment=`` (quoted words, ``"A=1 B=2"``),
  ``EnvironmentFile=`` (``-`` prefix: missing file ignored; globs; read at each start; overrides
  Environment=), ``WorkingDirectory=`` (default: the machine root; ``-`` prefix, ``~``),
  ``KillSignal=``, ``SuccessExitStatus=``. Relative paths in EnvironmentFile=/WorkingDirectory=/
  PIDFile= are taken under the machine root (systemd refuses them). Other options are ignored.
* Loading a loaded unit again replaces its options for the next start (``daemon-reload``); loading a
  unit that is still stopping after ``unload()`` creates a new incarnation that starts only once
  the old one is gone.
* Specifiers ``%n %N %p %P %i %I %j %J %f %m %H %l %b %v %h %u %U %g %G %s %T %V %t %S %C %L %E %%``
  in every [Unit]/[Service] value (``%m`` = machine id, ``%H`` = the machine's host name
  ``machine-<n>``, ``%b`` = a boot id per runtime; the system directories ``%t %S %C %L %E`` are
  ``run``, ``var/lib``, ``var/cache``, ``var/log``, ``etc`` under the machine root); an unknown
  specifier fails the start, naming it in the unit's log.
* Environment of every process: ``PATH`` (with the directory of the lab's own Python first, so
  ``python3`` is the lab's interpreter), ``HOME``, ``LANG`` of the lab process,
  ``COREOS_PUBLIC_IPV4``/``COREOS_PRIVATE_IPV4`` (machine IP), ``FLEETLAB_ROOT`` (machine root),
  ``CONSUL_HTTP_ADDR`` (``<machine ip>:8500`` or the machine's ``consul`` entry),
  ``FLEETLAB_MACHINE_ID``, then the ``env`` given to ``load()``, then Environment=/EnvironmentFile=.
  systemd's ``INVOCATION_ID`` is set (and used to find every process of the unit, even one that
  left the process group), ``MAINPID`` for ExecStartPost/ExecStop, and ``SERVICE_RESULT``,
  ``EXIT_CODE``, ``EXIT_STATUS`` for ExecStopPost.
* States as systemd reports them: load ``loaded``; active ``activating|active|deactivating|
  inactive|failed``; sub ``dead|start-pre|start|start-post|running|exited|stop|stop-sigterm|
  stop-sigkill|stop-post|failed|auto-restart``.
* Every command runs in its own process group (``setsid``); stopping a unit runs ExecStop, then
  SIGTERM (``KillSignal=``) to every process of the unit, then SIGKILL after ``TimeoutStopSec``
  (the unit then ends ``failed``, result "timeout", as in systemd), then ExecStopPost.
* Not cgroups: a process that both leaves the process group and clears its environment escapes.
  Every unit process carries ``FLEETLAB_RUNTIME=<log_dir>``; a runtime that starts kills the
  processes a crashed (SIGKILLed) runtime with the same log dir left behind.
* Output of every command is appended, line by line with a UTC timestamp and the pid, to
  ``<log_dir>/<machine_id>/<unit>.log``, together with the lifecycle messages systemd would log.
"""
from __future__ import annotations

import glob
import grp
import logging
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

LOG = logging.getLogger("fleetlab.runtime")
RUNTIME_MARKER = "FLEETLAB_RUNTIME"  # env entry naming the runtime's log dir, to find orphans of a crashed lab
DEFAULT_TIMEOUT = 90.0
DEFAULT_RESTART_SEC = 0.1
DEFAULT_START_LIMIT_BURST = 5
DEFAULT_START_LIMIT_INTERVAL = 10.0
KILL_GRACE = 5.0
POLL = 0.05
FORKING_POLL = 0.25

EXIT_CHDIR = 200
EXIT_EXEC = 203
EXIT_ENVIRONMENT = 202  # systemd's EXIT_NOTIFY_SOCKET is 202 too; close enough for a log line

_CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})
_EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop", "ExecStopPost")
_LIST_KEYS = _EXEC_KEYS + ("Environment", "EnvironmentFile")
_DEP_KEYS = ("Requires", "BindsTo", "Wants", "After", "Before")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SPAN_UNITS = {
    "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0, "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
}
_SPAN_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'", "s": " "}

Report = Callable[[str, str, "str | None", "str | None", "str | None"], None]


class UnitConfigError(ValueError):
    """A unit option the runtime cannot honour (reported in the unit's log, start fails)."""


# ---------------------------------------------------------------------------------------------
# systemd syntax helpers (pure functions, unit-tested directly)
# ---------------------------------------------------------------------------------------------

def parse_timespan(value: str) -> float | None:
    """systemd time span (``90``, ``500ms``, ``1min 30s``, ``infinity``) in seconds; None = no limit."""
    text = value.strip().lower()
    if text in ("infinity", ""):
        return None
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _SPAN_PART.match(text, pos)
        if not match or match.group(2) not in _SPAN_UNITS:
            raise UnitConfigError(f"invalid time span {value!r}")
        total += float(match.group(1)) * _SPAN_UNITS[match.group(2)]
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return total


def parse_bool(value: str) -> bool:
    """systemd boolean (1/yes/true/on, 0/no/false/off)."""
    text = value.strip().lower()
    if text in ("1", "yes", "y", "true", "t", "on"):
        return True
    if text in ("0", "no", "n", "false", "f", "off"):
        return False
    raise UnitConfigError(f"invalid boolean {value!r}")


def split_words(text: str) -> list[str]:
    """Split like systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE)."""
    return [word for word, _quoted in _tokenize(text)]


def _tokenize(text: str) -> list[tuple[str, bool]]:
    words: list[tuple[str, bool]] = []
    current: list[str] = []
    in_word = False
    quoted = False
    quote = ""
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
                i += 1
                continue
            if char == "\\" and i + 1 < length:
                decoded, i = _unescape_at(text, i)
                current.append(decoded)
                continue
            current.append(char)
            i += 1
            continue
        if char.isspace():
            if in_word:
                words.append(("".join(current), quoted))
                current, in_word, quoted = [], False, False
            i += 1
            continue
        in_word = True
        if char in "\"'":
            quote = char
            quoted = True
            i += 1
            continue
        if char == "\\" and i + 1 < length:
            if text[i + 1] == ";":
                quoted = True  # "\;" is a literal semicolon, never a separator
                current.append(";")
                i += 2
                continue
            decoded, i = _unescape_at(text, i)
            current.append(decoded)
            continue
        current.append(char)
        i += 1
    if quote:
        raise UnitConfigError(f"unbalanced quotes in {text!r}")
    if in_word:
        words.append(("".join(current), quoted))
    return words


def _unescape_at(text: str, i: int) -> tuple[str, int]:
    """Decode the C escape starting at text[i] == '\\'; return (text, next index)."""
    nxt = text[i + 1]
    if nxt in _ESCAPES:
        return _ESCAPES[nxt], i + 2
    if nxt == "x" and re.match(r"[0-9a-fA-F]{2}", text[i + 2:i + 4]):
        return chr(int(text[i + 2:i + 4], 16)), i + 4
    if nxt == "u" and re.match(r"[0-9a-fA-F]{4}", text[i + 2:i + 6]):
        return chr(int(text[i + 2:i + 6], 16)), i + 6
    if nxt == "U" and re.match(r"[0-9a-fA-F]{8}", text[i + 2:i + 10]):
        return chr(int(text[i + 2:i + 10], 16)), i + 10
    if re.match(r"[0-7]{3}", text[i + 1:i + 4]):
        return chr(int(text[i + 1:i + 4], 8)), i + 4
    return "\\" + nxt, i + 2  # relaxed: unknown escapes are kept


@dataclass
class Command:
    """One Exec*= command: argv (before $VAR expansion) and its prefixes."""
    argv: list[str]
    ignore_failure: bool = False
    argv0: str | None = None
    expand_env: bool = True
    line: str = ""


def parse_exec(value: str) -> list[Command]:
    """Parse one Exec*= value into commands (``;`` separates several commands on one line)."""
    commands: list[Command] = []
    words = _tokenize(value)
    group: list[tuple[str, bool]] = []
    for word, quoted in words + [(";", False)]:
        if word == ";" and not quoted:
            if group:
                commands.append(_make_command(group, value))
            group = []
        else:
            group.append((word, quoted))
    return commands


def _make_command(words: list[tuple[str, bool]], line: str) -> Command:
    first = words[0][0]
    command = Command(argv=[], line=line.strip())
    use_argv0 = False
    while first and first[0] in "-@:+!":
        prefix = first[0]
        if prefix == "-":
            command.ignore_failure = True
        elif prefix == "@":
            use_argv0 = True
        elif prefix == ":":
            command.expand_env = False
        first = first[1:]
    rest = [w for w, _q in words[1:]]
    if not first:
        if not rest:
            raise UnitConfigError(f"empty command in {line!r}")
        first, rest = rest[0], rest[1:]
    if use_argv0:
        if not rest:
            raise UnitConfigError(f"'@' prefix without argv[0] in {line!r}")
        command.argv0, rest = rest[0], rest[1:]
    command.argv = [first] + rest
    return command


def unescape_name(text: str) -> str:
    """systemd unit-name unescaping: ``-`` -> ``/``, ``\\xNN`` -> the byte."""
    out = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text.replace("-", "/"))
    return out


def unit_name_parts(unit_name: str) -> dict[str, str]:
    """Prefix, instance and name without suffix of a unit name."""
    stem, _dot, _suffix = unit_name.rpartition(".")
    if not stem:
        stem = unit_name
    prefix, at, instance = stem.partition("@")
    return {"stem": stem, "prefix": prefix, "instance": instance if at else ""}


def expand_specifiers(text: str, specifiers: dict[str, str]) -> str:
    """Replace systemd ``%x`` specifiers; an unknown specifier is an error, as in systemd."""
    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key not in specifiers:
            raise UnitConfigError(f"unknown specifier %{key} in {text!r}")
        return specifiers[key]
    return re.sub(r"%(.)", replace, text)


def expand_env_argv(argv: list[str], env: dict[str, str]) -> list[str]:
    """systemd's $VAR expansion of a command line (after word splitting)."""
    out: list[str] = []
    for word in argv:
        match = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if match:
            out.extend(env.get(match.group(1), "").split())
            continue
        out.append(expand_env_word(word, env))
    return out


def expand_env_word(word: str, env: dict[str, str]) -> str:
    """Replace ``${VAR}``, ``$VAR`` and ``$$`` inside one word."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1) or match.group(2), "")
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, word)


def parse_environment(value: str) -> dict[str, str]:
    """One Environment= value: quoted words ``A=1 "B=2 3"``; invalid assignments are skipped."""
    result: dict[str, str] = {}
    for word in split_words(value):
        name, eq, val = word.partition("=")
        if eq and _ENV_NAME.match(name):
            result[name] = val
    return result


def parse_environment_file(text: str) -> dict[str, str]:
    """An EnvironmentFile: ``KEY=VALUE`` lines, ``#``/``;`` comments, quotes, backslash continuation."""
    result: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + lines[i]
            i += 1
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        name, eq, raw = line.partition("=")
        name = name.strip()
        if name.startswith("export "):
            name = name[len("export "):].strip()
        if not eq or not _ENV_NAME.match(name):
            continue
        result[name] = _env_file_value(raw.strip())
    return result


def _env_file_value(raw: str) -> str:
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(raw):
        char = raw[i]
        if quote == "'":
            if char == "'":
                quote = ""
            else:
                out.append(char)
        elif quote == '"':
            if char == '"':
                quote = ""
            elif char == "\\" and i + 1 < len(raw) and raw[i + 1] in '"\\`$':
                out.append(raw[i + 1])
                i += 1
            else:
                out.append(char)
        elif char in "'\"":
            quote = char
        elif char == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 1
        elif char == "#" and (not out or out[-1].isspace()):
            break
        else:
            out.append(char)
        i += 1
    return "".join(out).rstrip() if not quote else "".join(out)


# ---------------------------------------------------------------------------------------------
# unit configuration
# ---------------------------------------------------------------------------------------------

@dataclass
class UnitConfig:
    """The systemd settings of one unit, specifiers expanded."""
    type: str = "simple"
    exec: dict[str, list[Command]] = field(default_factory=lambda: {key: [] for key in _EXEC_KEYS})
    environment: dict[str, str] = field(default_factory=dict)
    environment_files: list[str] = field(default_factory=list)
    working_directory: str | None = None
    pid_file: str | None = None
    remain_after_exit: bool = False
    restart: str = "no"
    restart_sec: float = DEFAULT_RESTART_SEC
    timeout_start: float | None = DEFAULT_TIMEOUT
    timeout_stop: float | None = DEFAULT_TIMEOUT
    start_limit_burst: int = DEFAULT_START_LIMIT_BURST
    start_limit_interval: float | None = DEFAULT_START_LIMIT_INTERVAL
    kill_signal: int = signal.SIGTERM
    success_codes: frozenset[int] = frozenset({0})
    success_signals: frozenset[int] = frozenset()
    deps: dict[str, list[str]] = field(default_factory=lambda: {key: [] for key in _DEP_KEYS})
    errors: list[str] = field(default_factory=list)


def build_config(options: list[dict], specifiers: dict[str, str], *, default_timeout_start: float | None,
                 default_timeout_stop: float | None) -> UnitConfig:
    """Turn fleet options into a :class:`UnitConfig`; problems are collected in ``errors``."""
    config = UnitConfig(timeout_start=default_timeout_start, timeout_stop=default_timeout_stop)
    for option in options:
        section, name, raw = option.get("section"), option.get("name"), option.get("value", "")
        if section not in ("Unit", "Service"):
            continue
        try:
            value = expand_specifiers(raw, specifiers)
            _apply_option(config, section, name, value)
        except UnitConfigError as exc:
            config.errors.append(f"[{section}] {name}={raw}: {exc}")
    if config.type != "oneshot" and len(config.exec["ExecStart"]) != 1:
        count = len(config.exec["ExecStart"])
        config.errors.append(
            "Service has no ExecStart= setting" if count == 0 else
            "Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services")
    return config


def _apply_option(config: UnitConfig, section: str, name: str, value: str) -> None:
    if section == "Unit":
        if name in _DEP_KEYS:
            config.deps[name].extend(split_words(value))
        elif name in ("StartLimitIntervalSec", "StartLimitInterval"):
            config.start_limit_interval = parse_timespan(value) or None
        elif name == "StartLimitBurst":
            config.start_limit_burst = int(value)
        return
    if name in _LIST_KEYS and not value.strip():
        if name in _EXEC_KEYS:
            config.exec[name] = []
        elif name == "Environment":
            config.environment = {}
        else:
            config.environment_files = []
    elif name in _EXEC_KEYS:
        config.exec[name].extend(parse_exec(value))
    elif name == "Type":
        kind = value.strip()
        if kind not in ("simple", "exec", "oneshot", "forking", "notify", "dbus", "idle"):
            raise UnitConfigError("unknown service type")
        config.type = kind
    elif name == "Environment":
        config.environment.update(parse_environment(value))
    elif name == "EnvironmentFile":
        config.environment_files.append(value.strip())
    elif name == "WorkingDirectory":
        config.working_directory = value.strip()
    elif name == "PIDFile":
        config.pid_file = value.strip() or None
    elif name == "RemainAfterExit":
        config.remain_after_exit = parse_bool(value)
    elif name == "Restart":
        kind = value.strip()
        if kind not in ("no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"):
            raise UnitConfigError("unknown restart setting")
        config.restart = kind
    elif name == "RestartSec":
        config.restart_sec = parse_timespan(value) or 0.0
    elif name in ("TimeoutStartSec", "TimeoutStopSec", "TimeoutSec"):
        span = parse_timespan(value)
        span = None if span == 0 else span
        if name in ("TimeoutStartSec", "TimeoutSec"):
            config.timeout_start = span
        if name in ("TimeoutStopSec", "TimeoutSec"):
            config.timeout_stop = span
    elif name in ("StartLimitIntervalSec", "StartLimitInterval"):
        config.start_limit_interval = parse_timespan(value) or None
    elif name == "StartLimitBurst":
        config.start_limit_burst = int(value)
    elif name == "KillSignal":
        config.kill_signal = _parse_signal(value)
    elif name == "SuccessExitStatus":
        codes, signals = set(config.success_codes), set(config.success_signals)
        for word in value.split():
            if word.isdigit():
                codes.add(int(word))
            else:
                signals.add(_parse_signal(word))
        config.success_codes, config.success_signals = frozenset(codes), frozenset(signals)


def _parse_signal(value: str) -> int:
    text = value.strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError as exc:
        raise UnitConfigError("unknown signal") from exc


# ---------------------------------------------------------------------------------------------
# processes and logs
# ---------------------------------------------------------------------------------------------

class _UnitLog:
    """Appends timestamped lines to one unit's log file; shared by all its processes."""

    def __init__(self, path: str, unit_name: str):
        self.path = path
        self.unit_name = unit_name
        self._lock = threading.Lock()

    def write(self, text: str, pid: int | None = None) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        source = f"{self.unit_name}[{pid}]" if pid else "fleetlab"
        lines = text.splitlines() or [""]
        with self._lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a", encoding="utf-8", errors="replace") as handle:
                for line in lines:
                    handle.write(f"{stamp} {source}: {line}\n")


class _Proc:
    """A spawned command: its Popen, a waiter thread and an output reader thread."""

    def __init__(self, popen: subprocess.Popen, read_fd: int, log: _UnitLog, wake: Callable[[], None]):
        self.popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self._wake = wake
        self.reader = threading.Thread(target=self._read, args=(read_fd, log), daemon=True,
                                       name=f"fleetlab-log-{self.pid}")
        self.waiter = threading.Thread(target=self._wait, daemon=True, name=f"fleetlab-wait-{self.pid}")
        self.reader.start()
        self.waiter.start()

    def _wait(self) -> None:
        code = self.popen.wait()
        self.returncode = code
        self._wake()

    def _read(self, read_fd: int, log: _UnitLog) -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            pending = b""
            while True:
                try:
                    chunk = pipe.read(65536)
                except OSError:
                    break
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if lines:
                    log.write("\n".join(line.decode("utf-8", "replace") for line in lines), self.pid)
            if pending:
                log.write(pending.decode("utf-8", "replace"), self.pid)

    @property
    def running(self) -> bool:
        return self.returncode is None


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:].split()[0] not in (b"Z", b"X")


def _pids_with_env(entry: str) -> list[int]:
    """Live (non-zombie) pids whose environment holds exactly ``entry`` (``KEY=VALUE``)."""
    return _proc_pids_of(set(), entry)


def _proc_pids_of(pgids: set[int], env_entry: str | None) -> list[int]:
    """Live (non-zombie) pids whose process group is in ``pgids`` or whose environment holds ``env_entry``."""
    marker = env_entry.encode() if env_entry else None
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            state, pgid = fields[0], int(fields[2])
            if state in (b"Z", b"X"):
                continue
            if pgid in pgids:
                found.append(pid)
                continue
            if marker:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    if marker in handle.read().split(b"\0"):
                        found.append(pid)
        except (OSError, ValueError, IndexError):
            continue
    return found


# ---------------------------------------------------------------------------------------------
# the runtime
# ---------------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Unit:
    machine: dict
    name: str
    options: list[dict]
    env: dict
    log: _UnitLog
    active: str = "inactive"
    sub: str = "dead"
    desired: str = "inactive"        # what start()/stop() asked for
    gone: bool = False               # unload() asked
    job: str | None = None           # "start" while a start job runs, "stop" while stopping
    last_result: str | None = None   # "success" or a systemd result name of the last start job
    stop_reason: str = "stop"        # why the pending stop happens ("stop", "dependency")
    stop_pending: bool = False       # stop() arrived and the running job has not acted on it yet
    start_requested: float | None = None
    start_began: float | None = None    # when the start job left the queue (its After= units were active)
    invocation_id: str | None = None
    procs: list[_Proc] = field(default_factory=list)
    pgids: set[int] = field(default_factory=set)
    main: _Proc | None = None
    main_pid: int | None = None      # Type=forking: the daemon's pid (PIDFile= or guessed), not our child
    thread: threading.Thread | None = None
    generation: int = 0              # bumped by every start()/stop() so drivers notice changes
    restarts: list[float] = field(default_factory=list)
    timing_recorded: bool = False
    predecessor: "_Unit | None" = None  # the unloaded incarnation of the same unit, while it stops
    finished: bool = False           # the driver thread is done (the unit left the machine)
    config_cache: tuple | None = None

    @property
    def machine_id(self) -> str:
        return self.machine["id"]


class ProcessRuntime:
    """Runs fleet units as local processes with a systemd subset (see the module docstring).

    ``report(machine_id, unit_name, load, active, sub)`` is called from one reporter thread, in the
    order the changes happened, never with the runtime lock held; ``load=None`` means the unit left
    the machine. The fault hook :meth:`set_start_failure` lets fleetlab's ``unit_fail`` faults fail
    a start without running anything.
    """

    def __init__(self, report: Report, log_dir: str, *, default_timeout_start: float | None = DEFAULT_TIMEOUT,
                 default_timeout_stop: float | None = DEFAULT_TIMEOUT):
        self._report = report
        self._log_dir = os.path.abspath(log_dir)
        self._default_timeout_start = default_timeout_start
        self._default_timeout_stop = default_timeout_stop
        self._cond = threading.Condition(threading.RLock())
        self._units: dict[tuple[str, str], _Unit] = {}
        self._retired: set[_Unit] = set()  # unloaded units replaced by a new load while still stopping
        self._timings: dict[tuple[str, str], dict] = {}
        self._start_failure: Callable[[str, str], bool] | None = None
        self._closed = False
        self._boot_id = uuid.uuid4().hex
        self._reports: queue.Queue = queue.Queue()
        self._reporter = threading.Thread(target=self._report_loop, daemon=True, name="fleetlab-report")
        self._reporter.start()
        self._kill_orphans()

    def _kill_orphans(self) -> None:
        """Kill unit processes left by an earlier runtime with the same log dir that was killed (SIGKILL).

        Every unit process carries ``FLEETLAB_RUNTIME=<log_dir>``; a clean shutdown leaves none, so any
        found here belong to a lab that crashed.
        """
        orphans = _pids_with_env(f"{RUNTIME_MARKER}={self._log_dir}")
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if orphans:
            LOG.warning("killed %d unit process(es) left by a previous fleetlab runtime (%s)", len(orphans), self._log_dir)

    # -- public interface ---------------------------------------------------------------------

    def set_start_failure(self, predicate: Callable[[str, str], bool] | None) -> None:
        """Install the fault hook used by ``unit_fail`` faults (None removes it).

        ``predicate(machine_id, unit_name) -> bool`` is called at the beginning of every start job
        (also automatic restarts); when it returns True the start fails at once: the unit goes
        ``activating/start-pre`` then ``failed/failed`` (result "resources"), nothing is executed and
        the unit's log says the failure was injected. The predicate runs on a runtime thread
        without the runtime lock held and must not block.
        """
        with self._cond:
            self._start_failure = predicate

    def load(self, machine: dict, unit_name: str, options: list[dict], env: dict | None = None) -> None:
        """Load (or reload) a unit on a machine: ``loaded/inactive/dead`` for a new unit.

        Reloading a loaded unit replaces its options and environment for the next start; a running
        unit keeps running, as after ``systemctl daemon-reload``.
        """
        key = (machine["id"], unit_name)
        with self._cond:
            self._check_open()
            unit = self._units.get(key)
            if unit is not None and not unit.gone:
                unit.machine, unit.options, unit.env = dict(machine), list(options), dict(env or {})
                self._emit(unit)
                return
            root = machine.get("root")
            if root:
                os.makedirs(root, exist_ok=True)
            log = _UnitLog(self.log_path(machine["id"], unit_name), unit_name)
            previous = unit  # an unloaded incarnation still stopping: the new one starts after it is gone
            if previous is not None:
                self._retired.add(previous)
            unit = _Unit(machine=dict(machine), name=unit_name, options=list(options), env=dict(env or {}), log=log,
                         predecessor=previous)
            self._units[key] = unit
            self._emit(unit)
            unit.thread = threading.Thread(target=self._drive, args=(unit,), daemon=True,
                                           name=f"fleetlab-unit-{machine['id'][:8]}-{unit_name}")
            unit.thread.start()

    def start(self, machine_id: str, unit_name: str) -> None:
        """``systemctl start``: asynchronous; a no-op on an active unit."""
        with self._cond:
            self._check_open()
            unit = self._get(machine_id, unit_name)
            self._request_start(unit)

    def stop(self, machine_id: str, unit_name: str) -> None:
        """``systemctl stop``: asynchronous; ExecStop, SIGTERM, SIGKILL after TimeoutStopSec, ExecStopPost."""
        with self._cond:
            self._check_open()
            unit = self._get(machine_id, unit_name)
            self._request_stop(unit, "stop")

    def unload(self, machine_id: str, unit_name: str) -> None:
        """Stop the unit if needed, then forget it (``report(..., None, None, None)``); unknown units are ignored."""
        with self._cond:
            unit = self._units.get((machine_id, unit_name))
            if unit is None or unit.gone:
                return
            self._request_stop(unit, "stop")
            unit.gone = True
            self._cond.notify_all()

    def timings(self) -> dict:
        """``{(machine_id, unit_name): {"start_seconds": s}}``: seconds from start() to active (last start)."""
        with self._cond:
            return {key: dict(value) for key, value in self._timings.items()}

    def state(self, machine_id: str, unit_name: str) -> tuple[str, str, str] | None:
        """The current (load, active, sub) triple of a unit, or None when it is not loaded."""
        with self._cond:
            unit = self._units.get((machine_id, unit_name))
            return None if unit is None else ("loaded", unit.active, unit.sub)

    def log_path(self, machine_id: str, unit_name: str) -> str:
        """The log file of a unit on a machine (it exists once the unit has logged something)."""
        return os.path.join(self._log_dir, machine_id, unit_name + ".log")

    def units(self) -> list[tuple[str, str]]:
        """Keys (machine_id, unit_name) of every loaded unit."""
        with self._cond:
            return list(self._units)

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop every unit (ExecStop runs, in parallel), report them gone, join all threads.

        ``timeout`` bounds the wait for the unit threads (default: unbounded, each stop being bounded
        by its own TimeoutStopSec); processes still alive after it are killed.
        """
        with self._cond:
            if self._closed:
                return
            for unit in self._units.values():
                self._request_stop(unit, "stop")
                unit.gone = True
            self._cond.notify_all()
            everything = list(self._units.values()) + list(self._retired)
            threads = [unit.thread for unit in everything if unit.thread]
            self._closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        for unit in everything:
            self._kill_all(unit, signal.SIGKILL)
        self._reports.put(None)
        self._reporter.join(10)

    # -- requests (lock held) -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("fleetlab process runtime is shut down")

    def _get(self, machine_id: str, unit_name: str) -> _Unit:
        unit = self._units.get((machine_id, unit_name))
        if unit is None or unit.gone:
            raise KeyError(f"unit {unit_name} is not loaded on machine {machine_id}")
        return unit

    def _request_start(self, unit: _Unit) -> None:
        if unit.desired == "active" and (unit.job == "start" or unit.active == "active"):
            return
        unit.desired = "active"
        unit.generation += 1
        unit.start_requested = time.monotonic()
        unit.start_began = None
        unit.timing_recorded = False
        unit.last_result = None
        unit.restarts = []
        self._cond.notify_all()
        config = self._config(unit)
        for dep in config.deps["Requires"] + config.deps["BindsTo"] + config.deps["Wants"]:
            other = self._units.get((unit.machine_id, dep))
            if other is not None and not other.gone and other.desired != "active":
                self._request_start(other)

    def _request_stop(self, unit: _Unit, reason: str) -> None:
        if unit.desired != "active" and unit.job != "start":
            return
        unit.desired = "inactive"
        unit.stop_pending = True
        unit.stop_reason = reason
        unit.generation += 1
        self._cond.notify_all()
        self._propagate_stop(unit, explicit=True)

    def _propagate_stop(self, unit: _Unit, *, explicit: bool, failed: bool = False) -> None:
        """Stop the units that require (or are bound to) ``unit``; lock held."""
        for other in list(self._units.values()):
            if other is unit or other.machine_id != unit.machine_id or other.gone:
                continue
            config = self._config(other)
            bound = unit.name in config.deps["BindsTo"]
            required = unit.name in config.deps["Requires"]
            if bound or (required and (explicit or failed)):
                ordered = unit.name in config.deps["After"] or other.name in self._config(unit).deps["Before"]
                if failed and ordered and other.active in ("inactive", "failed"):
                    continue  # its start job is waiting for this unit and fails with result "dependency"
                if other.desired == "active" or other.job == "start":
                    other.log.write(f"Stopping {other.name}: it {'is bound to' if bound else 'requires'} {unit.name}, "
                                    f"which {'failed' if failed else 'stopped'}.")
                    self._request_stop(other, "dependency")

    # -- reporting ----------------------------------------------------------------------------

    def _emit(self, unit: _Unit, gone: bool = False) -> None:
        if gone:
            self._reports.put((unit.machine_id, unit.name, None, None, None))
        else:
            self._reports.put((unit.machine_id, unit.name, "loaded", unit.active, unit.sub))

    def _report_loop(self) -> None:
        while True:
            item = self._reports.get()
            if item is None:
                return
            try:
                self._report(*item)
            except Exception as exc:  # pylint: disable=broad-except  # a broken callback must not kill the runtime
                print(f"fleetlab runtime: report callback failed for {item}: {exc!r}", flush=True)

    def _set(self, unit: _Unit, active: str, sub: str) -> None:
        with self._cond:
            if (unit.active, unit.sub) == (active, sub):
                return
            previous = unit.active
            unit.active, unit.sub = active, sub
            self._emit(unit)
            self._cond.notify_all()
            if active == "active" and previous != "active" and unit.start_requested is not None \
                    and not unit.timing_recorded:
                unit.timing_recorded = True
                self._timings[(unit.machine_id, unit.name)] = self._timing(unit)

    @staticmethod
    def _timing(unit: _Unit, started: float | None = None) -> dict:
        """The unit's own start time (from leaving the queue to active) and the time it queued behind After= units."""
        requested = unit.start_requested or started or time.monotonic()
        began = unit.start_began or requested
        return {"start_seconds": round(time.monotonic() - began, 6), "queued_seconds": round(began - requested, 6)}

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- the driver thread --------------------------------------------------------------------

    def _config(self, unit: _Unit) -> UnitConfig:
        cached = unit.config_cache
        if cached is not None and cached[0] is unit.options and cached[1] is unit.machine:
            return cached[2]
        config = self._build_config(unit)
        unit.config_cache = (unit.options, unit.machine, config)
        return config

    def _build_config(self, unit: _Unit) -> UnitConfig:
        return build_config(unit.options, self._specifiers(unit), default_timeout_start=self._default_timeout_start,
                            default_timeout_stop=self._default_timeout_stop)

    def _specifiers(self, unit: _Unit) -> dict[str, str]:
        parts = unit_name_parts(unit.name)
        prefix, instance = parts["prefix"], parts["instance"]
        root = unit.machine.get("root") or "/"
        user = pwd.getpwuid(os.getuid())
        try:
            group = grp.getgrgid(os.getgid()).gr_name
        except KeyError:
            group = str(os.getgid())
        return {
            "n": unit.name, "N": parts["stem"], "p": prefix, "P": unescape_name(prefix),
            "i": instance, "I": unescape_name(instance),
            "j": prefix.rpartition("-")[2], "J": unescape_name(prefix.rpartition("-")[2]),
            "f": "/" + unescape_name(instance or prefix).lstrip("/"),
            "m": unit.machine_id, "H": self._hostname(unit.machine), "l": self._hostname(unit.machine).split(".", maxsplit=1)[0],
            "b": self._boot_id, "v": os.uname().release, "%": "%",
            "h": os.path.expanduser("~"), "u": user.pw_name, "U": str(os.getuid()), "s": user.pw_shell or "/bin/sh",
            "g": group, "G": str(os.getgid()), "T": "/tmp", "V": "/var/tmp",
            "t": os.path.join(root, "run"), "S": os.path.join(root, "var", "lib"), "C": os.path.join(root, "var", "cache"),
            "L": os.path.join(root, "var", "log"), "E": os.path.join(root, "etc"),
        }

    @staticmethod
    def _hostname(machine: dict) -> str:
        for key in ("hostname", "name", "node"):
            if machine.get(key):
                return str(machine[key])
        ip = str(machine.get("ip", ""))
        last = ip.rpartition(".")[2]
        if last.isdigit() and int(last) > 10:
            return f"machine-{int(last) - 10}"
        return f"machine-{machine['id'][:8]}"

    def _drive(self, unit: _Unit) -> None:
        """The unit's driver: runs start/stop jobs until the unit is unloaded."""
        while True:
            with self._cond:
                while True:
                    if unit.desired == "active" and unit.active not in ("active",) and unit.job is None:
                        unit.job = "start"
                        action = "start"
                        break
                    if (unit.desired != "active" or unit.stop_pending) and unit.active == "active":
                        action = "stop"
                        break
                    if unit.gone:
                        action = "exit"
                        break
                    self._cond.wait()
            if action in ("start", "stop"):
                try:
                    if action == "start":
                        self._wait_predecessor(unit)
                        self._start_job(unit)
                    else:
                        self._stop_active(unit)
                except Exception as exc:  # pylint: disable=broad-except  # a runtime bug must not wedge the unit
                    self._internal_error(unit, action, exc)
            else:
                with self._cond:
                    key = (unit.machine_id, unit.name)
                    successor = self._units.get(key)
                    if successor is unit:
                        del self._units[key]
                    self._retired.discard(unit)
                    unit.finished = True
                    if successor is None or successor is unit:
                        self._emit(unit, gone=True)
                    else:  # reloaded meanwhile: the last word is the new incarnation's state
                        self._emit(successor)
                    self._cond.notify_all()
                return

    def _internal_error(self, unit: _Unit, action: str, exc: Exception) -> None:
        """Last resort: log the bug, kill the unit's processes, leave it failed."""
        unit.log.write(f"{unit.name}: fleetlab runtime error during {action}: {exc!r}")
        self._kill_all(unit, signal.SIGKILL)
        with self._cond:
            unit.job = None
            unit.main = None
            unit.stop_pending = False
            unit.desired = "inactive"
            unit.last_result = "resources"
            self._set(unit, "failed", "failed")

    def _wait_predecessor(self, unit: _Unit) -> None:
        """A reloaded unit starts only once its unloaded incarnation has stopped (no port clash)."""
        with self._cond:
            while unit.predecessor is not None and not unit.predecessor.finished and not self._cancelled(unit):
                self._cond.wait()
            unit.predecessor = None

    def _cancelled(self, unit: _Unit) -> bool:
        """A stop (or unload) arrived since the current job began (stop+start in a row included)."""
        return unit.desired != "active" or unit.gone or unit.stop_pending

    def _start_job(self, unit: _Unit) -> None:
        """A start job, including automatic restarts, until the unit is active, stopped or failed."""
        try:
            while True:
                result = self._activate(unit)
                if result in ("running", "exited"):
                    with self._cond:
                        unit.job = None
                        unit.last_result = "success"
                        self._cond.notify_all()
                    result = self._supervise(unit)
                    if result is None:
                        return  # stop requested: the driver runs the stop
                elif result.startswith("finished:"):
                    result = result.partition(":")[2]
                if not self._after_failure_or_exit(unit, result):
                    return
        finally:
            with self._cond:
                if unit.job == "start":
                    unit.job = None
                    self._cond.notify_all()

    def _after_failure_or_exit(self, unit: _Unit, result: str) -> bool:
        """Unit ended with ``result`` (processes gone); settle its state. True = restart now."""
        config = self._config(unit)
        restart = (not self._cancelled(unit)) and _should_restart(config.restart, result)
        if restart:
            now = time.monotonic()
            unit.restarts = [t for t in unit.restarts
                             if config.start_limit_interval is None or now - t < config.start_limit_interval]
            if config.start_limit_interval is not None and len(unit.restarts) >= config.start_limit_burst:
                unit.log.write(f"{unit.name}: Start request repeated too quickly.")
                result = "start-limit-hit"
                restart = False
        if restart:
            with self._cond:
                unit.job = "start"
            self._set(unit, "activating", "auto-restart")
            unit.log.write(f"{unit.name}: Scheduled restart job, restart counter is at {len(unit.restarts) + 1}.")
            if self._sleep_unless_cancelled(unit, config.restart_sec):
                unit.restarts.append(time.monotonic())
                return True
            result = "success"  # stopped while waiting to restart: systemd goes straight to dead
        with self._cond:
            unit.job = None
            unit.last_result = result
            if result == "success":
                self._set(unit, "inactive", "dead")
            else:
                self._set(unit, "failed", "failed")
            if result != "success":
                unit.log.write(f"{unit.name}: Failed with result '{result}'.")
                self._propagate_stop(unit, explicit=False, failed=True)
            else:
                self._propagate_stop(unit, explicit=False)
            restart_requested = unit.stop_pending and unit.desired == "active" and not unit.gone
            unit.stop_pending = False
            if not restart_requested:
                unit.desired = "inactive"  # the job is over; a new start() starts it again
            self._cond.notify_all()
        return False

    def _sleep_unless_cancelled(self, unit: _Unit, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        with self._cond:
            while not self._cancelled(unit):
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                self._cond.wait(left)
        return False

    def _activate(self, unit: _Unit) -> str:
        """Run one activation. Returns running/exited/done, or a failure result after cleanup."""
        config = self._config(unit)
        with self._cond:
            unit.invocation_id = uuid.uuid4().hex
            unit.pgids = set()
            unit.main = None
            unit.main_pid = None
        started = time.monotonic()
        deadline = None if config.timeout_start is None else started + config.timeout_start
        for error in config.errors:
            unit.log.write(f"{unit.name}: {error}")
        if config.errors:
            return "resources"
        waited = self._wait_dependencies(unit, config, deadline)
        if waited is not None:
            return self._fail_start(unit, config, waited, run_stop_post=False)
        unit.start_began = time.monotonic()
        if self._start_fails(unit):
            self._set(unit, "activating", "start-pre")
            unit.log.write(f"{unit.name}: start failure injected by a fleetlab unit_fail fault; nothing was run.")
            return "resources"
        unit.log.write(f"Starting {unit.name}...")
        self._set(unit, "activating", "start-pre")
        try:
            env = self._environment(unit, config)
            cwd = self._working_directory(unit, config)
        except UnitConfigError as exc:
            unit.log.write(f"{unit.name}: {exc}")
            return self._fail_start(unit, config, "resources", run_stop_post=True)
        outcome = self._run_list(unit, config.exec["ExecStartPre"], env, cwd, deadline, "start-pre")
        if outcome != "success":
            return self._fail_start(unit, config, outcome, env=env, cwd=cwd)
        self._set(unit, "activating", "start")
        if config.type in ("oneshot", "forking"):
            outcome = self._run_list(unit, config.exec["ExecStart"], env, cwd, deadline, "start")
            if outcome != "success":
                return self._fail_start(unit, config, outcome, env=env, cwd=cwd)
            if config.type == "forking":
                main_pid = self._forking_main_pid(unit, config, deadline)
                if main_pid is None:
                    unit.log.write(f"{unit.name}: no process left after ExecStart= of a Type=forking service.")
                    return "finished:" + self._stop_sequence(unit, config, env, cwd, run_exec_stop=True, result="success")
                with self._cond:
                    unit.main_pid = main_pid
                env = dict(env, MAINPID=str(main_pid))
        else:
            command = config.exec["ExecStart"][0]
            proc = self._spawn(unit, command, env, cwd)
            if proc is None:
                return self._fail_start(unit, config, "exit-code", env=env, cwd=cwd)
            with self._cond:
                unit.main = proc
            env = dict(env, MAINPID=str(proc.pid))
        if config.exec["ExecStartPost"]:
            self._set(unit, "activating", "start-post")
            outcome = self._run_list(unit, config.exec["ExecStartPost"], env, cwd, deadline, "start-post")
            if outcome != "success":
                return self._fail_start(unit, config, outcome, env=env, cwd=cwd)
        if config.type == "oneshot" and not config.remain_after_exit:
            unit.log.write(f"Finished {unit.name}.")
            with self._cond:
                if not unit.timing_recorded:
                    unit.timing_recorded = True
                    self._timings[(unit.machine_id, unit.name)] = self._timing(unit, started)
            self._set(unit, "deactivating", "stop")
            return "finished:" + self._stop_sequence(unit, config, env, cwd, run_exec_stop=True, result="success")
        unit.log.write(f"Started {unit.name}.")
        if config.type == "oneshot":
            self._set(unit, "active", "exited")
            return "exited"
        self._set(unit, "active", "running")
        return "running"

    def _start_fails(self, unit: _Unit) -> bool:
        hook = self._start_failure
        if hook is None:
            return False
        try:
            return bool(hook(unit.machine_id, unit.name))
        except Exception as exc:  # pylint: disable=broad-except  # a broken fault hook must not wedge the unit
            unit.log.write(f"{unit.name}: fleetlab start-failure hook raised {exc!r}; ignored")
            return False

    def _forking_main_pid(self, unit: _Unit, config: UnitConfig, deadline: float | None) -> int | None:
        """The daemon of a Type=forking service: PIDFile= when given (waited for briefly), else a guess."""
        if config.pid_file:
            root = unit.machine.get("root") or "/"
            path = config.pid_file if os.path.isabs(config.pid_file) else os.path.join(root, config.pid_file)
            limit = time.monotonic() + KILL_GRACE
            if deadline is not None:
                limit = min(limit, deadline)
            while True:
                try:
                    with open(path, encoding="utf-8") as handle:
                        pid = int(handle.read().split()[0])
                    if _pid_alive(pid):
                        return pid
                except (OSError, ValueError, IndexError):
                    pass
                if time.monotonic() >= limit or self._cancelled(unit):
                    unit.log.write(f"{unit.name}: PID file {path} not readable (yet?) after start; guessing the main process.")
                    break
                time.sleep(POLL)
        with self._cond:
            pgids, invocation = set(unit.pgids), unit.invocation_id
        pids = _proc_pids_of(pgids, f"INVOCATION_ID={invocation}" if invocation else None)
        return min(pids) if pids else None

    def _fail_start(self, unit: _Unit, config: UnitConfig, result: str, *, env: dict | None = None,
                    cwd: str | None = None, run_stop_post: bool = True) -> str:
        """A start failed (or was cancelled): kill what runs, ExecStopPost, return the result."""
        if result == "cancelled":
            result = "success"
        if result == "timeout":
            unit.log.write(f"{unit.name}: start operation timed out. Terminating.")
        if env is None:
            try:
                env = self._environment(unit, config)
            except UnitConfigError:
                env = self._base_env(unit)
        if cwd is None:
            cwd = unit.machine.get("root") or "/"
        if run_stop_post:
            return self._stop_sequence(unit, config, env, cwd, run_exec_stop=False, result=result)
        return result

    def _wait_dependencies(self, unit: _Unit, config: UnitConfig, deadline: float | None) -> str | None:
        """Wait for the After= units loaded on the machine; None when the start may proceed.

        Units that are not loaded on the machine are ignored (``After=docker.service`` on a lab
        machine), as systemd ignores ordering against units without a job.
        """
        required = set(config.deps["Requires"] + config.deps["BindsTo"])
        with self._cond:
            while True:
                if self._cancelled(unit):
                    return "cancelled"
                blocking = []
                for other in self._units.values():
                    if other is unit or other.machine_id != unit.machine_id or other.gone:
                        continue
                    if other.name not in config.deps["After"] and unit.name not in self._config(other).deps["Before"]:
                        continue
                    pending = other.desired == "active" and other.active != "active"
                    if other.active == "active" or (not pending and other.last_result == "success"):
                        continue
                    if not pending and other.last_result is not None:
                        if other.name in required:
                            unit.log.write(f"Dependency failed for {unit.name}: {other.name} failed.")
                            return "dependency"
                        continue
                    blocking.append(other.name)
                if not blocking:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    unit.log.write(f"{unit.name}: timed out waiting for {', '.join(sorted(blocking))} (After=).")
                    return "timeout"
                self._cond.wait(left)

    # -- environment --------------------------------------------------------------------------

    def _base_env(self, unit: _Unit) -> dict[str, str]:
        machine = unit.machine
        ip = str(machine.get("ip", "127.0.0.1"))
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        # python3 on a lab machine is the lab's own interpreter, whatever the caller's PATH finds first (a pyenv
        # shim, or a Python whose site-packages import a lot at start-up, would slow every unit written in Python).
        env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
        env.update({
            "COREOS_PUBLIC_IPV4": ip,
            "COREOS_PRIVATE_IPV4": ip,
            "FLEETLAB_ROOT": str(machine.get("root", "")),
            "CONSUL_HTTP_ADDR": str(machine.get("consul") or f"{ip}:8500"),
            "FLEETLAB_MACHINE_ID": machine["id"],
        })
        env.update({str(k): str(v) for k, v in unit.env.items()})
        if unit.invocation_id:
            env["INVOCATION_ID"] = unit.invocation_id
        env[RUNTIME_MARKER] = self._log_dir
        return env

    def _environment(self, unit: _Unit, config: UnitConfig) -> dict[str, str]:
        env = self._base_env(unit)
        env.update(config.environment)
        for entry in config.environment_files:
            optional = entry.startswith("-")
            pattern = entry[1:] if optional else entry
            if not os.path.isabs(pattern):  # systemd wants absolute paths; fleetlab takes them under the machine root
                pattern = os.path.join(unit.machine.get("root") or "/", pattern)
            paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            if not paths and not optional:
                raise UnitConfigError(f"Failed to load environment files: {pattern} matches nothing")
            for path in paths:
                try:
                    with open(path, encoding="utf-8") as handle:
                        env.update(parse_environment_file(handle.read()))
                except OSError as exc:
                    if not optional:
                        raise UnitConfigError(f"Failed to load environment files: {path}: {exc.strerror}") from exc
        if unit.invocation_id:
            env["INVOCATION_ID"] = unit.invocation_id
        env[RUNTIME_MARKER] = self._log_dir
        return env

    def _working_directory(self, unit: _Unit, config: UnitConfig) -> str:
        root = unit.machine.get("root") or "/"
        if config.working_directory is None:
            return root
        text = config.working_directory
        optional = text.startswith("-")
        text = text[1:] if optional else text
        if text == "~" or text.startswith("~/"):
            text = os.path.expanduser(text)
        path = text if os.path.isabs(text) else os.path.join(root, text)
        if not os.path.isdir(path):
            if optional:
                return root
            raise UnitConfigError(f"Changing to the requested working directory failed: {path}: No such directory "
                                  f"(status={EXIT_CHDIR}/CHDIR)")
        return path

    # -- processes ----------------------------------------------------------------------------

    def _spawn(self, unit: _Unit, command: Command, env: dict[str, str], cwd: str) -> _Proc | None:
        argv = expand_env_argv(command.argv, env) if command.expand_env else list(command.argv)
        if not argv:
            unit.log.write(f"{unit.name}: empty command line after variable expansion: {command.line}")
            return None
        executable = argv[0]
        if not os.path.isabs(executable):
            found = shutil.which(executable, path=env.get("PATH"))
            if not found:
                unit.log.write(f"{unit.name}: Failed to locate executable {executable}: No such file or directory "
                               f"(status={EXIT_EXEC}/EXEC)")
                return None
            executable = found
        args = [command.argv0 if command.argv0 is not None else argv[0]] + argv[1:]
        read_fd, write_fd = os.pipe()
        try:
            popen = subprocess.Popen(  # pylint: disable=consider-using-with  # waited on by _Proc
                args, executable=executable, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                cwd=cwd, env=env, start_new_session=True, close_fds=True)
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            unit.log.write(f"{unit.name}: Failed to execute {executable}: {exc.strerror or exc} (status={EXIT_EXEC}/EXEC)")
            return None
        os.close(write_fd)
        proc = _Proc(popen, read_fd, unit.log, self._wake)
        with self._cond:
            unit.procs.append(proc)
            unit.pgids.add(proc.pid)
        return proc

    def _run_list(self, unit: _Unit, commands: list[Command], env: dict, cwd: str, deadline: float | None,
                  phase: str, *, cancellable: bool = True) -> str:
        """Run control commands in turn: success, exit-code, signal, timeout or cancelled."""
        for command in commands:
            proc = self._spawn(unit, command, env, cwd)
            if proc is None:
                if command.ignore_failure:
                    continue
                return "exit-code"
            outcome = self._wait_proc(unit, proc, deadline, cancellable)
            if outcome in ("timeout", "cancelled"):
                self._kill_group(proc, signal.SIGTERM)
                self._wait_proc(unit, proc, time.monotonic() + KILL_GRACE, False)
                self._kill_group(proc, signal.SIGKILL)
                return outcome
            code = proc.returncode
            if code != 0:
                unit.log.write(f"{unit.name}: Control process ({phase}) exited, {_describe(code)}"
                               + (" (ignored)" if command.ignore_failure else ""))
                if not command.ignore_failure:
                    return "signal" if code is not None and code < 0 else "exit-code"
        return "success"

    def _wait_proc(self, unit: _Unit, proc: _Proc, deadline: float | None, cancellable: bool) -> str:
        with self._cond:
            while proc.running:
                if cancellable and self._cancelled(unit):
                    return "cancelled"
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return "timeout"
                self._cond.wait(left)
        proc.waiter.join()
        return "exited"

    def _supervise(self, unit: _Unit) -> str | None:
        """Watch an active unit: None when a stop was requested, else the result of its exit."""
        if unit.main_pid is not None:
            return self._supervise_forked(unit)
        with self._cond:
            while True:
                if self._cancelled(unit):
                    return None
                main = unit.main
                if main is not None and not main.running:
                    break
                self._cond.wait()
        main.waiter.join()
        config = self._config(unit)
        code = main.returncode
        unit.log.write(f"{unit.name}: Main process exited, {_describe(code)}")
        result = "success" if _clean_exit(code, config) else ("signal" if code < 0 else "exit-code")
        env = self._safe_env(unit, config)
        self._set(unit, "deactivating", "stop")
        return self._stop_sequence(unit, config, env, self._safe_cwd(unit, config), run_exec_stop=True, result=result)

    def _supervise_forked(self, unit: _Unit) -> str | None:
        """Type=forking: the daemon is not our child; poll it until it is gone or a stop arrives."""
        pid = unit.main_pid
        while True:
            with self._cond:
                if self._cancelled(unit):
                    return None
                self._cond.wait(FORKING_POLL)
                if self._cancelled(unit):
                    return None
            if not _pid_alive(pid):
                break
        config = self._config(unit)
        unit.log.write(f"{unit.name}: Main process {pid} exited (exit status unknown: not a child of fleetlab).")
        self._set(unit, "deactivating", "stop")
        return self._stop_sequence(unit, config, self._safe_env(unit, config), self._safe_cwd(unit, config),
                                   run_exec_stop=True, result="success")

    def _safe_env(self, unit: _Unit, config: UnitConfig) -> dict:
        try:
            env = self._environment(unit, config)
        except UnitConfigError:
            env = self._base_env(unit)
        if unit.main is not None:
            env["MAINPID"] = str(unit.main.pid)
        elif unit.main_pid is not None:
            env["MAINPID"] = str(unit.main_pid)
        return env

    def _safe_cwd(self, unit: _Unit, config: UnitConfig) -> str:
        try:
            return self._working_directory(unit, config)
        except UnitConfigError:
            return unit.machine.get("root") or "/"

    def _stop_active(self, unit: _Unit) -> None:
        """Stop an active unit on request (ExecStop, kill, ExecStopPost) and settle its state."""
        config = self._config(unit)
        unit.log.write(f"Stopping {unit.name}...")
        with self._cond:
            unit.job = "stop"
            unit.stop_pending = False
        self._set(unit, "deactivating", "stop")
        self._wait_dependents_down(unit, config)
        result = self._stop_sequence(unit, config, self._safe_env(unit, config), self._safe_cwd(unit, config),
                                     run_exec_stop=True, result="success")
        with self._cond:
            unit.job = None
            unit.last_result = result
            if result == "success":
                unit.active, unit.sub = "inactive", "dead"
                unit.log.write(f"Stopped {unit.name}.")
            else:
                unit.active, unit.sub = "failed", "failed"
                unit.log.write(f"{unit.name}: Failed with result '{result}'.")
            self._emit(unit)
            self._cond.notify_all()

    def _wait_dependents_down(self, unit: _Unit, config: UnitConfig) -> None:
        """Units ordered After= this one and being stopped go down first (reverse order on stop)."""
        deadline = None if config.timeout_stop is None else time.monotonic() + config.timeout_stop
        with self._cond:
            while True:
                waiting = [other for other in self._units.values()
                           if other is not unit and other.machine_id == unit.machine_id and other.desired != "active"
                           and unit.name in self._config(other).deps["After"]
                           and other.active in ("active", "deactivating", "activating")]
                left = None if deadline is None else deadline - time.monotonic()
                if not waiting or (left is not None and left <= 0):
                    return
                self._cond.wait(left)

    def _stop_sequence(self, unit: _Unit, config: UnitConfig, env: dict, cwd: str, *, run_exec_stop: bool,
                       result: str) -> str:
        """ExecStop (if the unit had started), SIGTERM/SIGKILL the rest, ExecStopPost. Returns the result."""
        timeout = config.timeout_stop
        main = unit.main
        main_was_running = main is not None and main.running
        if run_exec_stop and config.exec["ExecStop"]:
            self._set(unit, "deactivating", "stop")
            deadline = None if timeout is None else time.monotonic() + timeout
            outcome = self._run_list(unit, config.exec["ExecStop"], env, cwd, deadline, "stop", cancellable=False)
            if outcome == "timeout":
                unit.log.write(f"{unit.name}: Stopping timed out. Terminating.")
                result = "timeout" if result == "success" else result
        if self._alive(unit):
            self._set(unit, "deactivating", "stop-sigterm")
            self._kill_all(unit, config.kill_signal)
            if not self._wait_dead(unit, timeout):
                unit.log.write(f"{unit.name}: State 'stop-sigterm' timed out. Killing.")
                self._set(unit, "deactivating", "stop-sigkill")
                self._kill_all(unit, signal.SIGKILL)
                self._wait_dead(unit, KILL_GRACE)
                result = "timeout" if result == "success" else result
        if main is not None:
            main.waiter.join(KILL_GRACE)
        if main_was_running and result == "success" and main.returncode is not None:
            code = main.returncode
            if not _clean_exit(code, config) and -code != config.kill_signal:
                result = "exit-code" if code > 0 else "signal"
        if config.exec["ExecStopPost"]:
            self._set(unit, "deactivating", "stop-post")
            post_env = dict(env, SERVICE_RESULT=result)
            if main is not None and main.returncode is not None:
                code = main.returncode
                post_env["EXIT_CODE"] = "exited" if code >= 0 else "killed"
                post_env["EXIT_STATUS"] = str(code) if code >= 0 else signal.Signals(-code).name[3:]
            deadline = None if timeout is None else time.monotonic() + timeout
            self._run_list(unit, config.exec["ExecStopPost"], post_env, cwd, deadline, "stop-post", cancellable=False)
            if self._alive(unit):
                self._kill_all(unit, signal.SIGKILL)
                self._wait_dead(unit, KILL_GRACE)
        with self._cond:
            unit.main = None
            unit.main_pid = None
            unit.procs = [proc for proc in unit.procs if proc.running]
        return result

    def _alive(self, unit: _Unit) -> bool:
        with self._cond:
            pgids = set(unit.pgids)
            invocation = unit.invocation_id
        return bool(_proc_pids_of(pgids, f"INVOCATION_ID={invocation}" if invocation else None))

    def _wait_dead(self, unit: _Unit, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._alive(unit):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            with self._cond:
                self._cond.wait(POLL)
        return True

    def _kill_all(self, unit: _Unit, sig: int) -> None:
        with self._cond:
            pgids = set(unit.pgids)
            invocation = unit.invocation_id
        for pgid in pgids:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in _pids_with_env(f"INVOCATION_ID={invocation}") if invocation else []:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    @staticmethod
    def _kill_group(proc: _Proc, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _should_restart(policy: str, result: str) -> bool:
    if policy == "always":
        return True
    if policy == "on-success":
        return result == "success"
    if policy == "on-failure":
        return result != "success"
    if policy == "on-abnormal":
        return result in ("signal", "timeout", "core-dump", "watchdog")
    if policy == "on-abort":
        return result in ("signal", "core-dump")
    if policy == "on-watchdog":
        return result == "watchdog"
    return False


def _clean_exit(code: int | None, config: UnitConfig) -> bool:
    if code is None:
        return False
    if code >= 0:
        return code in config.success_codes
    return -code in _CLEAN_SIGNALS or -code in config.success_signals


def _describe(code: int | None) -> str:
    if code is None:
        return "code=unknown"
    if code >= 0:
        return f"code=exited, status={code}/{'SUCCESS' if code == 0 else 'FAILURE'}"
    try:
        name = signal.Signals(-code).name[3:]
    except ValueError:
        name = str(-code)
    return f"code=killed, status={-code}/{name}"
