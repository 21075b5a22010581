"""Flow sampler: both solvers recover a known clean latent from an exact velocity field."""

from __future__ import annotations

import pytest
import torch

from dream_engine_ros.engine import sampler
from dream_engine_ros.engine.errors import RolloutCancelled


@pytest.mark.parametrize("solver", ["unipc", "euler"])
def test_exact_velocity_field_lands_on_the_clean_latent(solver: str) -> None:
    x0 = torch.randn(1, 4, 3, 5, 5)
    noise = sampler.seeded_noise(3, (1, 4, 3, 5, 5))
    schedule = sampler.flow_schedule(6, 3.0)
    x_start = schedule.sigmas[0] * noise + (1 - schedule.sigmas[0]) * x0
    # on the straight path x_s = s*noise + (1-s)*x0 the true velocity is noise - x0 everywhere
    out = sampler.sample(lambda x, step: noise - x0, x_start, schedule, solver)
    torch.testing.assert_close(out, x0, atol=1e-4, rtol=1e-4)


def test_cancel_is_polled_before_each_step() -> None:
    polls = []
    schedule = sampler.flow_schedule(5, 3.0)
    with pytest.raises(RolloutCancelled):
        sampler.sample(lambda x, step: x, torch.zeros(1), schedule, "unipc",
                       should_cancel=lambda: polls.append(1) or len(polls) == 3)
    assert len(polls) == 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_steps"):
        sampler.flow_schedule(0, 3.0)
    with pytest.raises(ValueError, match="seed"):
        sampler.seeded_noise(-1, (2,))
    with pytest.raises(ValueError, match="solver"):
        sampler.sample(lambda x, step: x, torch.zeros(1), sampler.flow_schedule(2, 1.0), "heun")
