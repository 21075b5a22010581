"""A training run's report in its model folder: `report.json` (figures) and `loss_curve.png` (a picture).

Why in the folder: a model without the record of how it was trained and how it did on held-out
recordings cannot be trusted; the report travels with the weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dream_engine_ros.atomic_file import atomic_output
from dream_engine_ros.training.loop import LoopResult

REPORT = "report.json"
LOSS_CURVE = "loss_curve.png"


def write_report(folder: str | os.PathLike[str], result: LoopResult, facts: dict[str, Any]) -> Path:
    """`report.json`: the loop's losses, held-out figures, best step, time and the caller's facts."""
    target = Path(folder) / REPORT
    body = {
        "steps_done": result.steps_done, "stopped_by": result.stopped_by, "seconds": round(result.seconds, 3),
        "best_step": result.best_step, "losses": result.losses, "held_out": result.evals, **facts,
    }
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(body, indent=1) + "\n")
    return target


def plot_loss_curve(folder: str | os.PathLike[str], result: LoopResult | dict[str, LoopResult], title: str) -> Path:
    """`loss_curve.png`: training and held-out loss against the step, log scale; with several named
    stages, each stage's curves follow the previous stage's steps and are labelled by stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    target = Path(folder) / LOSS_CURVE
    figure, axis = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    stages = result if isinstance(result, dict) else {"": result}
    offset = 0
    for name, stage in stages.items():
        prefix = f"{name}: " if name else ""
        if stage.losses:
            steps, values = zip(*stage.losses, strict=True)
            axis.plot([s + offset for s in steps], values, label=f"{prefix}training", linewidth=1.0)
        held = [(step, figures["loss"]) for step, figures in stage.evals if "loss" in figures]
        if held:
            steps, values = zip(*held, strict=True)
            axis.plot([s + offset for s in steps], values, "o-", label=f"{prefix}held-out", linewidth=1.0,
                      markersize=3)
        offset += stage.steps_done
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    with atomic_output(target) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return target
