# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bench's floor computation, table writer, README pasting and Consul counting proxy."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.proxy import CountingProxy
from bench.report import FloorError, check, floor, profile, repeated, replace_between_markers, seconds_cell, table

TIMINGS = {"units": {
    "example-file-deploy@abc.service": {"m1": {"start_seconds": 0.5}, "m2": {"start_seconds": 0.75}},
    "example-cache@v1.service": {"m1": {"start_seconds": 0.25}, "m2": {"start_seconds": 0.125}},
    "example@v1.service": {"m1": {"start_seconds": 1.0}},
    "other@v9.service": {"m1": {"start_seconds": 100.0}},
}}


def test_floor_sums_the_slowest_machine_of_each_unit_of_the_chain_plus_startup():
    result = floor(TIMINGS, ["example-file-deploy@abc.service", "example-cache@v1.service", "example@v1.service"], 1.5)
    assert result["units"] == {"example-file-deploy@abc.service": 0.75, "example-cache@v1.service": 0.25,
                               "example@v1.service": 1.0}
    assert result["chain_seconds"] == 2.0
    assert result["floor_seconds"] == 3.5


def test_floor_names_a_unit_without_start_time():
    with pytest.raises(FloorError, match="example-web@v1.service"):
        floor(TIMINGS, ["example-cache@v1.service", "example-web@v1.service"], 1.0)


def test_table_renders_none_floats_and_escapes_pipes():
    text = table(["a", "b", "c"], [["x|y", 1.23456, None], ["z", 3, True]])
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| x\\|y | 1.23 | - |", "| z | 3 | True |"]


def test_replace_between_markers_keeps_the_rest_and_the_markers():
    readme = "intro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\noutro\n"
    assert replace_between_markers(readme, "| new |\n") == "intro\n<!-- bench:start -->\n| new |\n<!-- bench:end -->\noutro\n"
    with pytest.raises(ValueError, match="bench:start"):
        replace_between_markers("no markers", "x")


def test_check_and_profile():
    assert check("t", 2.0, 3.0, "")["status"] == "pass"
    assert check("t", 4.0, 3.0, "")["status"] == "FAIL"
    assert check("t", None, 3.0, "")["status"] == "skipped"
    rows = profile([{"task": "launch", "action": "fleet_unit", "seconds": 1.0},
                    {"task": "launch", "action": "fleet_unit", "seconds": 2.0},
                    {"task": "lock", "action": "consul_lock", "seconds": 1.0}])
    assert [(r["task"], r["count"], r["seconds"], r["share"]) for r in rows] == [("launch", 2, 3.0, 0.75), ("lock", 1, 1.0, 0.25)]


def test_repeated_runs_count_by_their_median_and_keep_the_first_runs_details():
    runs = [{"seconds": 3.9, "rc": 0, "requests": "first", "tasks": ["t"]}, {"seconds": 3.2, "rc": 0, "requests": "second"},
            {"seconds": 3.3, "rc": 0, "requests": "third"}]
    record = repeated(runs)
    assert (record["seconds"], record["samples"], record["requests"], record["tasks"]) == (3.3, [3.9, 3.2, 3.3], "first", ["t"])
    assert seconds_cell(record) == "3.30 (3.20-3.90)"
    assert seconds_cell(repeated(runs[:1])) == "3.90"


def test_one_failed_run_fails_the_repeated_record():
    record = repeated([{"seconds": 3.0, "rc": 0}, {"seconds": 9.0, "rc": 2, "error": "boom"}, {"seconds": 3.1, "rc": 0}])
    assert (record["rc"], record["error"]) == (2, "boom")


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path,
                           "body": self.rfile.read(length).decode() if length else ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Consul-Index", "42")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = _answer


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _request(address, method, path, body=None):
    request = urllib.request.Request(f"http://{address}{path}", method=method, data=body)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.headers, json.loads(answer.read())


def test_proxy_forwards_unchanged_and_counts_reads_and_writes_by_path(upstream):
    proxy = CountingProxy(upstream).start()
    try:
        headers, answer = _request(proxy.address, "PUT", "/v1/kv/a?cas=0", b"value")
        assert answer == {"method": "PUT", "path": "/v1/kv/a?cas=0", "body": "value"}
        assert headers["X-Consul-Index"] == "42"
        _request(proxy.address, "GET", "/v1/kv/a?index=3&wait=1s")
        _request(proxy.address, "GET", "/v1/kv/a")
        _request(proxy.address, "DELETE", "/v1/kv/b")
        counts = proxy.counter.snapshot()
        assert counts["reads"] == 2 and counts["writes"] == 2
        assert counts["by_path"] == {"/v1/kv/a": {"PUT": 1, "GET": 2}, "/v1/kv/b": {"DELETE": 1}}
        proxy.counter.reset()
        assert proxy.counter.snapshot()["reads"] == 0
    finally:
        proxy.stop()


def test_proxy_answers_502_naming_the_upstream_when_it_is_down():
    proxy = CountingProxy("127.0.0.1:9").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as error:
            _request(proxy.address, "GET", "/v1/status/leader")
        assert error.value.code == 502
        assert "127.0.0.1:9" in error.value.read().decode()
    finally:
        proxy.stop()
