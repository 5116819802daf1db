# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parts of the bench: the floor, task profiles, target checks and the markdown tables."""
from __future__ import annotations

import json
import statistics
from pathlib import Path


class FloorError(ValueError):
    """The floor cannot be computed (a unit of the chain has no start time in fleetlab)."""


def floor(timings: dict, chain: list[str], startup_seconds: float) -> dict:
    """The fastest a deploy of ``chain`` could be.

    ``timings`` is fleetlab's ``GET /fleetlab/v1/timings`` answer
    (``{"units": {unit: {machine_id: {"start_seconds": s}}}}``); ``chain`` the unit names in
    dependency order (each unit starts after the previous one is active). A unit is ready when its
    slowest machine is, so the floor is the sum over the chain of each unit's maximum start time
    over machines, plus one ``ansible-playbook`` start-up.
    """
    units = timings.get("units", {})
    per_unit = {}
    for name in chain:
        machines = units.get(name) or {}
        starts = [m["start_seconds"] for m in machines.values() if m.get("start_seconds") is not None]
        if not starts:
            raise FloorError(f"fleetlab has no start time for unit {name} (known: {', '.join(sorted(units)) or 'none'})")
        per_unit[name] = max(starts)
    chain_seconds = sum(per_unit.values())
    return {"units": per_unit, "chain_seconds": round(chain_seconds, 4), "startup_seconds": round(startup_seconds, 4),
            "floor_seconds": round(chain_seconds + startup_seconds, 4)}


def repeated(runs: list[dict]) -> dict:
    """One record for ``runs`` of the same command: the first run's record (its requests and task timings), with
    ``seconds`` the median of the runs that succeeded and ``samples`` every run's seconds. A failed run makes the
    record failed (``rc`` of the first failure): the median of the others would hide it."""
    record = dict(runs[0])
    failed = next((run for run in runs if run["rc"] != 0), None)
    if failed is not None:
        record.update(rc=failed["rc"], error=failed.get("error", ""))
    samples = [run["seconds"] for run in runs]
    record["samples"] = samples
    record["seconds"] = round(statistics.median(samples), 3)
    return record


def seconds_cell(run: dict) -> str:
    """``3.32`` for one run, ``3.32 (3.10-3.90)`` for the median of several and their range."""
    samples = run.get("samples") or [run["seconds"]]
    if len(samples) == 1:
        return f"{run['seconds']:.2f}"
    return f"{run['seconds']:.2f} ({min(samples):.2f}-{max(samples):.2f})"


def read_task_timings(path: str | Path) -> list[dict]:
    """The task records written by bench/callback/bench_timer.py (events left out)."""
    records = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)
            if "task" in record:
                records.append(record)
    return records


def profile(records: list[dict], top: int = 10) -> list[dict]:
    """Tasks grouped by name (a loop or include counts once per run of the task): total seconds,
    count and share of the total, slowest first."""
    total = sum(r["seconds"] for r in records) or 1.0
    grouped: dict[str, dict] = {}
    for record in records:
        key = record["task"]
        entry = grouped.setdefault(key, {"task": key, "action": record.get("action"), "seconds": 0.0, "count": 0})
        entry["seconds"] += record["seconds"]
        entry["count"] += 1
    rows = sorted(grouped.values(), key=lambda e: e["seconds"], reverse=True)[:top]
    for row in rows:
        row["seconds"] = round(row["seconds"], 3)
        row["share"] = round(row["seconds"] / total, 3)
    return rows


def ratio(numerator, denominator):
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def check(name: str, value, limit, description: str) -> dict:
    """A target: passes when value <= limit; ``None`` value (not measured) is reported as skipped."""
    if value is None or limit is None:
        status = "skipped"
    else:
        status = "pass" if value <= limit else "FAIL"
    return {"target": name, "value": value, "limit": limit, "status": status, "description": description}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    """A GitHub markdown table; None renders as '-', floats with 2 decimals, '|' in cells escaped."""
    def line(cells):
        return "| " + " | ".join(_cell(c).replace("|", "\\|") for c in cells) + " |"
    return "\n".join([line(headers), "|" + "|".join("---" for _header in headers) + "|"] + [line(r) for r in rows])


def replace_between_markers(text: str, content: str, start: str = "<!-- bench:start -->",
                            end: str = "<!-- bench:end -->") -> str:
    """``text`` with everything between the two markers replaced by ``content`` (markers kept)."""
    head, found, rest = text.partition(start)
    if not found:
        raise ValueError(f"marker {start} not found")
    _head, found, tail = rest.partition(end)
    if not found:
        raise ValueError(f"marker {end} not found after {start}")
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"
