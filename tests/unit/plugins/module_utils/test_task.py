# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task unit: names, validation, line lengths, command transport, redaction (pure functions)."""

from __future__ import annotations

import base64
import re
import subprocess

import pytest

from ansible_collections.houston.stack.plugins.module_utils import _task as tasks
from ansible_collections.houston.stack.plugins.module_utils import _unitfile as unitfile
from ansible_collections.houston.stack.plugins.module_utils._naming import InvalidName, read_marker, split_unit_name

MACHINES = [{"id": "aa" * 16, "primaryIP": "10.0.0.1", "metadata": {"role": "web"}},
            {"id": "ab" * 16, "primaryIP": "10.0.0.2", "metadata": {"role": "worker"}}]


def build(script="echo hi\n", **kwargs):
    unit = tasks.task_unit_name("shop", "migrate", "v3", "0a1b2c3d")
    return unit, tasks.task_options("shop", "v3", "migrate", unit, script, **kwargs)


def env_of(options):
    out = {}
    for opt in options:
        if opt["name"] == "Environment":
            value = opt["value"]
            if value.startswith('"'):
                value = value[1:-1]
            name, _eq, val = value.partition("=")
            out[name] = val
    return out


def test_unit_name_carries_stack_task_suffix_and_version():
    name = tasks.task_unit_name("shop", "migrate", "v3", "0a1b2c3d")
    assert name == "shop-task-migrate-0a1b2c3d@v3.service"
    assert split_unit_name(name) == ("shop-task-migrate-0a1b2c3d", "v3", "service")


def test_two_runs_get_different_names():
    assert tasks.new_suffix() != tasks.new_suffix()
    assert re.match(r"^[0-9a-f]{8}$", tasks.new_suffix())


@pytest.mark.parametrize("stack,task,version,suffix", [
    ("shop", "bad name", "v1", "0a1b2c3d"), ("shop", "x" * 51, "v1", "0a1b2c3d"), ("shop", "ok", "v..1", "0a1b2c3d"),
    ("-shop", "ok", "v1", "0a1b2c3d"), ("shop", "ok", "v1", "XYZ"),
])
def test_invalid_names_are_refused(stack, task, version, suffix):
    with pytest.raises(InvalidName):
        tasks.task_unit_name(stack, task, version, suffix)


def test_unit_has_marker_with_task_and_is_valid_for_fleet():
    unit, (options, _secret) = build()
    assert read_marker(options) == {"stack": "shop", "version": "v3", "owner": "houston.stack"}
    assert {"section": "X-Houston", "name": "Task", "value": "migrate"} in options
    assert unitfile.validate(unitfile.check_options(options))
    assert env_of(options)["HOUSTON_TASK_KEY"] == f"houston/shop/tasks/{unit}"


def test_long_command_keeps_every_line_short_and_round_trips():
    script = "".join(f"echo line {i} with some padding to make it long\n" for i in range(600))
    assert len(script) > 24000
    _unit, (options, _secret) = build(script)
    text = unitfile.render(options)
    assert max(len(line.encode()) for line in text.splitlines()) < tasks.MAX_UNIT_LINE
    env = env_of(options)
    parts = [env[f"HOUSTON_TASK_COMMAND_{i}"] for i in range(len([k for k in env if k.startswith("HOUSTON_TASK_COMMAND_")]))]
    assert all(len(p) % 4 == 0 for p in parts[:-1])
    # each ExecStartPre line decodes its own part: decoding separately and concatenating gives the script
    assert b"".join(base64.b64decode(p) for p in parts).decode() == script
    decoders = [o for o in options if o["name"] == "ExecStartPre" and "base64 -d" in o["value"]]
    assert len(decoders) == len(parts)


def test_too_long_command_is_refused():
    with pytest.raises(tasks.TaskError, match="at most"):
        tasks.command_script("x" * (tasks.MAX_COMMAND_BYTES + 1))


def test_unit_shell_uses_no_systemd_specifier_or_escape():
    _unit, (options, _secret) = build()
    for opt in options:
        if opt["name"].startswith("Exec"):
            assert "%" not in opt["value"] and "\\" not in opt["value"]
            body = opt["value"].split("'", 1)[1]
            assert body.endswith("'") and "'" not in body[:-1]
            assert not re.search(r"(?<!\$)\$(?!\$)", opt["value"].replace("$$", "")), "every shell dollar is doubled"


def test_argv_is_quoted_word_by_word():
    script = tasks.command_script(argv=["printf", "<%s>\n", "two words", "$HOME", "it's"])
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "<two words>\n<$HOME>\n<it's>\n"


@pytest.mark.parametrize("command,argv", [(None, None), ("echo", ["echo"]), ("  ", None), (None, []), (None, ["", "x"])])
def test_command_xor_argv(command, argv):
    with pytest.raises(tasks.TaskError):
        tasks.command_script(command, argv)


def test_environment_is_quoted_for_systemd_and_secrets_are_redacted():
    env = {"GREETING": 'say "hi" 100% \\o/', "DB_PASSWORD": "s3cret", "DATABASE_URL": "postgres://u:pw@db/x", "N": 3}
    _unit, (options, secret) = build(environment=env)
    assert sorted(secret) == ["DATABASE_URL", "DB_PASSWORD"]
    lines = [o["value"] for o in options if o["name"] == "Environment" and o["value"].startswith('"')]
    assert '"GREETING=say \\"hi\\" 100%% \\\\o/"' in lines and '"N=3"' in lines
    redacted = unitfile.render(tasks.redact_options(options, secret))
    assert "s3cret" not in redacted and "u:pw@" not in redacted
    assert '"DB_PASSWORD=********"' in redacted and '"GREETING=say' in redacted


@pytest.mark.parametrize("env", [{"1BAD": "x"}, {"HOUSTON_TASK_KEY": "x"}, {"A": ["list"]}, {"BIG": "x" * 1500}])
def test_bad_environment_is_refused(env):
    with pytest.raises(tasks.TaskError):
        build(environment=env)


def test_machine_selection_options():
    assert tasks.machine_options(machine_id="ab" * 16) == [{"section": "X-Fleet", "name": "MachineID", "value": "ab" * 16}]
    opts = tasks.machine_options(metadata={"role": ["web", "worker"], "az": "a"})
    assert [o["value"] for o in opts] == ["az=a", "role=web", "role=worker"]
    assert [m["id"] for m in unitfile.expected_machines(opts[1:], MACHINES)] == ["aa" * 16, "ab" * 16]
    with pytest.raises(tasks.TaskError):
        tasks.machine_options(metadata={"role": "a b"})
    with pytest.raises(tasks.TaskError):
        tasks.machine_options(machine_id="ab" * 16, metadata={"role": "web"})


def test_resolve_machine_by_full_or_short_id():
    assert tasks.resolve_machine("ab" * 16, MACHINES)["primaryIP"] == "10.0.0.2"
    assert tasks.resolve_machine("ABABABAB", MACHINES)["primaryIP"] == "10.0.0.2"
    with pytest.raises(tasks.TaskError, match="first 8"):
        tasks.resolve_machine("abab", MACHINES)
    twins = [{"id": "12345678" + "0" * 24}, {"id": "12345678" + "f" * 24}]
    with pytest.raises(tasks.TaskError, match="matches 2 machines"):
        tasks.resolve_machine("12345678", twins)
    with pytest.raises(tasks.TaskError, match="no fleet machine"):
        tasks.resolve_machine("cccccccc", MACHINES)


def test_output_limit_bounded_by_consul_value_size():
    with pytest.raises(tasks.TaskError):
        build(output_limit=600 * 1024)
    _unit, (options, _secret) = build(output_limit=1000)
    assert env_of(options)["HOUSTON_TASK_OUTPUT_LIMIT"] == "1000"


def test_token_never_in_unit_only_the_token_file_path():
    _unit, (options, _secret) = build(token_file="/etc/houston/consul-token")
    text = unitfile.render(options)
    assert "HOUSTON_TASK_TOKEN_FILE=/etc/houston/consul-token" in text
    assert "X-Consul-Token:$$t" in text  # read from the file at run time
    with pytest.raises(tasks.TaskError):
        build(token_file="relative/path")


@pytest.mark.parametrize("raw,expected", [(b"0", 0), (b"124\n", 124), (b"stopped", "stopped"), (b"", None), (b"x", None)])
def test_parse_status(raw, expected):
    assert tasks.parse_status(raw) == expected
