"""`clov serve`: run the signaling server and the app. Every flag has a CLOV_* variable.
`clov build`: write the client into a folder for a static host (signaling/statichost.py)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from signaling import logs
from signaling.app import create_app
from signaling.clientbuild import missing_client_files, missing_files_message
from signaling.config import OPTIONS, PROJECT_ROOT, Settings
from signaling.devcert import ensure_dev_cert
from signaling.origins import parse_origin
from signaling.statichost import BuildError, build
from signaling.wsprotocol import RelayWebSocketProtocol


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clov", description="CLOV, the online photo booth.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the CLOV server: the app, the rooms API and the signaling socket.",
        epilog="Each option can also be set by the environment variable shown; the flag wins.",
    )
    for opt in OPTIONS:
        serve.add_argument(
            opt.flag,
            dest=opt.name,
            type=str,
            default=None,
            metavar=opt.env,
            help=f"{opt.help} (env {opt.env}, default {opt.default!r})",
        )
    static = commands.add_parser(
        "build",
        help="write the client into a folder for a static host",
        description="Write the whole client (index.html, its code, the runtime, the models) into DIR, "
        "for a static host, talking to the signaling server at --signaling. Run that server with "
        "CLOV_ALLOWED_ORIGINS set to the static host's origin.",
    )
    static.add_argument("dir", type=Path, metavar="DIR", help="a new or empty folder, or an earlier build")
    static.add_argument(
        "--signaling", required=True, metavar="ORIGIN",
        help="the signaling server's origin, e.g. https://signal.example.org (no path)",
    )
    return parser


def build_static(args: argparse.Namespace) -> int:
    try:
        signaling = parse_origin(args.signaling, "--signaling")
    except ValueError as exc:
        print(f"clov: {exc}", file=sys.stderr)
        return 2
    try:
        written = build(args.dir, signaling)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in written)
    print(f"clov: wrote the client ({len(written)} files, {size / 1e6:.1f} MB) to {args.dir}, for {signaling}; "
          f"run that server with CLOV_ALLOWED_ORIGINS set to the static host's origin", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build":
        return build_static(args)
    flags = {opt.env: getattr(args, opt.name) for opt in OPTIONS if getattr(args, opt.name) is not None}
    try:
        settings = Settings.from_env({**os.environ, **flags})
    except ValueError as exc:
        print(f"clov: invalid option: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    if settings.static_root:
        # Without these the page would wait for ever on a 404 (issue 15): refuse to start instead.
        static_root = Path(settings.static_root).resolve()
        missing = missing_client_files(static_root)
        if missing:
            print(missing_files_message(static_root, missing), file=sys.stderr)
            return 1
    cert, key = settings.tls_cert or None, settings.tls_key or None
    if settings.dev_cert and not cert:
        cert_path, key_path = ensure_dev_cert(Path(settings.static_root or PROJECT_ROOT) / ".clov")
        cert, key = str(cert_path), str(key_path)
    scheme = "https" if cert else "http"
    host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host
    print(f"CLOV is running: open {scheme}://{host}:{settings.port}/", file=sys.stderr, flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        ssl_certfile=cert,
        ssl_keyfile=key,
        ws=RelayWebSocketProtocol,
        ws_max_size=1024 * 1024,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_timeout,
        log_config=None,
        access_log=settings.log_level == "debug",
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
