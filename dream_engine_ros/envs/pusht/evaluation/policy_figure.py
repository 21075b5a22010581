"""The picture of a policy evaluation: dreamed vs real, one labelled point per policy.

Why a picture: a correlation coefficient hides which policies the dream gets wrong and in which
direction; the scatter against the y = x line shows it at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_report(report: dict[str, Any], out: Path) -> None:
    """Two panels (success rate, mean max coverage) from `EvaluationReport.to_dict()` -> PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dream_engine_ros.atomic_file import atomic_output

    policies = report["policies"]
    corr = report["correlations"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    panels = (("success", "real_success", "dream_success", "success rate (coverage > 0.95)"),
              ("coverage", "real_coverage", "dream_coverage", "mean of the episode's max coverage"))
    for ax, (key, real_key, dream_key, label) in zip(axes, panels, strict=True):
        xs = [p[real_key] for p in policies]
        ys = [p[dream_key] for p in policies]
        ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="y = x")
        ax.scatter(xs, ys, s=36, color="tab:blue", zorder=3)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            # numbers, not names: policies of similar outcome would print their names over each other
            ax.annotate(str(i + 1), (x, y), textcoords="offset points", xytext=(3 + 7 * (i % 2), 3 + 7 * (i % 3)),
                        fontsize=7)
        r, rho = corr[key]["pearson"], corr[key]["spearman"]
        ax.set_title(f"{label}\nPearson r {_fmt(r)}, Spearman {_fmt(rho)}", fontsize=10)
        ax.set_xlabel("real (gym-pusht)")
        ax.set_ylabel(f"dreamed ({report['spec']})")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.03)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    fig.suptitle(f"PushT policies: {report['episodes']} episodes each, {report['chunks'] * report['chunk_size']} "
                 f"steps, seed {report['seed']}", fontsize=11)
    key = "   ".join(f"{i + 1} {p['name']}" for i, p in enumerate(policies))
    fig.text(0.5, 0.01, key, ha="center", fontsize=7.5, wrap=True)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _fmt(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"
