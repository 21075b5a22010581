"""The shared training loop (training/loop.py): learns, is deterministic, resumes exactly, stops at
its time budget, and runs data-parallel on 2 CPU processes (gloo) with the same loss curve."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from toy_trainable import Toy, run

from dream_engine_ros.training.loop import CHECKPOINT, LoopConfig, LoopResult, load_checkpoint, train

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def test_the_loss_falls_and_a_second_run_is_identical(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = run(tmp_path / "a", 40, False), run(tmp_path / "b", 40, False)
    losses = [loss for _, loss in first["losses"]]
    assert losses[-1] < 0.2 * losses[0]
    assert first == second


def test_a_resumed_run_equals_one_straight_run(tmp_path: Path) -> None:
    (tmp_path / "straight").mkdir()
    (tmp_path / "resumed").mkdir()
    straight = run(tmp_path / "straight", 20, False)
    run(tmp_path / "resumed", 10, False)
    assert load_checkpoint(tmp_path / "resumed")["step"] == 10
    resumed = run(tmp_path / "resumed", 20, True)
    assert resumed == straight


def test_the_time_budget_stops_the_run_with_a_checkpoint(tmp_path: Path) -> None:
    config = LoopConfig(steps=10_000, batch=8, time_budget_s=0.3, log_every=10, eval_every=50, checkpoint_every=5000)
    result = train(Toy(), config, tmp_path, torch.device("cpu"))
    assert result.stopped_by == "time budget" and result.steps_done < 10_000
    assert load_checkpoint(tmp_path)["step"] == result.steps_done and result.best_state is not None


def _ema_run(folder: Path, steps: int, resume: bool) -> tuple[LoopResult, Toy]:
    toy = Toy()
    config = LoopConfig(steps=steps, batch=8, lr=1e-2, seed=3, log_every=1, eval_every=5, checkpoint_every=5, ema=0.9)
    return train(toy, config, folder, torch.device("cpu"), resume=resume), toy


def test_the_moving_average_is_what_is_judged_kept_and_resumed(tmp_path: Path) -> None:
    """ema > 0: the held-out figures and the best state are the averaged weights' (not the live
    ones, which the module keeps for training), and a resumed run continues the same average."""
    import numpy as np

    (tmp_path / "straight").mkdir()
    (tmp_path / "resumed").mkdir()
    straight, toy = _ema_run(tmp_path / "straight", 20, False)
    assert straight.best_state is not None and straight.best_state["net"]["0.weight"] is not None
    averages = load_checkpoint(tmp_path / "straight")["averages"]["net"]
    live = toy.net.state_dict()
    assert not torch.equal(averages["0.weight"], live["0.weight"])  # the average lags the live weights
    toy.net.load_state_dict({**live, **averages})
    with torch.no_grad():
        assert np.isclose(toy.evaluate()["loss"], straight.evals[-1][1]["loss"], rtol=1e-6)
    _ema_run(tmp_path / "resumed", 10, False)
    resumed, _ = _ema_run(tmp_path / "resumed", 20, True)
    assert resumed.evals == straight.evals
    assert torch.equal(load_checkpoint(tmp_path / "resumed")["averages"]["net"]["0.weight"], averages["0.weight"])


def test_a_broken_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path / CHECKPOINT)):
        load_checkpoint(tmp_path)
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=f"{tmp_path / CHECKPOINT} is not a readable checkpoint"):
        load_checkpoint(tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _torchrun(processes: int, folder: Path, steps: int, resume: bool, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)]), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
               str(HERE / "toy_trainable.py"), str(folder), str(steps), "1" if resume else "0", str(out)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_processes_follow_one_process_and_resume_across_counts(tmp_path: Path) -> None:
    """Same global batches, each process a half: the curves agree to float-sum order (1e-5
    relative), and a checkpoint of 2 processes resumes in 1."""
    for name in ("one", "two", "mixed"):
        (tmp_path / name).mkdir()
    one = run(tmp_path / "one", 20, False)
    two = _torchrun(2, tmp_path / "two", 20, False, tmp_path / "two.json")
    for (step_a, loss_a), (step_b, loss_b) in zip(one["losses"], two["losses"], strict=True):
        assert step_a == step_b and loss_b == pytest.approx(loss_a, rel=1e-5)
    _torchrun(2, tmp_path / "mixed", 10, False, tmp_path / "mixed.json")
    mixed = run(tmp_path / "mixed", 20, True)
    for (_, loss_a), (_, loss_b) in zip(one["losses"], mixed["losses"], strict=True):
        assert loss_b == pytest.approx(loss_a, rel=1e-5)


def test_the_report_and_loss_curve_are_written(tmp_path: Path) -> None:
    from dream_engine_ros.training.report import LOSS_CURVE, REPORT, plot_loss_curve, write_report

    config = LoopConfig(steps=20, batch=8, lr=1e-2, log_every=2, eval_every=5, checkpoint_every=20)
    result = train(Toy(), config, tmp_path, torch.device("cpu"))
    write_report(tmp_path, result, {"model": "toy"})
    plot_loss_curve(tmp_path, result, "toy")
    report = json.loads((tmp_path / REPORT).read_text())
    assert report["model"] == "toy" and report["steps_done"] == 20 and len(report["losses"]) == 10
    assert (tmp_path / LOSS_CURVE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
