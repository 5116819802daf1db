# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""python -m bench [--quick] [--repeats N] [--out DIR] | python -m bench readme [README] | python -m bench houston-config

Environment: BENCH_LAB_DIR (default .lab/bench), BENCH_LAB_NET (default 127.0.50), BENCH_PYTHON27, LAB_CACHE.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from bench import houston, scenarios
from bench.harness import BENCH_METADATA, REPO, Lab, ensure_collection_link, log
from bench.proxy import CountingProxy
from bench.report import check, ratio, replace_between_markers, seconds_cell, table

RESULTS = REPO / "bench" / "results"
# The cold deploy, the no-op redeploy and Houston's runs are the ones the ratios compare: each runs this many times and
# the median counts, so that one run slowed down by a neighbour on the shared CPUs does not decide a target.
DEFAULT_REPEATS = 5


def measure(quick: bool, repeats: int = DEFAULT_REPEATS) -> dict:
    ensure_collection_link()
    lab_dir = Path(os.environ.get("BENCH_LAB_DIR") or REPO / ".lab" / "bench")
    net = os.environ.get("BENCH_LAB_NET") or "127.0.50"
    proxy_host = f"{net}.1"
    cache = Path(os.environ.get("LAB_CACHE") or REPO / ".lab" / "cache")
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "quick": quick,
                     "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "load": os.getloadavg()[0]}, "repeats": repeats}
    started = time.monotonic()
    lab = Lab(lab_dir, net, metadata=BENCH_METADATA).up()
    proxy = CountingProxy(lab.env["CONSUL_HTTP_ADDR"], host=proxy_host).start()
    try:
        results["example"] = scenarios.example_lifecycle(lab, proxy, quick, repeats)
        results["houston"] = ({"skipped": "--quick"} if quick
                              else scenarios.houston_comparison(lab, proxy, cache, repeats))
        results["archives"] = scenarios.archives(lab, proxy, [1] if quick else [1, 10])
    finally:
        proxy.stop()
        lab.down()
    results["scale"] = scenarios.scale(lab_dir, net, proxy_host, [30] if quick else [3, 30, 300],
                                       [5] if quick else [5, 20, 50])
    results["seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = targets(results)
    return results


def _run_seconds(results: dict, key: str):
    run = results.get("example", {}).get("runs", {}).get(key)
    return run["seconds"] if run and run["rc"] == 0 else None


def targets(results: dict) -> list[dict]:
    cold = _run_seconds(results, "cold")
    noop = _run_seconds(results, "noop")
    floor_seconds = results.get("example", {}).get("floor", {}).get("floor_seconds")
    hou = results.get("houston", {})

    def houston_seconds(label):
        run = hou.get(label)
        return run["seconds"] if run else None
    rows = [
        check("cold deploy <= 1.3 x floor + 2 s", cold, round(1.3 * floor_seconds + 2, 3) if floor_seconds else None,
              "seconds, example stack, 3 machines"),
        check("no-op redeploy <= 3 s", noop, 3.0, "seconds wall"),
        check("cold deploy <= 0.2 x Houston (default delay)", ratio(cold, houston_seconds("default")), 0.2, "ratio ours/Houston"),
        check("cold deploy <= 0.5 x Houston --delay 1", ratio(cold, houston_seconds("delay1")), 0.5, "ratio ours/Houston"),
    ]
    scale = {(r["machines"], r["units"]): r for r in results.get("scale", []) if r["rc"] == 0}
    worst = None
    for (machines, units), row in scale.items():
        base = scale.get((3, units))
        if machines == 300 and base:
            value = ratio(row["seconds"], base["seconds"])
            worst = value if worst is None else max(worst, value)
    rows.append(check("300-machine deploy <= 1.5 x 3-machine deploy", worst, 1.5, "worst ratio over 5/20/50 units"))
    ten = next((a for a in results.get("archives", []) if a["size_mb"] == 10), None)
    rows.append(check("10 MB archive round trip <= 3 s", (ten or {}).get("round_trip_seconds"), 3.0,
                      "build+upload + extraction unit launched and active"))
    return rows


def _requests(run: dict) -> str:
    if not run:
        return "-"
    f, c = run["requests"]["fleet"], run["requests"]["consul"]
    return f"{f['reads']}/{f['writes']} · {c['reads']}/{c['writes']}"


def markdown(results: dict) -> str:
    ex = results.get("example", {})
    runs = ex.get("runs", {})
    fl = ex.get("floor", {})
    floor_seconds = fl.get("floor_seconds")
    hou = results.get("houston", {})
    out = [f"Measured {results['started']} on {results['host']['cpus']} shared CPUs (load {results['host']['load']:.1f})"
           f"{' (--quick)' if results.get('quick') else ''}; one lab, one run. Requests: fleet reads/writes · Consul reads/writes."
           + (f" Cold deploy, no-op redeploy and Houston: median of {results['repeats']} runs (range in brackets);"
              " requests of the first run." if results.get("repeats", 1) > 1 else "")
           + (" The example stack's runs follow a warm-up deploy and removal, not counted." if ex.get("warm_up") else ""), ""]
    rows = []
    labels = {"cold": "cold deploy v1", "noop": "no-op redeploy v1", "upgrade": "upgrade v1 -> v2 (incl. prune)",
              "rollback": f"rollback v2 -> v1 ({ex.get('rollback_method', '-')})", "remove": "remove stack"}
    for key, label in labels.items():
        run = runs.get(key)
        if run:
            rows.append([label, seconds_cell(run) if run["rc"] == 0 else f"failed ({run['seconds']:.1f})",
                         ratio(run["seconds"], floor_seconds) if key == "cold" else None, _requests(run)])
    if floor_seconds:
        rows.append([f"floor (units {fl['chain_seconds']:.2f} + ansible start-up {fl['startup_seconds']:.2f})",
                     floor_seconds, 1.0, "-"])
    for label, key in (("Houston 0.3.0, default delay 5 s", "default"), ("Houston 0.3.0, --delay 1", "delay1")):
        run = hou.get(key)
        if run:
            cold = runs.get("cold", {}).get("seconds")
            status = "" if run["rc"] == 0 else f" (exit {run['rc']})"
            rows.append([label + status, seconds_cell(run), f"ours/Houston {ratio(cold, run['seconds'])}", _requests(run)])
    if hou.get("skipped"):
        rows.append([f"Houston 0.3.0: skipped ({hou['skipped']})", None, None, "-"])
    out += [table(["example stack, 3 machines", "seconds", "ratio (to floor)", "requests"], rows), ""]
    out += [table(["target", "value", "limit", "result"],
                  [[t["target"], t["value"], t["limit"], t["status"]] for t in results.get("targets", [])]), ""]
    if results.get("scale"):
        out += ["Virtual scale (fleetlab virtual mode, every unit in the virtual runtime; global oneshot units; requests per deploy):", ""]
        out += [table(["machines", "units", "seconds", "fleet reads", "fleet writes", "Consul reads", "Consul writes"],
                      [[r["machines"], r["units"], r["seconds"] if r["rc"] == 0 else f"failed ({r['seconds']:.1f})",
                        r["fleet_reads"], r["fleet_writes"], r["consul_reads"], r["consul_writes"]]
                       for r in results["scale"]]), ""]
    if results.get("archives"):
        out += ["Archives (random data in 4 files, chunked in Consul KV; extraction on one machine):", ""]
        out += [table(["size", "chunks", "build+upload s", "extraction task s", "extraction unit s", "round trip s", "verified"],
                      [[f"{a['size_mb']} MB", a.get("chunks"), a.get("build_upload_seconds"), a.get("extract_task_seconds"),
                        a.get("extract_unit_seconds"), a.get("round_trip_seconds"), a.get("verified")]
                       for a in results["archives"]]), ""]
    return "\n".join(out)


def profiles_markdown(results: dict) -> str:
    out = []
    for key, title in (("cold", "cold deploy"), ("noop", "no-op redeploy")):
        rows = results.get("example", {}).get("profiles", {}).get(key)
        if rows:
            out += [f"Where the time goes: {title} (per task, top {len(rows)}):", ""]
            out += [table(["task", "module", "runs", "seconds", "share"],
                          [[r["task"], r["action"], r["count"], r["seconds"], f"{r['share'] * 100:.0f}%"] for r in rows]), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="deploy benchmark of houston.stack")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "readme", "houston-config"])
    parser.add_argument("target", nargs="?", help="readme: the README to update (default README.md)")
    parser.add_argument("--quick", action="store_true", help="a fast subset (smoke test), one run of each")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS,
                        help=f"runs of the cold deploy, the no-op redeploy and each Houston deploy (median; default {DEFAULT_REPEATS})")
    parser.add_argument("--out", default=str(RESULTS), help="directory for latest.json and latest.md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.command == "houston-config":
        print(houston.write_config(houston.CONFIG_DIR))
        return 0
    if args.command == "readme":
        readme = Path(args.target or REPO / "README.md")
        summary = (out / "summary.md").read_text(encoding="utf-8")
        readme.write_text(replace_between_markers(readme.read_text(encoding="utf-8"), summary), encoding="utf-8")
        print(f"bench: table of {out / 'summary.md'} pasted into {readme}")
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    results = measure(args.quick, 1 if args.quick else args.repeats)
    out.mkdir(parents=True, exist_ok=True)
    summary = markdown(results)
    (out / "latest.json").write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    (out / "summary.md").write_text(summary + "\n", encoding="utf-8")
    (out / "latest.md").write_text("# houston.stack deploy benchmark\n\n" + summary + "\n" + profiles_markdown(results) + "\n",
                                   encoding="utf-8")
    print(summary)
    failed = [t for t in results["targets"] if t["status"] == "FAIL"]
    log(f"done in {results['seconds']}s; {len(failed)} target(s) missed; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
