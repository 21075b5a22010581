"""Error values are printed as a user reads them, whatever numeric type carried them."""

from __future__ import annotations

import numpy as np
import pytest

from dream_engine_ros.engine.errors import plain_value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (np.float32("nan"), "nan"),
        (np.float64(1.5), "1.5"),
        (np.float32("-inf"), "-inf"),
        (np.int64(7), "7"),
        (np.bool_(True), "True"),
        (np.array(2.5), "2.5"),
        (float("nan"), "nan"),
        (3, "3"),
        ((np.int64(5), np.int64(1)), "(5, 1)"),
        ((np.int64(5),), "(5,)"),
        ("rgb8", "'rgb8'"),
    ],
)
def test_plain_value(value: object, shown: str) -> None:
    assert plain_value(value) == shown
