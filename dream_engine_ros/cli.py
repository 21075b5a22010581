"""`dream-engine` command line: predict, specs, eval (+ node and demo from the ROS adapter).

Exit codes: 0 ok, 2 bad input (one line on stderr naming field, value and rule), 3 weights
missing or unreadable, 4 I/O error, 1 anything else. A failed predict leaves no file behind.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dream_engine_ros.defaults import DEFAULT_SPEC

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_WEIGHTS, EXIT_IO = 0, 1, 2, 3, 4


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def image_to_rgb8(image: Any) -> np.ndarray:
    """PIL image -> (H, W, 3) uint8, keeping 16-bit grayscale visible.

    Why: PIL opens a 16-bit gray PNG as mode ``I;16`` (``I`` for some files) and
    ``convert("RGB")`` clips every value above 255 to white. Those modes are scaled to 8 bit
    by their high byte, the same reduction PIL applies to 16-bit RGB PNGs.
    """
    if image.mode.startswith("I;16") or image.mode == "I":
        wide = np.asarray(image).astype(np.int64)
        gray = (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


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
        return np.load(path, allow_pickle=False)
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
    from dream_engine_ros.engine.spec import list_specs

    rows = []
    for spec in list_specs():
        row = spec.summary()
        row["weights"] = weights_status(spec)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dream-engine", description="Action-conditioned video world models.")
    sub = parser.add_subparsers(dest="command", required=True)

    predict = sub.add_parser("predict", help="predict a rollout video from a start frame and actions")
    predict.add_argument("--spec", default=DEFAULT_SPEC)
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

    specs = sub.add_parser("specs", help="print the model catalog as JSON (with weight status)")
    specs.set_defaults(handler=cmd_specs)

    evaluate = sub.add_parser("eval", help="PSNR/SSIM of a predicted video against the truth")
    evaluate.add_argument("--pred", required=True)
    evaluate.add_argument("--truth", required=True)
    evaluate.set_defaults(handler=cmd_eval)

    from dream_engine_ros.augment.cli_commands import add_augment_subcommands
    from dream_engine_ros.evaluation.gate_cli import add_gate_subcommands
    from dream_engine_ros.evaluation.policy_cli import add_policy_subcommands
    from dream_engine_ros.http.cli_commands import add_http_subcommands

    add_gate_subcommands(sub)
    add_policy_subcommands(sub)
    add_http_subcommands(sub)
    add_augment_subcommands(sub)
    try:
        from dream_engine_ros.ros.cli_commands import add_ros_subcommands
    except ImportError:
        pass  # the ROS adapter is optional for engine-only installs
    else:
        add_ros_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from dream_engine_ros.engine.errors import InputError, WeightsError

    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None) or args.func
    try:
        result = handler(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_WEIGHTS
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_IO
    if isinstance(result, int):
        return result
    if result is not None:
        print(json.dumps(result, indent=None if args.command == "predict" else 2))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
