"""The writer thread: writes everything in order, re-raises a write error in the producer."""

from __future__ import annotations

import pytest

from dream_engine_ros.augment.background_writer import BackgroundWriter


def test_writes_every_item_in_order() -> None:
    written: list[int] = []
    writer: BackgroundWriter[int] = BackgroundWriter(written.append, depth=2)
    for item in range(50):
        writer.submit(item)
    writer.close()
    assert written == list(range(50))


def test_a_write_error_reaches_the_producer_and_later_items_are_not_written() -> None:
    written: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            raise OSError("disk full")
        written.append(item)

    writer: BackgroundWriter[int] = BackgroundWriter(write, depth=1)
    with pytest.raises(OSError, match="disk full"):
        for item in range(100):
            writer.submit(item)
        writer.close()
    assert written == [0, 1, 2]
