#!/usr/bin/env python3
"""Contact sheet of held-out PushT rollouts: per episode the simulator's frames above each model's.

    .venv/bin/python scripts/contact_sheet.py --specs pusht-structured,pusht-tiny --out docs/contact_sheet.png

Columns are frames 0, 6, 12, 24, 36, 48; one block of rows per episode (truth, then each spec),
episodes taken from the physics evaluation's kinds (`--kinds`), same seeds as its default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from dream_engine_ros.envs.pusht.evaluation import episodes as pusht_episodes  # noqa: E402

COLUMNS = (0, 6, 12, 24, 36, 48)
SCALE = 2
LABEL_W = 120
GAP = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default="pusht-structured,pusht-tiny")
    parser.add_argument("--kinds", default="push,push,push,sweep,walk")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=Path("docs/contact_sheet.png"))
    args = parser.parse_args(argv)
    from dream_engine_ros.engine.runner import DreamEngine

    engines = {name: DreamEngine.load(name, device="cpu") for name in args.specs.split(",")}
    kinds = args.kinds.split(",")
    wanted: dict[str, int] = {}
    for kind in kinds:
        wanted[kind] = wanted.get(kind, 0) + 1
    pools = {kind: pusht_episodes.generate(kind, n, max(COLUMNS), args.seed) for kind, n in wanted.items()}
    rows: list[tuple[str, np.ndarray]] = []
    used: dict[str, int] = {}
    for kind in kinds:
        i = used.get(kind, 0)
        used[kind] = i + 1
        ep = pools[kind][i]
        rows.append((f"{kind} #{i}: truth", ep.frames[list(COLUMNS)]))
        for name, engine in engines.items():
            pred = engine.predict(ep.frames[0], ep.actions, seed=i).frames
            rows.append((name, pred[list(COLUMNS)]))
    size = 96 * SCALE
    width = LABEL_W + len(COLUMNS) * (size + GAP)
    height = 20 + len(rows) * (size + GAP) + GAP * len(kinds) * 2
    sheet = Image.new("RGB", (width, height), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for c, frame_index in enumerate(COLUMNS):
        draw.text((LABEL_W + c * (size + GAP) + 4, 4), f"frame {frame_index}", fill=(230, 230, 230))
    y = 20
    for r, (label, frames) in enumerate(rows):
        if r and label.endswith("truth"):
            y += GAP * 2
        draw.text((4, y + size // 2 - 6), label, fill=(230, 230, 230))
        for c, frame in enumerate(frames):
            tile = Image.fromarray(frame).resize((size, size), Image.NEAREST)
            sheet.paste(tile, (LABEL_W + c * (size + GAP), y))
        y += size + GAP
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.crop((0, 0, width, y)).save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
