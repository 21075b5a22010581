"""Per-frame curves of a gate report as one PNG (matplotlib, Agg: no display needed).

One panel per metric: each video's curve thin, the mean over videos bold, the threshold dashed,
and the pooled mean that the gate compares as a solid line, so a reader sees both where a model
drifts along the horizon and how far it is from failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

LABELS = {"psnr": "PSNR (dB, higher is better)", "ssim": "SSIM (higher is better)",
          "lpips": "LPIPS AlexNet (lower is better)"}
THRESHOLD_KEYS = {"psnr": "min_psnr", "ssim": "min_ssim", "lpips": "max_lpips"}


def plot_report(report: dict[str, Any], path: Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dream_engine_ros.atomic_file import atomic_output

    rows = report["per_video"]
    metrics = [m for m in LABELS if all(m in row for row in rows)]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        # frame 0 is the given start frame (PSNR capped at 100 dB): drawn from frame 1 on
        curves = [np.asarray(row[metric][1:] if row["frames"] > 1 else row[metric]) for row in rows]
        for curve in curves:
            ax.plot(np.arange(1, len(curve) + 1), curve, color="tab:blue", alpha=0.25, linewidth=0.8)
        longest = max(len(c) for c in curves)
        mean = [np.mean([c[i] for c in curves if len(c) > i]) for i in range(longest)]
        ax.plot(np.arange(1, longest + 1), mean, color="tab:blue", linewidth=2.0, label="mean over videos")
        pooled = report["means"][metric]
        ax.axhline(pooled, color="black", linewidth=0.8, label=f"pooled mean (gated): {pooled:.4g}")
        threshold = report["thresholds"].get(THRESHOLD_KEYS[metric])
        if threshold is not None:
            failed = any(f["metric"] == metric for f in report["failed"])
            ax.axhline(threshold, color="tab:red" if failed else "tab:green", linestyle="--",
                       label=f"threshold: {threshold:g}")
        ax.set_title(f"{metric.upper()}  pooled mean {pooled:.4g}")
        ax.set_xlabel("frame")
        ax.set_ylabel(LABELS[metric])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    verdict = "PASS" if report["passed"] else "FAIL: " + ", ".join(f["metric"] for f in report["failed"])
    fig.suptitle(f"{title + ' - ' if title else ''}{report['videos']} videos, {verdict}")
    fig.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
