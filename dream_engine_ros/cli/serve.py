"""`dream-engine serve`: the HTTP API on one loaded engine (imports of the http extra stay lazy).

Why lazy: the ROS install does not carry starlette/uvicorn; `dream-engine` must still start,
and `serve` alone says which extra is missing (exit code 1).
"""

from __future__ import annotations

import argparse
import sys

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK
from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.http.config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig, read_token_file

EXTRA_MODULES = ("starlette", "uvicorn", "python_multipart")  # what `serve` imports


def missing_extra() -> str | None:
    """The first module of the `http` extra that does not import, or None."""
    for name in EXTRA_MODULES:
        try:
            __import__(name)
        except ImportError:
            return name
    return None


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    token = read_token_file(args.token_file) if args.token_file else None
    return ServerConfig(spec=args.spec, weights=args.weights, device=args.device, host=args.host, port=args.port,
                        token=token, max_queue=args.max_queue, max_body_bytes=int(args.max_body_mb * 1024 * 1024),
                        max_pixels=args.max_pixels, max_horizon=args.max_horizon,
                        max_candidates=args.max_candidates, result_ttl_s=args.result_ttl,
                        result_max_count=args.result_count, torch_threads=args.torch_threads)


def _serve_command(args: argparse.Namespace) -> int:
    missing = missing_extra()
    if missing is not None:
        print(f"error: `dream-engine serve` needs the 'http' extra (module {missing!r} is missing): "
              "pip install 'dream_engine_ros[http]'", file=sys.stderr)
        return EXIT_FAILURE
    from dream_engine_ros.engine.spec import get_spec

    try:
        get_spec(args.spec)
        config = config_from_args(args)
    except KeyError as exc:
        print(f"error: --spec: {exc.args[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for name, value, low in (("--max-queue", config.max_queue, 1), ("--max-pixels", config.max_pixels, 4),
                             ("--max-horizon", config.max_horizon, 1), ("--max-candidates", config.max_candidates, 1),
                             ("--max-body-mb", config.max_body_bytes, 1024),
                             ("--result-count", config.result_max_count, 1)):
        if value < low:
            print(f"error: {name}: {value} is below the minimum {low}", file=sys.stderr)
            return EXIT_BAD_INPUT
    from dream_engine_ros.http.app import create_app
    from dream_engine_ros.http.server import run_server

    if config.host not in ("127.0.0.1", "localhost", "::1") and config.token is None:
        print(f"warning: serving on {config.host} without --token-file: anyone who reaches this port can use "
              "the model", file=sys.stderr)
    run_server(create_app(config), config, log_level=args.log_level)
    return EXIT_OK


def add_http_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `serve` on the `dream-engine` parser."""
    serve = subparsers.add_parser(
        "serve", help="serve the HTTP API (POST /v1/predict, /v1/predict_batch, SSE streaming) on one engine",
        description="HTTP API of the Dream Engine (needs the 'http' extra). Binds 127.0.0.1 unless --host says "
                    "otherwise; one engine thread runs predictions in order behind a bounded queue.")
    serve.add_argument("--spec", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    serve.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    serve.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--token-file", default=None,
                       help="file holding a bearer token; every route but /healthz then needs it")
    serve.add_argument("--max-queue", type=int, default=8, help="requests waiting behind the running one (429 beyond)")
    serve.add_argument("--max-body-mb", type=float, default=32.0, help="request body limit in MiB (413 beyond)")
    serve.add_argument("--max-pixels", type=int, default=2048 * 2048, help="pixels per decoded image (413 beyond)")
    serve.add_argument("--max-horizon", type=int, default=ServerConfig.max_horizon, help="actions T per request")
    serve.add_argument("--max-candidates", type=int, default=ServerConfig.max_candidates,
                       help="K of /v1/predict_batch")
    serve.add_argument("--result-ttl", type=float, default=ServerConfig.result_ttl_s,
                       help="seconds a streamed rollout's mp4 stays at /v1/results/{id}")
    serve.add_argument("--result-count", type=int, default=ServerConfig.result_max_count,
                       help="streamed rollouts kept at most (oldest dropped first)")
    serve.add_argument("--torch-threads", type=int, default=0,
                       help="intra-op threads of the engine (0 = torch's default); fewer on a shared CPU")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(handler=_serve_command)
