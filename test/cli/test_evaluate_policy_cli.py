"""`dream-engine evaluate-policy`: refuses bad input before loading anything, and a tiny run
writes its table, JSON report and scatter plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dream_engine_ros.cli import main
from dream_engine_ros.cli.exit_codes import EXIT_BAD_INPUT, EXIT_OK


@pytest.mark.parametrize("argv, message", [
    (["--policy", "pusher", "--horizon", "10"], "not a multiple of the chunk size"),
    (["--policy", "no_such_module_xyz:act"], "cannot load"),
    (["--policy", "teleport"], "neither module:callable"),
    (["--policy", "dream_engine_ros.envs.pusht.evaluation.policies:POLICIES"], "not callable"),
    (["--policy", "pusher", "--spec", "dreamdojo-gr1-2b"], "the PushT policies command 2-D targets"),
    (["--policy", "pusher", "--json", "/no/such/dir/out.json"], "does not exist"),
    (["--policy", "pusher", "--policy-chunk", "24"], "equal to it for a causal-video spec"),
])
def test_bad_input_exits_2_with_the_reason(argv: list[str], message: str, capsys) -> None:
    assert main(["evaluate-policy", *argv]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


def test_a_tiny_run_writes_table_json_and_plot(tmp_path: Path, capsys) -> None:
    out_json, out_png = tmp_path / "eval.json", tmp_path / "eval.png"
    code = main(["evaluate-policy", "--policy", "dream_engine_ros.envs.pusht.evaluation.policies:still",
                 "--policy", "random", "--episodes", "2", "--seed", "4", "--horizon", "12", "--device", "cpu",
                 "--threads", "1", "--json", str(out_json), "--plot", str(out_png)])
    assert code == EXIT_OK
    printed = capsys.readouterr().out
    assert "| still |" in printed and "| random |" in printed and "Pearson" in printed
    report = json.loads(out_json.read_text())
    assert [p["name"] for p in report["policies"]] == ["still", "random"]
    assert report["episodes"] == 2 and report["chunks"] == 1 and len(report["policies"][0]["per_episode"]["dream"]) == 2
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
