# Copyright (c) 2026, the houston.stack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""python -m lab.fleetlab serve --machines F --socket S --host H --port P --state-dir D --ready-file R [--virtual N]"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from . import load_machines, start_fleetlab, virtual_machines
from .registry import DEFAULT_LATENCY


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab.fleetlab", description="fleet v1 API emulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the fleet API on TCP and a unix socket")
    serve.add_argument("--machines", help="machines.json of the lab (list of {id, ip, consul, metadata, root})")
    serve.add_argument("--socket", help="unix socket path for the fleet API")
    serve.add_argument("--host", default="127.0.0.1", help="TCP address (loopback only)")
    serve.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    serve.add_argument("--state-dir", default=None, help="directory for logs (<state-dir>/logs/<machine>/<unit>.log)")
    serve.add_argument("--ready-file", default=None, help="JSON {url, socket, pid} written once both listeners accept")
    serve.add_argument("--virtual", type=int, default=None, metavar="N",
                       help="virtual mode: pad the machine list with virtual machines up to N machines in total")
    serve.add_argument("--latency", type=float, default=float(os.environ.get("FLEETLAB_LATENCY", DEFAULT_LATENCY)),
                       help="seconds before agents act on a change (default %(default)s, env FLEETLAB_LATENCY)")
    serve.add_argument("--token-limit", type=int, default=100, help="page size (fleet's token_limit)")
    serve.add_argument("--no-process", action="store_true", help="run every unit virtually (no processes)")
    serve.add_argument("--log-level", default=os.environ.get("FLEETLAB_LOG_LEVEL", "WARNING"))
    return parser


def serve(args) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="fleetlab %(levelname)s %(name)s: %(message)s")
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        print("fleetlab: refusing to bind %s: loopback addresses only" % args.host, file=sys.stderr)
        return 2
    machines = load_machines(args.machines) if args.machines else []
    if args.virtual is not None:
        roots = os.path.join(args.state_dir, "machines") if args.state_dir else None
        machines += virtual_machines(args.virtual, start=len(machines), root_dir=roots)
    if not machines:
        print("fleetlab: no machines (give --machines and/or --virtual N)", file=sys.stderr)
        return 2
    server = start_fleetlab(machines, host=args.host, port=args.port, socket_path=args.socket, state_dir=args.state_dir,
                            latency=args.latency, token_limit=args.token_limit, process=not args.no_process)
    stopping = threading.Event()

    def on_signal(signum, frame):  # pylint: disable=unused-argument
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready_file:
        ready = {"url": server.url, "socket": os.path.abspath(args.socket) if args.socket else None, "pid": os.getpid()}
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(ready, handle)
        os.replace(tmp, args.ready_file)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        if args.ready_file and os.path.exists(args.ready_file):
            os.unlink(args.ready_file)
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
