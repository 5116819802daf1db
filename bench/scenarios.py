# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The measured scenarios: example stack lifecycle, floor, Houston, archives, virtual scale."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from bench import houston
from bench.harness import EXAMPLE, REPO, Lab, ansible_startup, log, run_command, run_playbook
from bench.proxy import CountingProxy
from bench.report import FloorError, floor, profile, repeated

INVENTORY = EXAMPLE / "inventory"
DEPLOY = "houston.stack.deploy"


def example_lifecycle(lab: Lab, proxy: CountingProxy, quick: bool, repeats: int = 1) -> dict:
    """After a warm-up deploy and removal: cold deploy of v1, no-op redeploy of v1, upgrade to v2 (with prune),
    rollback; then the stack is removed.

    With ``repeats`` > 1 the cold deploy and the no-op redeploy run that many times in all (each further time after a
    removal), and their ``seconds`` are the median; the floor, the requests and the task profiles are the first run's."""
    # Not counted: a deploy and removal of the stack on the lab that just came up (Consul's agents and fleetlab are
    # still settling, and nothing has run yet), as Houston's global setup run precedes its measured runs.
    result: dict = {"warm_up": [
        run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "warm-up"}, name="warm-up deploy")["seconds"],
        run_playbook(lab, proxy, "houston.stack.remove", INVENTORY, {"stack": "example"}, name="warm-up removal")["seconds"]]}
    lab.wait_clean("example", "example")
    # As many start-ups as cold deploys: one slow pair of start-ups on the shared CPUs raised the floor by 0.3 s.
    result["startup_seconds"] = ansible_startup(lab, proxy, attempts=repeats)
    runs = result["runs"] = {}
    runs["cold"] = run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v1"}, name="cold deploy v1")
    chain = lab.stack_units("example")

    def floor_of_last_cold_run() -> dict:
        try:
            return dict(floor(lab.timings(), chain, result["startup_seconds"]), chain=chain)
        except FloorError as exc:
            return {"error": str(exc), "chain": chain}

    floors = [floor_of_last_cold_run()]
    runs["noop"] = run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v1"}, name="no-op redeploy v1")
    if not quick:
        runs["upgrade"] = run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v2"},
                                       name="upgrade to v2 (incl. prune)")
        if (REPO / "playbooks" / "rollback.yml").exists():
            result["rollback_method"] = "playbooks/rollback.yml"
            runs["rollback"] = run_playbook(lab, proxy, "houston.stack.rollback", INVENTORY, {"stack": "example"},
                                            name="rollback to v1 (rollback.yml)")
        else:
            result["rollback_method"] = "redeploy of v1"
            runs["rollback"] = run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v1"},
                                            name="rollback to v1 (redeploy)")
    runs["remove"] = run_playbook(lab, proxy, "houston.stack.remove", INVENTORY, {"stack": "example"}, name="remove")
    lab.wait_clean("example", "example")
    colds, noops = [runs["cold"]], [runs["noop"]]
    for attempt in range(2, repeats + 1):
        colds.append(run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v1"},
                                  name=f"cold deploy v1 (run {attempt} of {repeats})"))
        floors.append(floor_of_last_cold_run())
        noops.append(run_playbook(lab, proxy, DEPLOY, INVENTORY, {"stack": "example", "version": "v1"},
                                  name=f"no-op redeploy v1 (run {attempt} of {repeats})"))
        run_playbook(lab, proxy, "houston.stack.remove", INVENTORY, {"stack": "example"}, name=f"remove (run {attempt})")
        lab.wait_clean("example", "example")
    runs["cold"], runs["noop"] = repeated(colds), repeated(noops)
    # The unit starts of the cold run in the middle, as the cold deploy counts by its median.
    measured = sorted((f for f in floors if "error" not in f), key=lambda f: f["chain_seconds"])
    result["floor"] = measured[len(measured) // 2] if measured else floors[0]
    if len(measured) > 1:
        result["floor"] = dict(result["floor"], chain_samples=[f["chain_seconds"] for f in measured])
    result["profiles"] = {key: profile(run.get("tasks", []), top=12) for key, run in runs.items() if key in ("cold", "noop")}
    return result


def houston_comparison(lab: Lab, proxy: CountingProxy, cache_dir: Path, repeats: int = 1) -> dict:
    """Houston 0.3.0 deploying the example stack, with its default delay and with ``--delay 1``, ``repeats`` times each
    (``seconds`` is the median)."""
    python27 = houston.find_python27()
    if not python27:
        log("Houston skipped: no working Python 2.7 (set BENCH_PYTHON27)")
        return {"skipped": "no working Python 2.7 found (python2.7 on PATH, ~/.pyenv/versions/2.7*, $BENCH_PYTHON27)"}
    install_dir, how = houston.install(python27, cache_dir)
    if install_dir is None:
        log(f"Houston skipped: {how}")
        return {"skipped": how}
    config = Path(tempfile.mkdtemp(prefix="bench-houston-"))
    try:
        houston.write_config(config, consul_url=f"http://{proxy.address}", fleet_url=lab.env["FLEETLAB_URL"])
        result: dict = {"python": python27, "install": str(install_dir)}

        def cmd(*args):
            return houston.command(python27, install_dir, config, *args)

        result["global"] = run_command(lab, proxy, cmd("global"), "Houston global (setup, not compared)")
        for label, args in (("default", []), ("delay1", ["--delay", "1"])):
            runs = []
            for attempt in range(1, repeats + 1):
                runs.append(run_command(lab, proxy, cmd(*args, "service", "example", "v1"),
                                        f"Houston service example v1 {label} (run {attempt} of {repeats})"))
                run_command(lab, proxy, cmd("--remove", "service", "example", "v1"), f"Houston remove ({label})")
                lab.wait_clean("example", "example")
            run = result[label] = repeated(runs)
            run["ok"] = run["rc"] == 0
        run_command(lab, proxy, cmd("--remove", "global"), "Houston remove global")
        return result
    finally:
        shutil.rmtree(config, ignore_errors=True)


ARCHIVE_PLAY = """\
- name: Archive round trip
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Build and upload the archive
      houston.stack.consul_archive:
        stack: bench-archive
        files: "{{ bench_files }}"
        keep: 1
      register: bench_archive

    - name: Extract the archive on one machine
      houston.stack.fleet_unit:
        name: "{{ bench_archive.unit_name }}"
        content: "{{ bench_archive.unit_content | regex_replace('(?m)^Global=true$', 'MachineID=' ~ bench_machine) }}"
        state: launched
        wait_timeout: 120

    - name: Write the result
      ansible.builtin.copy:
        content: "{{ {'unit': bench_archive.unit_name, 'size': bench_archive.size, 'chunks': bench_archive.chunks} | to_json }}"
        dest: "{{ bench_out }}"
        mode: "0644"

    - name: Remove the extraction unit
      houston.stack.fleet_unit:
        name: "{{ bench_archive.unit_name }}"
        state: absent
"""


def archives(lab: Lab, proxy: CountingProxy, sizes_mb: list[int]) -> list[dict]:
    rows = []
    machine = lab.machines[0]
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "play.yml").write_text(ARCHIVE_PLAY, encoding="utf-8")
        for size in sizes_mb:
            files_count = 4
            files = []
            for i in range(files_count):
                path = tmp_path / f"{size}mb-{i}.bin"
                path.write_bytes(os.urandom(size * 1024 * 1024 // files_count))
                files.append({"path": f"/var/tmp/bench-archive/{size}mb/{i}.bin", "src": str(path), "permissions": "0644"})
            out = tmp_path / f"{size}.json"
            run = run_playbook(lab, proxy, str(tmp_path / "play.yml"), INVENTORY,
                               {"bench_files": files, "bench_machine": machine["id"], "bench_out": str(out)},
                               name=f"archive {size} MB")
            row = {"size_mb": size, "files": files_count, "rc": run["rc"], "requests": run["requests"]}
            tasks = {t["task"]: t["seconds"] for t in run["tasks"]}
            row["build_upload_seconds"] = tasks.get("Build and upload the archive")
            row["extract_task_seconds"] = tasks.get("Extract the archive on one machine")
            if run["rc"] == 0 and out.exists():
                info = json.loads(out.read_text(encoding="utf-8"))
                row.update(chunks=info["chunks"], bytes=info["size"])
                unit_timings = lab.timings().get("units", {}).get(info["unit"], {})
                row["extract_unit_seconds"] = (unit_timings.get(machine["id"]) or {}).get("start_seconds")
                extracted = Path(machine["root"]) / "var" / "tmp" / "bench-archive" / f"{size}mb"
                row["verified"] = all((extracted / f"{i}.bin").read_bytes() == (tmp_path / f"{size}mb-{i}.bin").read_bytes()
                                      for i in range(files_count))
            else:
                row["error"] = run.get("error", "")[-500:]
            if row.get("build_upload_seconds") is not None and row.get("extract_task_seconds") is not None:
                row["round_trip_seconds"] = round(row["build_upload_seconds"] + row["extract_task_seconds"], 3)
            rows.append(row)
    return rows


def scale_inventory(directory: Path, stacks: dict[str, int]) -> Path:
    """An inventory with one service stack per entry: ``units`` units (the last is the service unit), all global,
    oneshot (no processes linger on the real machines), no Consul wait (virtual machines have no agents)."""
    def unit(description: str) -> str:
        return (f"[Unit]\nDescription={description}\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\n"
                "[X-Fleet]\nGlobal=true\n")
    services = {}
    for stack, count in stacks.items():
        services[stack] = {
            "units": [{"name": f"u{i:02d}", "content": unit(f"bench unit {i} of {stack}")} for i in range(1, count)],
            "service": {"content": unit(f"bench service {stack}")},
            "wait_consul": False, "keep_versions": 0,
        }
    inventory = directory / "inventory"
    (inventory / "group_vars").mkdir(parents=True, exist_ok=True)
    shutil.copy(INVENTORY / "hosts.yml", inventory / "hosts.yml")
    group_vars = {"houston_environment": "bench",
                  "houston_fleet_endpoint": "{{ lookup('ansible.builtin.env', 'FLEETCTL_ENDPOINT') }}",
                  "houston_consul_address": "{{ lookup('ansible.builtin.env', 'CONSUL_HTTP_ADDR') }}",
                  "houston_services": services}
    (inventory / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars, sort_keys=False, width=200), encoding="utf-8")
    return inventory


def scale(lab_dir: Path, net: str, proxy_host: str, machines: list[int], units: list[int]) -> list[dict]:
    """Deploy a stack of each size in ``units`` on a virtual lab of each size in ``machines``. Every unit runs in the
    virtual runtime (the real machines' too), so that a unit's start takes as long on every row."""
    rows = []
    for count in machines:
        lab = Lab(Path(f"{lab_dir}-virtual"), net, virtual=count, processes=False).up()
        proxy = CountingProxy(lab.env["CONSUL_HTTP_ADDR"], host=proxy_host).start()
        try:
            with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
                inventory = scale_inventory(Path(tmp), {f"scale-{n}": n for n in units})
                for n in units:
                    run = run_playbook(lab, proxy, DEPLOY, inventory, {"stack": f"scale-{n}", "version": "v1"},
                                       cwd=Path(tmp), name=f"scale {count} machines x {n} units")
                    rows.append({"machines": count, "units": n, "seconds": run["seconds"], "rc": run["rc"],
                                 "fleet_reads": run["requests"]["fleet"]["reads"],
                                 "fleet_writes": run["requests"]["fleet"]["writes"],
                                 "consul_reads": run["requests"]["consul"]["reads"],
                                 "consul_writes": run["requests"]["consul"]["writes"],
                                 "fleet_by_path": _summarise_paths(run["requests"]["fleet"]["by_path"]),
                                 **({"error": run["error"][-500:]} if run["rc"] else {})})
        finally:
            proxy.stop()
            lab.down()
    return rows


def _summarise_paths(by_path: dict) -> dict:
    """Requests per route (unit names folded into {unit})."""
    summary: dict[str, dict[str, int]] = {}
    for path, methods in by_path.items():
        route = "/fleet/v1/units/{unit}" if path.startswith("/fleet/v1/units/") else path
        entry = summary.setdefault(route, {})
        for method, n in methods.items():
            entry[method] = entry.get(method, 0) + n
    return summary
