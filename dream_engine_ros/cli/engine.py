"""`dream-engine predict | specs | eval`: one rollout to an mp4, the model catalog, PSNR/SSIM of two videos.

Exit codes (`exit_codes.py`): 0 ok, 2 bad input (one line on stderr naming field, value and rule),
3 weights missing or unreadable, 4 I/O error, 1 anything else. A failed predict leaves no file behind.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, CliError
from dream_engine_ros.defaults import DEFAULT_SPEC
from dream_engine_ros.image import image_to_rgb8


def _read_frame(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image_to_rgb8(image)
    except FileNotFoundError:
        raise CliError(f"--frame: file not found: {path}", EXIT_BAD_INPUT) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise CliError(f"--frame: cannot read image {path}: {exc}", EXIT_BAD_INPUT) from None


def _read_actions(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".csv":
            return np.atleast_2d(np.loadtxt(path, delimiter=",", dtype=np.float32))
        loaded: np.ndarray = np.load(path, allow_pickle=False)
        return loaded
    except FileNotFoundError:
        raise CliError(f"--actions: file not found: {path}", EXIT_BAD_INPUT) from None
    except (ValueError, OSError) as exc:
        raise CliError(f"--actions: cannot read {path} as .npy/.csv: {exc}", EXIT_BAD_INPUT) from None


def _sampling_defaults(num_steps: int | None, guidance: float | None) -> tuple[int | None, float | None]:
    """``--num-steps 0`` and ``--guidance nan`` mean "spec default", as in a ROS goal."""
    steps = None if num_steps == 0 else num_steps
    scale = None if guidance is not None and math.isnan(guidance) else guidance
    return steps, scale


def cmd_predict(args: argparse.Namespace) -> dict[str, Any]:
    from dream_engine_ros.engine.errors import InputError
    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.engine.spec import get_spec
    from dream_engine_ros.engine.validation import RequestValidator
    from dream_engine_ros.video import write_mp4

    try:
        spec = get_spec(args.spec)
    except KeyError as exc:
        raise CliError(f"--spec: {exc.args[0]}", EXIT_BAD_INPUT) from None
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise CliError(f"--out: {out} must end in .mp4", EXIT_BAD_INPUT)
    if not out.parent.exists():
        raise CliError(f"--out: directory {out.parent} does not exist", EXIT_BAD_INPUT)
    frame = _read_frame(Path(args.frame))
    actions = _read_actions(Path(args.actions))
    num_steps, guidance = _sampling_defaults(args.num_steps, args.guidance)
    try:
        # Validate before loading weights: a bad request costs nothing.
        RequestValidator(spec, has_negative_context=True).request(frame, actions, num_steps, guidance, [args.seed])
    except InputError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    load_start = time.perf_counter()
    engine = DreamEngine.load(spec, weights=args.weights, device=args.device)
    load_s = time.perf_counter() - load_start
    result = engine.predict(frame, actions, seed=args.seed, num_steps=num_steps, guidance=guidance)
    write_start = time.perf_counter()
    write_mp4(out, result.frames, spec.fps)
    timings = dict(result.timings, mp4_s=round(time.perf_counter() - write_start, 6), load_s=round(load_s, 6))
    return {
        "out": str(out),
        "frames": int(result.frames.shape[0]),
        "height": spec.height,
        "width": spec.width,
        "fps": spec.fps,
        "spec": spec.name,
        "seed": args.seed,
        "num_steps": result.num_steps,
        "guidance": result.guidance,
        "device": str(engine.device),
        "timings": timings,
    }


def cmd_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    from dream_engine_ros.engine.loading import weights_status
    from dream_engine_ros.engine.registry import plugin_errors
    from dream_engine_ros.engine.spec import list_specs, spec_aliases

    for plugin, why in plugin_errors().items():
        print(f"warning: plug-in {plugin} failed to load: {why}", file=sys.stderr)
    rows = []
    specs = sorted(list_specs(), key=lambda spec: spec.name != DEFAULT_SPEC)  # the default first, then as registered
    for spec in specs:
        row = spec.summary()
        row["weights"] = weights_status(spec)
        row["aliases"] = spec_aliases(spec.name)  # former names, still accepted (deprecated); not models
        rows.append(row)
    return rows


def cmd_eval(args: argparse.Namespace) -> dict[str, Any]:
    from dream_engine_ros.metrics import evaluate_videos
    from dream_engine_ros.video import read_mp4

    videos = []
    for flag, path in (("--pred", Path(args.pred)), ("--truth", Path(args.truth))):
        if not path.is_file():
            raise CliError(f"{flag}: file not found: {path}", EXIT_BAD_INPUT)
        try:
            videos.append(read_mp4(path)[0])
        except Exception as exc:  # PyAV raises many types for a broken file
            raise CliError(f"{flag}: cannot decode {path}: {exc}", EXIT_BAD_INPUT) from None
    pred, truth = videos
    if pred.shape != truth.shape:
        raise CliError(f"--pred/--truth: shapes differ {pred.shape} vs {truth.shape}", EXIT_BAD_INPUT)
    return evaluate_videos(pred, truth)


def add_engine_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `predict`, `specs` and `eval` on the `dream-engine` parser."""
    predict = subparsers.add_parser("predict", help="predict a rollout video from a start frame and actions")
    predict.add_argument("--spec", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC}; see `specs`)")
    predict.add_argument("--frame", required=True,
                         help="start frame image (PNG/JPEG, any size; 8- or 16-bit, RGB or grayscale)")
    predict.add_argument("--actions", required=True, help="actions (T, D) as .npy or .csv")
    predict.add_argument("--seed", type=int, default=0)
    predict.add_argument("--num-steps", type=int, default=None, help="denoising steps (omitted or 0 = spec default)")
    predict.add_argument("--guidance", type=float, default=None,
                         help="classifier-free guidance scale (omitted or nan = spec default)")
    predict.add_argument("--weights", default=None, help="weights directory (default: the spec's)")
    predict.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    predict.add_argument("--out", required=True, help="output .mp4 path")
    predict.set_defaults(handler=cmd_predict)

    specs = subparsers.add_parser("specs", help="print the model catalog as JSON (with weight status)")
    specs.set_defaults(handler=cmd_specs)

    evaluate = subparsers.add_parser("eval", help="PSNR/SSIM of a predicted video against the truth")
    evaluate.add_argument("--pred", required=True, help="predicted .mp4")
    evaluate.add_argument("--truth", required=True, help="ground-truth .mp4 of the same shape")
    evaluate.set_defaults(handler=cmd_eval)
