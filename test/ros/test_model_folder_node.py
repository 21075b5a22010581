"""The engine node runs a model folder named by its `spec` parameter (`spec:=DIR`)."""

from __future__ import annotations

from ros_helpers import STATUS, make_goal, pusht_actions, sample_frame

from dream_engine_msgs.action import Rollout
from dream_engine_ros.ros.frame_stamps import ns_to_time
from dream_engine_ros.ros.image_conversion import rgb_to_image_msg


def test_spec_parameter_takes_a_model_folder(make_engine, model_folder) -> None:
    folder = model_folder("pusht-tiny", "my-tiny")
    engine = make_engine(spec=str(folder), weights="")
    assert engine.spec.name == "my-tiny"
    start = rgb_to_image_msg(sample_frame(), ns_to_time(1_000_000_000), "camera")
    run = engine.client.run(make_goal(pusht_actions(12), start_frame=start, seed=1, write_video=False))
    result = run.wait()
    assert run.status == STATUS.STATUS_SUCCEEDED and result.error_code == Rollout.Result.OK, result.error_msg
    assert result.spec == "my-tiny" and result.num_frames == 13
