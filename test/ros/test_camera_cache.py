"""Pure tests of the latest-frame cache: depth 1, stamps, max age."""

from __future__ import annotations

import threading

import pytest

from dream_engine_ros.ros.camera_cache import LatestFrameCache, NoFrameError, StaleFrameError

SECOND = 1_000_000_000


def test_empty_cache_raises_no_frame():
    with pytest.raises(NoFrameError, match="no camera frame"):
        LatestFrameCache().latest(now_ns=0, max_age_s=1.0)


def test_keeps_only_the_latest_frame():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("old", 1 * SECOND, "cam", 1 * SECOND)
    cache.put("new", 2 * SECOND, "cam2", 2 * SECOND)
    frame = cache.latest(now_ns=2 * SECOND, max_age_s=1.0)
    assert (frame.payload, frame.stamp_ns, frame.frame_id) == ("new", 2 * SECOND, "cam2")


def test_stale_frame_is_refused_with_its_age():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("frame", 10 * SECOND, "cam", 10 * SECOND)
    assert cache.latest(now_ns=10 * SECOND + SECOND // 2, max_age_s=1.0).payload == "frame"
    with pytest.raises(StaleFrameError) as caught:
        cache.latest(now_ns=13 * SECOND, max_age_s=1.0)
    assert caught.value.age_s == pytest.approx(3.0)
    assert "3.000 s old" in str(caught.value) and "max_frame_age_s=1" in str(caught.value)


def test_age_uses_header_stamp_not_arrival():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("frame", stamp_ns=1 * SECOND, frame_id="cam", received_ns=100 * SECOND)
    with pytest.raises(StaleFrameError):
        cache.latest(now_ns=100 * SECOND, max_age_s=5.0)


def test_future_stamped_frame_goes_stale_once_held_longer_than_the_limit():
    """A camera clock an hour fast must not keep its frame fresh forever (issue 13 item 5)."""
    cache: LatestFrameCache[str] = LatestFrameCache()
    hour = 3600 * SECOND
    cache.put("frame", stamp_ns=100 * SECOND + hour, frame_id="cam", received_ns=100 * SECOND)
    fresh = cache.latest(now_ns=100 * SECOND + SECOND // 2, max_age_s=1.0)
    assert fresh.payload == "frame"
    assert fresh.reference_ns == 100 * SECOND + hour  # predictions keep the camera's stamp
    with pytest.raises(StaleFrameError) as caught:
        cache.latest(now_ns=105 * SECOND, max_age_s=1.0)
    assert caught.value.age_s == pytest.approx(5.0)  # judged by arrival on the node clock


def test_age_is_the_older_of_stamp_and_arrival():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("frame", stamp_ns=99 * SECOND, frame_id="cam", received_ns=100 * SECOND)
    assert cache.latest(now_ns=100 * SECOND, max_age_s=1.5).payload == "frame"
    with pytest.raises(StaleFrameError) as caught:
        cache.latest(now_ns=100 * SECOND + SECOND // 2, max_age_s=1.2)
    assert caught.value.age_s == pytest.approx(1.5)  # stamp is older than arrival here


def test_unset_stamp_falls_back_to_arrival_time():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("frame", stamp_ns=0, frame_id="cam", received_ns=100 * SECOND)
    assert cache.latest(now_ns=100 * SECOND + 1, max_age_s=0.5).reference_ns == 100 * SECOND


def test_zero_max_age_disables_the_limit_and_clear_empties():
    cache: LatestFrameCache[str] = LatestFrameCache()
    cache.put("frame", SECOND, "cam", SECOND)
    assert cache.latest(now_ns=10_000 * SECOND, max_age_s=0).payload == "frame"
    cache.clear()
    assert cache.peek() is None


def test_concurrent_writers_leave_one_consistent_frame():
    cache: LatestFrameCache[int] = LatestFrameCache()

    def writer(base: int) -> None:
        for i in range(500):
            cache.put(base + i, base + i, f"cam{base}", base + i)

    threads = [threading.Thread(target=writer, args=(base,)) for base in (1_000, 2_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    frame = cache.peek()
    assert frame is not None and frame.payload == frame.stamp_ns
    assert frame.frame_id == f"cam{frame.payload // 1000 * 1000}"
