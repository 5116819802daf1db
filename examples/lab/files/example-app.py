#!/usr/bin/env python3
# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The example stack's programs (stdlib only), one sub-command per unit:

  cache      a memcached-like TCP key/value server (get/set/version of the memcached text protocol)
  static     an nginx-like static HTTP server for a directory
  kv-render  a consul-template-like loop: renders a Consul KV key into a file whenever it changes
  serve      the service: HTTP on the machine IP, registered in the machine's Consul agent with the
             version tag and an HTTP health check (healthy only while the cache answers)
  deregister remove a service registration from the machine's Consul agent (ExecStop)

Servers bind to the machine IP ($COREOS_PUBLIC_IPV4) on a free port and write it to run/<name>.port
(relative to the working directory, the machine root), so two versions can run side by side.
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

# http.server and urllib are imported by the sub-commands that use them: a deploy starts every program at once on
# every machine, and what each one does not import is CPU left for the others.

IP = os.environ.get("COREOS_PUBLIC_IPV4", "127.0.0.1")
CONSUL = os.environ.get("CONSUL_HTTP_ADDR", "127.0.0.1:8500")


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def write_port(name, port):
    os.makedirs("run", exist_ok=True)
    tmp = f"run/{name}.port.{os.getpid()}.tmp"
    with open(tmp, "w") as handle:
        handle.write(str(port))
    os.replace(tmp, f"run/{name}.port")


def read_port(name):
    with open(f"run/{name}.port") as handle:
        return int(handle.read().strip())


def consul(method, path, body=None, timeout=10):
    import urllib.request  # pylint: disable=import-outside-toplevel
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{CONSUL}{path}", data=data, method=method)
    token_file = "/etc/houston/consul-token"
    if os.path.exists(token_file):
        with open(token_file) as handle:
            request.add_header("X-Consul-Token", handle.read().strip())
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.status, answer.headers, answer.read()


def stop_on_sigterm(server, cleanup=None):
    def handler(_signum, _frame):
        if cleanup:
            cleanup()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, handler)


# cache ------------------------------------------------------------------------------------------
class CacheHandler(socketserver.StreamRequestHandler):
    store = {}

    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line:
                return
            parts = line.decode(errors="replace").split()
            if not parts:
                continue
            if parts[0] == "version":
                self.wfile.write(b"VERSION example-cache 1.0\r\n")
            elif parts[0] == "get" and len(parts) > 1:
                for key in parts[1:]:
                    if key in self.store:
                        value = self.store[key]
                        self.wfile.write(f"VALUE {key} 0 {len(value)}\r\n".encode() + value + b"\r\n")
                self.wfile.write(b"END\r\n")
            elif parts[0] == "set" and len(parts) >= 5:
                value = self.rfile.read(int(parts[4]) + 2)[:-2]
                self.store[parts[1]] = value
                self.wfile.write(b"STORED\r\n")
            elif parts[0] == "quit":
                return
            else:
                self.wfile.write(b"ERROR\r\n")


class ThreadingTCP(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def cmd_cache(args):
    server = ThreadingTCP((IP, 0), CacheHandler)
    write_port(args.name, server.server_address[1])
    log(f"cache {args.name} listening on {IP}:{server.server_address[1]}")
    stop_on_sigterm(server)
    server.serve_forever()


def cache_alive(name):
    try:
        with socket.create_connection((IP, read_port(name)), timeout=2) as conn:
            conn.sendall(b"version\r\n")
            return conn.recv(64).startswith(b"VERSION")
    except OSError:
        return False


# static -----------------------------------------------------------------------------------------
def cmd_static(args):
    os.makedirs(args.directory, exist_ok=True)
    from functools import partial  # pylint: disable=import-outside-toplevel
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer  # pylint: disable=import-outside-toplevel
    handler = partial(SimpleHTTPRequestHandler, directory=args.directory)
    server = ThreadingHTTPServer((IP, 0), handler)
    write_port(args.name, server.server_address[1])
    log(f"static {args.name} serving {args.directory} on {IP}:{server.server_address[1]}")
    stop_on_sigterm(server)
    server.serve_forever()


# kv-render --------------------------------------------------------------------------------------
def cmd_kv_render(args):
    import urllib.error  # pylint: disable=import-outside-toplevel
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    index = "0"
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    while not stopping.is_set():
        try:
            status, headers, body = consul("GET", f"/v1/kv/{args.key}?raw&index={index}&wait=5s", timeout=15)
            index = headers.get("X-Consul-Index", index)
            content = body.decode(errors="replace")
        except urllib.error.HTTPError as error:
            if error.code != 404:
                log(f"kv-render: {error}")
            index = error.headers.get("X-Consul-Index", index) if error.headers else index
            content = args.default
            if error.code != 404:
                stopping.wait(1)
        except OSError as error:
            log(f"kv-render: {error}")
            stopping.wait(1)
            continue
        tmp = f"{args.output}.{os.getpid()}.tmp"  # two versions may render side by side during an upgrade
        with open(tmp, "w") as handle:
            handle.write(content)
        os.replace(tmp, args.output)


# serve ------------------------------------------------------------------------------------------
def cmd_serve(args):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # pylint: disable=import-outside-toplevel
    service_id = f"{args.service}@{args.version}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *fmt_args):
            pass

        def reply(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            healthy = cache_alive(args.cache)
            if self.path == "/health":
                self.reply(200 if healthy else 503, {"healthy": healthy, "version": args.version})
                return
            motd = ""
            if args.motd and os.path.exists(args.motd):
                with open(args.motd) as handle:
                    motd = handle.read()
            greeting = ""
            if args.config and os.path.exists(args.config):
                with open(args.config) as handle:
                    greeting = handle.read().strip()
            self.reply(200, {"service": args.service, "version": args.version, "ip": IP, "config": greeting,
                             "motd": motd, "cache": healthy})

    server = ThreadingHTTPServer((IP, 0), Handler)
    port = server.server_address[1]
    write_port(service_id, port)
    # The cache unit starts next to this one: give it a moment, so the instance registers healthy when it can.
    deadline = time.monotonic() + 3
    healthy = cache_alive(args.cache)
    while not healthy and time.monotonic() < deadline:
        time.sleep(0.05)
        healthy = cache_alive(args.cache)
    registration = {
        "ID": service_id, "Name": args.service, "Tags": [args.version, "http"], "Address": IP, "Port": port,
        "Meta": {"version": args.version},
        # Consul runs an HTTP check first after a random pause of up to one interval (at least 1 s): start
        # from what /health answers now, so a healthy instance is passing at once.
        "Check": {"HTTP": f"http://{IP}:{port}/health", "Interval": "1s", "Timeout": "2s",
                  "Status": "passing" if healthy else "critical",
                  "DeregisterCriticalServiceAfter": "1m"},
    }
    consul("PUT", "/v1/agent/service/register", registration)
    log(f"{service_id} serving on {IP}:{port}, registered in Consul at {CONSUL}")

    def deregister():
        try:
            consul("PUT", f"/v1/agent/service/deregister/{service_id}")
        except OSError as error:
            log(f"deregister {service_id}: {error}")

    stop_on_sigterm(server, deregister)
    server.serve_forever()


def cmd_deregister(args):
    try:
        consul("PUT", f"/v1/agent/service/deregister/{args.id}")
        log(f"deregistered {args.id}")
    except OSError as error:
        log(f"deregister {args.id}: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("cache")
    p.add_argument("--name", required=True)
    p.set_defaults(func=cmd_cache)
    p = sub.add_parser("static")
    p.add_argument("--name", required=True)
    p.add_argument("--directory", required=True)
    p.set_defaults(func=cmd_static)
    p = sub.add_parser("kv-render")
    p.add_argument("--key", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--default", default="")
    p.set_defaults(func=cmd_kv_render)
    p = sub.add_parser("serve")
    p.add_argument("--service", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--cache", required=True, help="name of the cache unit (its run/<name>.port file)")
    p.add_argument("--motd")
    p.add_argument("--config")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("deregister")
    p.add_argument("--id", required=True)
    p.set_defaults(func=cmd_deregister)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
