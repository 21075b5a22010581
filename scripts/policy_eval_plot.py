#!/usr/bin/env python3
"""The README's policy-evaluation picture from a saved report (no re-run of the evaluation).

    .venv/bin/dream-engine evaluate-policy --policy all --episodes 30 --seed 2026 --json out/policy_eval.json
    .venv/bin/python scripts/policy_eval_plot.py --json out/policy_eval.json --out docs/policy_eval.png

Dreamed vs real per policy (success rate and mean max coverage), one labelled point each, with
the Pearson and Spearman correlations in the titles.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dream_engine_ros.envs.pusht.evaluation.policy_figure import plot_report  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", required=True, help="report written by `dream-engine evaluate-policy --json`")
    parser.add_argument("--out", default="docs/policy_eval.png")
    args = parser.parse_args()
    report = json.loads(Path(args.json).read_text())
    plot_report(report, Path(args.out))
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
