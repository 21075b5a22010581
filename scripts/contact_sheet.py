#!/usr/bin/env python3
"""Contact sheet of held-out rollouts: per episode the simulator's frames above each model's.

    .venv/bin/python scripts/contact_sheet.py --specs pusht-structured,pusht-tiny --out docs/contact_sheet.png
    .venv/bin/python scripts/contact_sheet.py --scene panda --specs runs/panda-block --episodes 4 \
        --out docs/contact_sheet_panda.png

Columns are frames 0, 6, 12, 24, 36, 48; one block of rows per episode (truth, then each spec),
PushT episodes taken from the physics evaluation's kinds (`--kinds`), Panda episodes from its
held-out rule (`--episodes`); same seeds as each evaluation's default.
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
    parser.add_argument("--scene", choices=("pusht", "panda"), default="pusht")
    parser.add_argument("--kinds", default="push,push,push,sweep,walk", help="PushT episode kinds, one per block")
    parser.add_argument("--episodes", type=int, default=4, help="Panda held-out episodes")
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=Path("docs/contact_sheet.png"))
    args = parser.parse_args(argv)
    from dream_engine_ros.engine.runner import DreamEngine

    engines = {name: DreamEngine.load(name, device="cpu") for name in args.specs.split(",")}
    rows: list[tuple[str, np.ndarray]] = []
    for label, frames, actions, seed in _episodes(args.scene, args.kinds.split(","), args.episodes, args.seed):
        rows.append((f"{label}: truth", frames[list(COLUMNS)]))
        for name, engine in engines.items():
            pred = engine.predict(frames[0], actions, seed=seed).frames
            rows.append((name, pred[list(COLUMNS)]))
    _draw(rows, args.out)
    print(args.out)
    return 0


def _episodes(scene: str, kinds: list[str], count: int,
              seed: int) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(label, true frames, actions, rollout seed) per episode, as each scene's evaluation draws them."""
    if scene == "panda":
        from dream_engine_ros.envs.panda_push.episodes import generate

        return [(f"held-out #{i}", ep.frames, ep.actions, i)
                for i, ep in enumerate(generate("held_out", count, max(COLUMNS), seed))]
    wanted: dict[str, int] = {}
    for kind in kinds:
        wanted[kind] = wanted.get(kind, 0) + 1
    pools = {kind: pusht_episodes.generate(kind, n, max(COLUMNS), seed) for kind, n in wanted.items()}
    used: dict[str, int] = {}
    out = []
    for kind in kinds:
        i = used.get(kind, 0)
        used[kind] = i + 1
        ep = pools[kind][i]
        out.append((f"{kind} #{i}", ep.frames, ep.actions, i))
    return out


def _draw(rows: list[tuple[str, np.ndarray]], out: Path) -> None:
    blocks = sum(label.endswith("truth") for label, _ in rows)
    size = 96 * SCALE
    width = LABEL_W + len(COLUMNS) * (size + GAP)
    height = 20 + len(rows) * (size + GAP) + GAP * blocks * 2
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
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.crop((0, 0, width, y)).save(out)


if __name__ == "__main__":
    raise SystemExit(main())
