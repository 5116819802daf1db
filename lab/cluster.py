# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab cluster: one Consul server, one Consul client agent per machine, and fleetlab.

Everything binds to loopback addresses of ``LAB_NET`` (default ``127.0.0``): the server on
``<net>.10``, machine ``i`` (0-based) on ``<net>.<11+i>``, fleetlab's TCP listener on
``<net>.1`` and its unix socket at ``<LAB_DIR>/fleet.sock``.

Configuration comes from the environment (see :meth:`LabConfig.from_env`). State lives in
``LAB_DIR``:

``state.json``     processes started by ``up`` (pid, start time, argv), written as they start
``env``            ``export`` lines for shells, tests and examples (written once healthy)
``machines.json``  the machines: ``[{id, ip, consul, metadata, root}]``
``consul/``        Consul data directories (wiped by ``up``)
``machines/<id>/`` each machine's root directory
``fleetlab/``      fleetlab's state directory; ``fleetlab.json`` its ready file
``logs/``          one log per process
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lab import consul_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_METADATA = [{"role": "web", "az": "a"}, {"role": "web", "az": "b"}, {"role": "worker", "az": "a"}]
VIRTUAL_REAL_MACHINES = 3
CONSUL_HTTP_PORT = 8500
SERVER_PORTS = {8300: "RPC", 8301: "serf LAN", 8302: "serf WAN", 8500: "HTTP API"}
CLIENT_PORTS = {8301: "serf LAN", 8500: "HTTP API"}
UDP_PORTS = {8301, 8302}


class LabError(RuntimeError):
    """A lab operation failed; the message says what and what to do."""


@dataclasses.dataclass
class LabConfig:
    """Where and how big the lab is."""

    lab_dir: Path
    net: str = "127.0.0"
    machines: int = 3
    virtual: int = 0
    metadata: list = dataclasses.field(default_factory=lambda: list(DEFAULT_METADATA))
    cache_dir: Path = REPO_ROOT / ".lab" / "cache"
    timeout: float = 60.0
    fleetlab: bool = True
    processes: bool = True

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "LabConfig":
        """Build the configuration from ``LAB_DIR``, ``LAB_NET``, ``LAB_MACHINES``, ``LAB_VIRTUAL``,
        ``LAB_METADATA`` (JSON list of dicts), ``LAB_CACHE``, ``LAB_TIMEOUT`` (seconds to wait for
        readiness), ``LAB_NO_FLEETLAB`` (set to 1 to start Consul only) and ``LAB_NO_PROCESS`` (set to 1 to run
        every unit in fleetlab's virtual runtime, the real machines' too)."""
        env = os.environ if environ is None else environ
        net = env.get("LAB_NET") or "127.0.0"
        parts = net.split(".")
        if len(parts) != 3 or parts[0] != "127" or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
            raise LabError(f"LAB_NET={net!r} must be three octets of the loopback network, e.g. 127.0.0")
        metadata = DEFAULT_METADATA
        if env.get("LAB_METADATA"):
            try:
                metadata = json.loads(env["LAB_METADATA"])
            except ValueError as exc:
                raise LabError(f"LAB_METADATA is not valid JSON: {exc}") from exc
            if not isinstance(metadata, list) or not metadata or not all(isinstance(m, dict) for m in metadata):
                raise LabError("LAB_METADATA must be a non-empty JSON list of objects, one per machine")
        try:
            machines = int(env.get("LAB_MACHINES") or 3)
            virtual = int(env.get("LAB_VIRTUAL") or 0)
            timeout = float(env.get("LAB_TIMEOUT") or 60)
        except ValueError as exc:
            raise LabError(f"LAB_MACHINES, LAB_VIRTUAL and LAB_TIMEOUT must be numbers: {exc}") from exc
        if not 1 <= machines <= 200:
            raise LabError(f"LAB_MACHINES={machines} must be between 1 and 200")
        if virtual:
            machines = min(machines, VIRTUAL_REAL_MACHINES)
        lab_dir = Path(env.get("LAB_DIR") or REPO_ROOT / ".lab").resolve()
        cache = Path(env.get("LAB_CACHE") or REPO_ROOT / ".lab" / "cache").resolve()
        return cls(lab_dir=lab_dir, net=net, machines=machines, virtual=virtual, metadata=metadata,
                   cache_dir=cache, timeout=timeout, fleetlab=env.get("LAB_NO_FLEETLAB", "") in ("", "0"),
                   processes=env.get("LAB_NO_PROCESS", "") in ("", "0"))

    @property
    def server_ip(self) -> str:
        return f"{self.net}.10"

    @property
    def fleetlab_host(self) -> str:
        return f"{self.net}.1"

    @property
    def consul_address(self) -> str:
        return f"{self.server_ip}:{CONSUL_HTTP_PORT}"

    def machine_ip(self, index: int) -> str:
        return f"{self.net}.{11 + index}"

    def path(self, *parts: str) -> Path:
        return self.lab_dir.joinpath(*parts)


def machine_id(ip: str) -> str:
    """Deterministic fleet machine id of the machine at ``ip``: first 32 hex of sha256(ip)."""
    return hashlib.sha256(ip.encode()).hexdigest()[:32]


def machine_list(config: LabConfig) -> list[dict]:
    """The machines.json content for ``config``."""
    machines = []
    for index in range(config.machines):
        ip = config.machine_ip(index)
        mid = machine_id(ip)
        machines.append({
            "id": mid,
            "ip": ip,
            "consul": f"{ip}:{CONSUL_HTTP_PORT}",
            "metadata": dict(config.metadata[index % len(config.metadata)]),
            "root": str(config.path("machines", mid)),
        })
    return machines


# ---------------------------------------------------------------------------- processes

def _proc_start_time(pid: int) -> str | None:
    """Start time of ``pid`` (clock ticks since boot), None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def _alive(proc: dict) -> bool:
    """True when the recorded process still runs (same pid and same start time)."""
    return _proc_start_time(proc["pid"]) == proc["start"]


def _listener_owner(ip: str, port: int) -> str:
    """Describe the process listening on ip:port (or 0.0.0.0:port), best effort via /proc."""
    wanted = set()
    for table in ("/proc/net/tcp", "/proc/net/udp"):
        try:
            lines = Path(table).read_text(encoding="utf-8").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) != port:
                continue
            local = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
            if local in (ip, "0.0.0.0"):
                wanted.add(fields[9])
    if not wanted:
        return ""
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            for fd in (pid_dir / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in wanted:
                    cmd = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    return f" by pid {pid_dir.name} ({cmd[:120]})"
        except OSError:
            continue
    return ""


def check_addresses(config: LabConfig) -> None:
    """Raise LabError naming the first address:port of the lab that is already taken."""
    wanted = [(config.server_ip, port, f"Consul server {what}") for port, what in SERVER_PORTS.items()]
    for index in range(config.machines):
        wanted += [(config.machine_ip(index), port, f"Consul agent of machine {index + 1} {what}")
                   for port, what in CLIENT_PORTS.items()]
    for ip, port, what in wanted:
        kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if port in UDP_PORTS else [])
        for kind in kinds:
            sock = socket.socket(socket.AF_INET, kind)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((ip, port))
            except OSError as exc:
                proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
                raise LabError(
                    f"cannot start the lab: {ip}:{port}/{proto} ({what}) is already in use{_listener_owner(ip, port)}: "
                    f"{exc.strerror}. Stop whatever holds it (another lab: `make lab-down` with its LAB_DIR) "
                    f"or choose another LAB_NET."
                ) from exc
            finally:
                sock.close()


def _http_json(url: str, timeout: float = 2.0):
    # A private opener: ansible's urls.Request installs a process-wide opener bound to the unix socket it
    # last used, and the launcher runs inside test processes that also drive the collection's clients.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
        return json.loads(resp.read().decode() or "null")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def fleetlab_available() -> bool:
    """True once lab/fleetlab/__main__.py exists (fleetlab is written separately from the launcher)."""
    try:
        return importlib.util.find_spec("lab.fleetlab.__main__") is not None
    except ImportError:
        return False


# ---------------------------------------------------------------------------- the lab

class Lab:
    """Start, stop and inspect the lab described by a LabConfig."""

    def __init__(self, config: LabConfig, out=None):
        self.config = config
        self.out = out or sys.stdout

    # -- state
    @property
    def state_file(self) -> Path:
        return self.config.path("state.json")

    def _say(self, message: str) -> None:
        print(f"lab: {message}", file=self.out, flush=True)

    def read_state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write_state(self, state: dict) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.state_file)

    def running_processes(self) -> list[dict]:
        state = self.read_state() or {}
        return [p for p in state.get("processes", []) if _alive(p)]

    def is_running(self) -> bool:
        return bool(self.running_processes())

    # -- up
    def up(self) -> None:
        """Start the lab; refuse when it runs already; clean the state of a crashed run."""
        cfg = self.config
        state = self.read_state()
        if state is not None:
            alive = [p for p in state.get("processes", []) if _alive(p)]
            if alive:
                pids = ", ".join(f"{p['name']}={p['pid']}" for p in alive)
                raise LabError(f"the lab in {cfg.lab_dir} is already running ({pids}); "
                               f"use `make lab-status`, or `make lab-down` first")
            self._say(f"cleaning stale state of a crashed lab in {cfg.lab_dir}")
            self._clean_runtime_files()
        check_addresses(cfg)
        binary = consul_binary.find_consul(cfg.cache_dir)
        self._say(f"using {consul_binary.consul_version(binary)} ({binary})")
        cfg.lab_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cfg.path("consul"), ignore_errors=True)
        shutil.rmtree(cfg.path("fleetlab"), ignore_errors=True)
        shutil.rmtree(cfg.path("machines"), ignore_errors=True)
        cfg.path("logs").mkdir(exist_ok=True)
        state = {"lab_dir": str(cfg.lab_dir), "net": cfg.net, "started": time.time(), "processes": []}
        self._write_state(state)
        try:
            self._start_consul(binary, state)
            machines = machine_list(cfg)
            for machine in machines:
                Path(machine["root"]).mkdir(parents=True, exist_ok=True)
            (cfg.path("machines.json")).write_text(json.dumps(machines, indent=2) + "\n", encoding="utf-8")
            self._wait_consul(state)
            fleet = None
            if cfg.fleetlab and fleetlab_available():
                fleet = self._start_fleetlab(state)
            elif cfg.fleetlab:
                self._say("note: lab/fleetlab/__main__.py does not exist yet; Consul only, no FLEETCTL_ENDPOINT/FLEETLAB_URL in env")
            self._write_env(fleet)
        except BaseException:
            self._say("start failed; stopping what was started")
            self.down(quiet=True)
            raise
        self._say(f"up: Consul {cfg.consul_address} leader elected, {cfg.machines + 1} members; "
                  f"env in {cfg.path('env')}")

    def _spawn(self, state: dict, name: str, argv: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
        log = open(self.config.path("logs", f"{name}.log"), "ab")  # pylint: disable=consider-using-with
        try:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                    cwd=cwd, env=env, start_new_session=True)
        finally:
            log.close()
        record = {"name": name, "pid": proc.pid, "start": None, "argv": argv}
        for _attempt in range(100):
            record["start"] = _proc_start_time(proc.pid)
            if record["start"]:
                break
            time.sleep(0.01)
        state["processes"].append(record)
        self._write_state(state)
        self._popen = getattr(self, "_popen", {})
        self._popen[name] = proc
        return record

    def _start_consul(self, binary: Path, state: dict) -> None:
        cfg = self.config
        common = ["-dns-port=-1", "-grpc-port=-1", "-log-level=info", "-disable-host-node-id"]
        server = cfg.server_ip
        self._spawn(state, "consul-server", [
            str(binary), "agent", "-server", "-bootstrap-expect=1", "-node=lab-server",
            f"-bind={server}", f"-advertise={server}", f"-client={server}",
            f"-data-dir={cfg.path('consul', 'server')}", "-hcl=performance { raft_multiplier = 1 }", *common])
        for index, machine in enumerate(machine_list(cfg)):
            ip = machine["ip"]
            self._spawn(state, f"consul-machine-{index + 1}", [
                str(binary), "agent", f"-node=machine-{index + 1}",
                f"-bind={ip}", f"-advertise={ip}", f"-client={ip}",
                f"-data-dir={cfg.path('consul', f'machine-{index + 1}')}",
                f"-node-meta=fleet_machine_id:{machine['id']}",
                f"-retry-join={server}", "-retry-interval=1s",
                # the whole lab stops at once: skip the graceful leave (3-5 s per agent)
                "-hcl=leave_on_terminate = false", *common])

    def _check_children(self, state: dict) -> None:
        for proc in state["processes"]:
            if not _alive(proc):
                log = self.config.path("logs", f"{proc['name']}.log")
                raise LabError(f"{proc['name']} (pid {proc['pid']}) exited during start-up; last lines of {log}:\n{_tail(log)}")

    def _wait_consul(self, state: dict) -> None:
        cfg = self.config
        deadline = time.monotonic() + cfg.timeout
        expected = cfg.machines + 1
        last = "no answer from the server"
        delay = 0.05
        while time.monotonic() < deadline:
            self._check_children(state)
            try:
                leader = _http_json(f"http://{cfg.consul_address}/v1/status/leader")
                members = _http_json(f"http://{cfg.consul_address}/v1/agent/members")
                nodes = _http_json(f"http://{cfg.consul_address}/v1/catalog/nodes")
                alive = [m for m in members if m.get("Status") == 1]
                last = f"leader {leader!r}, {len(alive)}/{expected} members alive, {len(nodes)}/{expected} catalog nodes"
                if leader and len(alive) == expected and len(nodes) == expected:
                    clients_ready = all(_http_json(f"http://{m['consul']}/v1/status/leader") for m in machine_list(cfg))
                    if clients_ready:
                        return
                    last += ", client agents not yet synced"
            except (OSError, ValueError) as exc:
                last = f"{cfg.consul_address}: {exc}"
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise LabError(f"Consul did not become ready within {cfg.timeout:.0f}s ({last}); "
                       f"logs in {cfg.path('logs')}")

    def _start_fleetlab(self, state: dict) -> dict:
        cfg = self.config
        ready = cfg.path("fleetlab.json")
        ready.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "lab.fleetlab", "serve",
                "--machines", str(cfg.path("machines.json")), "--socket", str(cfg.path("fleet.sock")),
                "--host", cfg.fleetlab_host, "--port", "0", "--state-dir", str(cfg.path("fleetlab")),
                "--ready-file", str(ready)]
        if cfg.virtual:
            argv += ["--virtual", str(cfg.virtual)]
        if not cfg.processes:
            argv.append("--no-process")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        self._spawn(state, "fleetlab", argv, cwd=REPO_ROOT, env=env)
        deadline = time.monotonic() + cfg.timeout
        delay = 0.05
        while time.monotonic() < deadline:
            self._check_children(state)
            try:
                info = json.loads(ready.read_text(encoding="utf-8"))
                if info.get("url"):
                    return info
            except (OSError, ValueError):
                pass
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        log = cfg.path("logs", "fleetlab.log")
        raise LabError(f"fleetlab wrote no ready file {ready} within {cfg.timeout:.0f}s; last lines of {log}:\n{_tail(log)}")

    def _write_env(self, fleet: dict | None) -> None:
        cfg = self.config
        lines = [
            f"export LAB_DIR={cfg.lab_dir}",
            f"export LAB_NET={cfg.net}",
            f"export CONSUL_HTTP_ADDR={cfg.consul_address}",
        ]
        if fleet:
            url = fleet["url"].rstrip("/")
            lines += [
                f"export FLEETCTL_ENDPOINT=unix://{cfg.path('fleet.sock')}",
                f"export FLEETLAB_URL={url}",
                f"export FLEETLAB_ADMIN_URL={url}/fleetlab/v1",
            ]
        tmp = cfg.path("env.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(cfg.path("env"))

    # -- down
    def _clean_runtime_files(self) -> None:
        for name in ("state.json", "env", "fleetlab.json", "fleet.sock"):
            self.config.path(name).unlink(missing_ok=True)

    def down(self, quiet: bool = False) -> bool:
        """Stop every process of the lab by PID (fleetlab first, then the Consul agents).

        Returns False when nothing was running."""
        state = self.read_state()
        if state is None:
            if not quiet:
                self._say(f"not running (no state in {self.config.lab_dir})")
            self._clean_runtime_files()
            return False
        procs = state.get("processes", [])
        fleet = [p for p in procs if p["name"] == "fleetlab"]
        clients = [p for p in procs if p["name"].startswith("consul-machine-")]
        server = [p for p in procs if p["name"] == "consul-server"]
        others = [p for p in procs if p not in fleet + clients + server]
        stopped = 0
        for group, grace in ((fleet + others, 60.0), (clients + server, 15.0)):
            stopped += self._terminate(group, grace)
        self._clean_runtime_files()
        if not quiet:
            self._say(f"down: stopped {stopped} process(es) of {self.config.lab_dir}")
        return True

    def _terminate(self, procs: list[dict], grace: float) -> int:
        live = [p for p in procs if _alive(p)]
        for proc in live:
            try:
                os.kill(proc["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in live):
            self._reap()
            time.sleep(0.05)
        for proc in live:
            if _alive(proc):
                self._say(f"{proc['name']} (pid {proc['pid']}) ignored SIGTERM for {grace:.0f}s; killing it")
                try:
                    os.killpg(proc["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    os.kill(proc["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._reap()
        return len(live)

    def _reap(self) -> None:
        for proc in getattr(self, "_popen", {}).values():
            proc.poll()

    # -- status
    def health(self) -> tuple[bool, str]:
        """(healthy, reason): all processes alive, leader elected, every agent a live member."""
        state = self.read_state()
        if state is None:
            return False, "not running"
        dead = [p["name"] for p in state.get("processes", []) if not _alive(p)]
        if dead:
            return False, "dead processes: " + ", ".join(dead)
        if not self.config.path("env").exists():
            return False, "env file missing (start did not complete)"
        try:
            leader = _http_json(f"http://{self.config.consul_address}/v1/status/leader")
            members = _http_json(f"http://{self.config.consul_address}/v1/agent/members")
        except (OSError, ValueError) as exc:
            return False, f"Consul server {self.config.consul_address} does not answer: {exc}"
        if not leader:
            return False, "no Consul leader"
        alive = [m for m in members if m.get("Status") == 1]
        expected = len([p for p in state["processes"] if p["name"].startswith("consul-")])
        if len(alive) != expected:
            return False, f"{len(alive)}/{expected} Consul members alive"
        return True, "healthy"

    def ensure(self) -> None:
        """Start the lab unless it is already running and healthy."""
        healthy, reason = self.health()
        if healthy:
            self._say(f"already up and healthy ({self.config.lab_dir})")
            return
        if self.read_state() is not None:
            self._say(f"restarting: {reason}")
            self.down(quiet=True)
        self.up()

    def status(self) -> bool:
        """Print members, leader, fleetlab URL and machines; return health."""
        cfg = self.config
        healthy, reason = self.health()
        print(f"lab {cfg.lab_dir} (LAB_NET={cfg.net}): {reason}", file=self.out)
        if self.read_state() is None:
            return False
        try:
            leader = _http_json(f"http://{cfg.consul_address}/v1/status/leader")
            members = _http_json(f"http://{cfg.consul_address}/v1/agent/members")
            print(f"consul leader: {leader}", file=self.out)
            print("consul members:", file=self.out)
            for member in sorted(members, key=lambda m: m["Addr"]):
                status = {1: "alive", 2: "leaving", 3: "left", 4: "failed"}.get(member.get("Status"), str(member.get("Status")))
                role = member.get("Tags", {}).get("role", "")
                print(f"  {member['Name']:<14} {member['Addr']:<15} {status:<7} {role}", file=self.out)
        except (OSError, ValueError) as exc:
            print(f"consul: {cfg.consul_address} does not answer: {exc}", file=self.out)
        env = read_env(cfg.lab_dir)
        print(f"fleetlab: {env.get('FLEETLAB_URL', 'not running')}", file=self.out)
        if env.get("FLEETCTL_ENDPOINT"):
            print(f"fleet endpoint: {env['FLEETCTL_ENDPOINT']}", file=self.out)
        print("machines:", file=self.out)
        for machine in read_machines(cfg.lab_dir):
            meta = ",".join(f"{k}={v}" for k, v in machine["metadata"].items())
            print(f"  {machine['id']}  {machine['ip']:<15} {meta}", file=self.out)
        return healthy


def read_env(lab_dir: Path) -> dict:
    """Parse ``<lab_dir>/env`` into a dict (empty when missing)."""
    env = {}
    try:
        text = Path(lab_dir, "env").read_text(encoding="utf-8")
    except OSError:
        return env
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            env[key] = value
    return env


def read_machines(lab_dir: Path) -> list[dict]:
    """Parse ``<lab_dir>/machines.json`` (empty list when missing)."""
    try:
        return json.loads(Path(lab_dir, "machines.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []


@dataclasses.dataclass
class LabInfo:
    """What a running lab offers, read from its ``env`` and ``machines.json``.

    ``env`` holds the variables of ``<lab_dir>/env`` (CONSUL_HTTP_ADDR, FLEETCTL_ENDPOINT,
    FLEETLAB_URL, FLEETLAB_ADMIN_URL, LAB_DIR, LAB_NET); the fleet fields are None when the lab
    runs without fleetlab.
    """

    lab_dir: Path
    net: str
    env: dict
    machines: list
    consul_address: str
    fleet_endpoint: str | None
    fleetlab_url: str | None
    fleetlab_admin_url: str | None

    @classmethod
    def load(cls, lab_dir: Path) -> "LabInfo":
        """Read the lab in ``lab_dir``; LabError when it has no env file (not started)."""
        lab_dir = Path(lab_dir).resolve()
        env = read_env(lab_dir)
        if "CONSUL_HTTP_ADDR" not in env:
            raise LabError(f"no lab running in {lab_dir} (no {lab_dir / 'env'}); start it with `make lab-up`")
        return cls(lab_dir=lab_dir, net=env.get("LAB_NET", ""), env=env, machines=read_machines(lab_dir),
                   consul_address=env["CONSUL_HTTP_ADDR"], fleet_endpoint=env.get("FLEETCTL_ENDPOINT"),
                   fleetlab_url=env.get("FLEETLAB_URL"), fleetlab_admin_url=env.get("FLEETLAB_ADMIN_URL"))
