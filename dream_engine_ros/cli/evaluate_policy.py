"""`dream-engine evaluate-policy`: PushT policies in the world model and in gym-pusht (imports
stay lazy: the parser is built on every `dream-engine` call, and torch/gym-pusht cost seconds).

Exit codes (`exit_codes.py`, as the rest of the CLI): 0 done, 1 a failure, 2 bad input, 3 weights
missing, 4 I/O error.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from pathlib import Path
from typing import Any

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK, CliError
from dream_engine_ros.defaults import DEFAULT_SPEC


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def load_policies(specs: list[str]) -> dict[str, Any]:
    """`module:callable` entries (or names of the shipped PushT policies, or `all`) -> {name: policy}."""
    from dream_engine_ros.envs.pusht.evaluation.policies import POLICIES

    out: dict[str, Any] = {}
    for spec in specs:
        if spec == "all":
            out.update(POLICIES)
            continue
        if spec in POLICIES:
            out[spec] = POLICIES[spec]
            continue
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise CliError(f"--policy: {spec!r} is neither module:callable nor one of: all, {', '.join(POLICIES)}",
                           EXIT_BAD_INPUT)
        try:
            target: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as exc:
            raise CliError(f"--policy: cannot load {spec!r}: {exc}", EXIT_BAD_INPUT) from None
        if not callable(target):
            raise CliError(f"--policy: {spec!r} is not callable", EXIT_BAD_INPUT)
        out[attribute] = target
    return out


def cmd_evaluate_policy(args: argparse.Namespace) -> int:
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.engine.spec import get_spec

    try:
        spec = get_spec(args.spec)
    except KeyError as exc:
        raise CliError(f"--spec: {exc.args[0]}", EXIT_BAD_INPUT) from None
    if spec.action_dim != 2:  # the policies command PushT's 2-D targets
        raise CliError(f"--spec: {spec.name} takes {spec.action_dim}-D actions; the PushT policies command 2-D "
                       "targets (a model trained on PushT recordings, or pusht-structured)", EXIT_BAD_INPUT)
    policy_chunk = args.policy_chunk or spec.chunk_size
    if policy_chunk % spec.chunk_size or (spec.frame_model is not None and policy_chunk != spec.chunk_size):
        raise CliError(f"--policy-chunk: {policy_chunk} must be a multiple of the chunk size {spec.chunk_size} "
                       "(equal to it for a causal-video spec)", EXIT_BAD_INPUT)
    if args.horizon % policy_chunk:
        raise CliError(f"--horizon: {args.horizon} is not a multiple of the chunk size {policy_chunk}",
                       EXIT_BAD_INPUT)
    for flag, out in (("--json", args.json), ("--plot", args.plot)):
        if out is not None and not Path(out).parent.is_dir():
            raise CliError(f"{flag}: directory {Path(out).parent} does not exist", EXIT_BAD_INPUT)
    policies = load_policies(args.policy)
    import torch

    from dream_engine_ros.envs.pusht.evaluation.policy_eval import evaluate

    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        engine = DreamEngine.load(spec, weights=args.weights, device=args.device)
        report = evaluate(engine, policies, args.episodes, args.seed, args.horizon // policy_chunk,
                          fused=not args.exact, batch=args.batch, log=lambda line: print(line, file=sys.stderr),
                          policy_chunk=policy_chunk)
    finally:
        torch.set_num_threads(threads)  # main() may run inside another program (the tests)
    data = report.to_dict()
    if args.json:
        import json

        from dream_engine_ros.atomic_file import atomic_output

        def finite(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        with atomic_output(Path(args.json)) as tmp:
            tmp.write_text(json.dumps(_walk(data, finite), indent=1, allow_nan=False))
    if args.plot:
        from dream_engine_ros.envs.pusht.evaluation.policy_figure import plot_report

        plot_report(data, Path(args.plot))
    print(report.table())
    corr = report.correlations()
    print(f"success: Pearson r {corr['success']['pearson']:.3f}, Spearman {corr['success']['spearman']:.3f}, "
          f"pairs > 10 points apart ranked wrong: {corr['success']['ranking_violations_10pt']}")
    print(f"coverage: Pearson r {corr['coverage']['pearson']:.3f}, Spearman {corr['coverage']['spearman']:.3f}, "
          f"pairs > 10 points apart ranked wrong: {corr['coverage']['ranking_violations_10pt']}")
    print(f"throughput: {report.dream_episodes_per_minute:.1f} dreamed / {report.real_episodes_per_minute:.1f} "
          f"simulated episodes per minute ({args.horizon} steps each)")
    return EXIT_OK


def _walk(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, leaf) for v in value]
    return leaf(value)


def add_policy_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `evaluate-policy` on the `dream-engine` parser."""
    evaluate = subparsers.add_parser(
        "evaluate-policy", help="PushT policies closed-loop in the world model vs in gym-pusht",
        description="Run each policy closed-loop inside the world model (it sees predicted frames) and in "
                    "gym-pusht (it sees rendered frames) from the same seeded start frames; score both by the "
                    "goal coverage read from the pixels (max over the episode; success = coverage > 0.95, "
                    "gym-pusht's rule); report per-policy success and coverage, Pearson and Spearman.")
    evaluate.add_argument("--policy", action="append", required=True,
                          help="module:callable (policy(frames, chunk, rng) -> (chunk, 2) targets), a shipped "
                               "policy name, or 'all' (repeatable)")
    evaluate.add_argument("--episodes", type=_positive, default=20)
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--horizon", type=_positive, default=96,
                          help="control steps per episode (a multiple of the spec's chunk size)")
    evaluate.add_argument("--spec", default=DEFAULT_SPEC,
                          help="a catalog name or model folder whose actions are PushT's 2-D targets "
                               f"(default {DEFAULT_SPEC})")
    evaluate.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    evaluate.add_argument("--policy-chunk", type=_positive, default=None,
                          help="targets a policy gives per call (default the spec's chunk size; a multiple of it, "
                               "e.g. 12 as pusht-structured asks, for a model that dreams through predict)")
    evaluate.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    evaluate.add_argument("--batch", type=_positive, default=64, help="episodes per network call")
    evaluate.add_argument("--threads", type=_positive, default=None,
                          help="torch CPU threads (1 is several times faster on a CPU shared with other work)")
    evaluate.add_argument("--exact", action="store_true",
                          help="episodes one by one through the network (rows bit-identical to single predicts; "
                               "slower) instead of fused")
    evaluate.add_argument("--json", default=None, help="write the full report (per-episode scores) here")
    evaluate.add_argument("--plot", default=None, help="write the dreamed-vs-real scatter plot (PNG) here")
    evaluate.set_defaults(handler=cmd_evaluate_policy)
