# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Labs, fleetlab's admin API, playbook runs and request counting for the bench."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.proxy import CountingProxy
from bench.report import read_task_timings

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
COLLECTIONS = REPO / ".cache" / "collections"
EXAMPLE = REPO / "examples" / "lab"
BENCH_METADATA = [{"role": "web", "az": "a", "service": "example"}, {"role": "web", "az": "b", "service": "example"},
                  {"role": "worker", "az": "a"}]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def ensure_collection_link() -> None:
    link = COLLECTIONS / "ansible_collections" / "houston" / "stack"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO)


def _http_json(method: str, url: str, timeout: float = 30):
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        body = answer.read()
    return json.loads(body) if body else None


class Lab:
    """A lab started with ``python -m lab`` (fresh: an earlier lab in the same directory is stopped first)."""

    def __init__(self, lab_dir: Path, net: str, virtual: int | None = None, metadata: list | None = None,
                 processes: bool = True):
        self.lab_dir = Path(lab_dir)
        self.net = net
        self.virtual = virtual
        self.metadata = metadata
        self.processes = processes
        self.env: dict[str, str] = {}

    def _lab_env(self) -> dict:
        env = dict(os.environ, LAB_DIR=str(self.lab_dir), LAB_NET=self.net)
        env.pop("LAB_VIRTUAL", None)
        env.pop("LAB_NO_PROCESS", None)
        if not self.processes:
            env["LAB_NO_PROCESS"] = "1"
        if self.virtual:
            env["LAB_VIRTUAL"] = str(self.virtual)
        if self.metadata:
            env["LAB_METADATA"] = json.dumps(self.metadata)
        return env

    def _run(self, command: str) -> None:
        result = subprocess.run([str(VENV_BIN / "python"), "-m", "lab", command], cwd=REPO, env=self._lab_env(),
                                capture_output=True, text=True, check=False)
        if result.returncode != 0 and command != "down":
            raise RuntimeError(f"python -m lab {command} (LAB_DIR={self.lab_dir}): {result.stderr.strip()}")

    def up(self) -> "Lab":
        self._run("down")
        started = time.monotonic()
        self._run("up")
        for line in (self.lab_dir / "env").read_text(encoding="utf-8").splitlines():
            if line.startswith("export "):
                key, _sep, value = line[len("export "):].partition("=")
                self.env[key] = shlex.split(value)[0] if value else ""
        self.machines = json.loads((self.lab_dir / "machines.json").read_text(encoding="utf-8"))
        log(f"lab {self.lab_dir} up in {time.monotonic() - started:.1f}s (virtual={self.virtual or 0})")
        return self

    def down(self) -> None:
        self._run("down")

    # fleetlab admin API
    @property
    def admin(self) -> str:
        return self.env["FLEETLAB_ADMIN_URL"]

    def fleet_stats(self) -> dict:
        return _http_json("GET", f"{self.admin}/stats")

    def reset_fleet_stats(self) -> None:
        _http_json("POST", f"{self.admin}/stats/reset")

    def timings(self) -> dict:
        return _http_json("GET", f"{self.admin}/timings")

    def fleet_units(self) -> list[dict]:
        units, token = [], None
        while True:
            url = f"{self.env['FLEETLAB_URL']}/fleet/v1/units" + (f"?nextPageToken={token}" if token else "")
            page = _http_json("GET", url)
            units += page.get("units") or []
            token = page.get("nextPageToken")
            if not token:
                return units

    def stack_units(self, stack: str) -> list[str]:
        """Names of the units whose X-Houston marker names ``stack``, in fleet's order."""
        names = []
        for unit in self.fleet_units():
            marker = {o["name"]: o["value"] for o in unit.get("options", []) if o["section"] == "X-Houston"}
            if marker.get("Stack") == stack:
                names.append(unit["name"])
        return names

    def consul_instances(self, service: str) -> list:
        return _http_json("GET", f"http://{self.env['CONSUL_HTTP_ADDR']}/v1/catalog/service/{service}")

    def wait_clean(self, prefix: str, service: str | None = None, timeout: float = 90) -> bool:
        """Wait until fleet has no unit starting with ``prefix`` and Consul no instance of ``service``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = [u["name"] for u in self.fleet_units() if u["name"].startswith(prefix)]
            if not left and not (service and self.consul_instances(service)):
                return True
            time.sleep(0.2)
        return False


class Counting:
    """Resets then reads fleetlab's stats and the Consul proxy's counts around a measured step."""

    def __init__(self, lab: Lab, proxy: CountingProxy):
        self.lab, self.proxy = lab, proxy

    def __enter__(self):
        self.lab.reset_fleet_stats()
        self.proxy.counter.reset()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = round(time.monotonic() - self.started, 3)
        fleet = self.lab.fleet_stats()
        consul = self.proxy.counter.snapshot()
        self.requests = {"fleet": {"reads": fleet["reads"], "writes": fleet["writes"], "by_path": fleet["by_path"]},
                         "consul": {"reads": consul["reads"], "writes": consul["writes"], "by_path": consul["by_path"]}}
        return False


def ansible_env(lab: Lab, consul_address: str, timings_file: str | None = None, config: Path | None = None) -> dict:
    env = dict(os.environ)
    for name in ("CONSUL_HTTP_TOKEN", "CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT",
                 "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY"):
        env.pop(name, None)
    env.update(lab.env)
    env.update({
        "CONSUL_HTTP_ADDR": consul_address,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CONFIG": str(config or EXAMPLE / "ansible.cfg"),
        "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "bench" / "callback"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    if timings_file:
        env["BENCH_TIMINGS_FILE"] = timings_file
    return env


def run_playbook(lab: Lab, proxy: CountingProxy, playbook: str, inventory: Path, extra_vars: dict | None = None,
                 cwd: Path | None = None, name: str = "") -> dict:
    """Run ``ansible-playbook`` and measure it: wall seconds, exit code, requests, per task durations."""
    with tempfile.NamedTemporaryFile(prefix="bench-timings-", suffix=".jsonl", delete=False) as handle:
        timings_file = handle.name
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), playbook]
    for key, value in (extra_vars or {}).items():
        argv += ["-e", f"{key}={value}"] if isinstance(value, str) else ["-e", json.dumps({key: value})]
    env = ansible_env(lab, proxy.address, timings_file)
    with Counting(lab, proxy) as counting:
        result = subprocess.run(argv, cwd=cwd or EXAMPLE, env=env, capture_output=True, text=True, check=False)
    tasks = read_task_timings(timings_file)
    os.unlink(timings_file)
    record = {"name": name or playbook, "seconds": counting.seconds, "rc": result.returncode,
              "requests": counting.requests, "tasks": tasks}
    if result.returncode != 0:
        record["error"] = (result.stdout[-3000:] + result.stderr[-1000:]).strip()
        log(f"{name}: ansible-playbook {playbook} failed (rc {result.returncode}):\n{record['error'][-1500:]}")
    else:
        log(f"{name}: {counting.seconds:.2f}s")
    return record


def run_command(lab: Lab, proxy: CountingProxy, argv: list[str], name: str, cwd: Path | None = None) -> dict:
    with Counting(lab, proxy) as counting:
        result = subprocess.run(argv, cwd=cwd or REPO, capture_output=True, text=True, check=False)
    record = {"name": name, "seconds": counting.seconds, "rc": result.returncode, "requests": counting.requests}
    if result.returncode != 0:
        record["error"] = (result.stdout[-1500:] + result.stderr[-1500:]).strip()
    log(f"{name}: {counting.seconds:.2f}s rc={result.returncode}")
    return record


def ansible_startup(lab: Lab, proxy: CountingProxy, attempts: int = 2) -> float:
    """Wall time of ``ansible-playbook`` running an empty play on localhost (best of ``attempts``, at least two)."""
    with tempfile.TemporaryDirectory(prefix="bench-empty-") as tmp:
        play = Path(tmp) / "empty.yml"
        play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks: []\n", encoding="utf-8")
        times = []
        for _attempt in range(max(2, attempts)):
            started = time.monotonic()
            subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(EXAMPLE / "inventory"), str(play)],
                           cwd=EXAMPLE, env=ansible_env(lab, proxy.address), capture_output=True, check=True)
            times.append(time.monotonic() - started)
    return round(min(times), 3)
