"""`studio serve`: the engine as a Ray Serve application behind a token-protected HTTP API."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="run the engine as a server for the desktop's Remote engine (needs ray)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; use an "
                        "SSH tunnel, or --host 0.0.0.0 on a trusted network)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.add_argument("--token", default="",
                   help="bearer token clients must send (default: $STUDIO_TOKEN, else random)")
    p.add_argument("--replicas", type=int, default=1,
                   help="engine replicas on CPU (with GPUs: one per GPU)")
    p.add_argument("--replica-cpus", type=float, default=0.5, help="CPUs reserved per replica")
    p.add_argument("--address", default=None,
                   help="join a running Ray cluster (e.g. auto, or HEAD:6379)")
    p.add_argument("--models", type=Path, action="append", default=[],
                   help="a folder of models to offer (repeatable; the built-in one is always)")
    p.add_argument("--max-request-mb", type=int, default=64, help="largest request body")
    p.add_argument("--max-pixels", type=int, default=2048 * 2048,
                   help="largest image (output or input), in pixels")
    p.set_defaults(func=run_serve_command)


def run_serve_command(args: argparse.Namespace) -> int:
    from studio.commands.common import fail, say
    from studio.serve.launch import RayMissing, ServeOptions, require_ray

    try:
        require_ray()
    except RayMissing as exc:
        return fail(str(exc))
    from studio.serve.api import Limits
    from studio.serve.launch import start_server, stop_server

    limits = Limits(max_request_bytes=args.max_request_mb * 2**20, max_pixels=args.max_pixels)
    options = ServeOptions(host=args.host, port=args.port, token=args.token,
                           replicas=args.replicas, replica_cpus=args.replica_cpus,
                           address=args.address, model_dirs=tuple(args.models), limits=limits)
    server = start_server(options)
    say(f"studio: serving {len(server.models)} model(s) on {server.replicas} replica(s) "
        f"({server.gpus} GPU) at {server.url}")
    say(f"studio: token: {server.token}")
    say("studio: in the desktop app: Settings → Engine… → Remote, with this URL and token. "
        "Ctrl+C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        say("studio: stopping")
    finally:
        stop_server(shutdown_ray=not args.address)
    return 0
