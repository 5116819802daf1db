# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A service instance for the instances/rolling lab tests (stdlib only).

Serves HTTP on the machine IP ($COREOS_PUBLIC_IPV4) on a free port, registers in the machine's Consul agent
($CONSUL_HTTP_ADDR) as service ``--service`` with ID ``--id`` (the unit name), tags ``[version, id]`` and an HTTP
check on /health, and deregisters when stopped (SIGTERM). ``--unhealthy-unit NAME`` makes /health answer 500 in the
instance whose ``--id`` is NAME.
"""
import argparse
import json
import os
import signal
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IP = os.environ.get("COREOS_PUBLIC_IPV4", "127.0.0.1")
CONSUL = os.environ.get("CONSUL_HTTP_ADDR", "127.0.0.1:8500")


def consul_put(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{CONSUL}{path}", data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--service", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--unhealthy-unit", default="")
    args = parser.parse_args()
    unhealthy = args.unhealthy_unit == args.id

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *fmt_args):
            pass

        def do_GET(self):
            status = 500 if (self.path == "/health" and unhealthy) else 200
            body = json.dumps({"id": args.id, "version": args.version}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((IP, 0), Handler)
    port = server.server_address[1]
    consul_put("/v1/agent/service/register", {
        "ID": args.id, "Name": args.service, "Tags": [args.version, args.id], "Address": IP, "Port": port,
        "Check": {"HTTP": f"http://{IP}:{port}/health", "Interval": "1s", "Timeout": "2s",
                  "DeregisterCriticalServiceAfter": "5m"},
    })

    def stop(_signum, _frame):
        try:
            consul_put(f"/v1/agent/service/deregister/{args.id}")
        finally:
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
