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


def test_the_node_serves_a_block_diffusion_model_folder_and_streams_each_chunk(make_engine,
                                                                               block_model_folder) -> None:
    """A folder as `dream-engine train` writes one: same frames as the engine itself, one feedback per chunk."""
    import numpy as np

    from dream_engine_ros.engine.runner import DreamEngine
    from dream_engine_ros.ros.image_conversion import image_msg_to_rgb
    from dream_engine_ros.ros.spinning import wait_until

    folder = block_model_folder("my-block")
    node = make_engine(spec=str(folder), weights="", predicted_rate_hz=-1.0)
    assert node.spec.name == "my-block" and node.spec.family == "block-diffusion"
    node.client.clear_predicted()
    frame = sample_frame()
    actions = np.random.default_rng(5).uniform(0.0, 10.0, size=(6, 2)).astype(np.float32)
    start = rgb_to_image_msg(frame, ns_to_time(1_000_000_000), "camera")
    run = node.client.run(make_goal(actions, start_frame=start, seed=3, num_steps=2, write_video=False,
                                    publish_frames=True))
    result = run.wait()
    assert run.status == STATUS.STATUS_SUCCEEDED and result.error_code == Rollout.Result.OK, result.error_msg
    assert result.spec == "my-block" and result.num_frames == 7
    assert [(f.chunks_done, f.chunks_total) for f in run.feedback] == [(1, 3), (2, 3), (3, 3)]
    direct = DreamEngine.load(str(folder), device="cpu").predict(frame, actions, seed=3, num_steps=2).frames
    wait_until(lambda: len(node.client.predicted_frames()) >= 7, 5.0, "every predicted frame")
    streamed = [image_msg_to_rgb(message) for _, message in node.client.predicted_frames()]
    assert np.array_equal(np.stack(streamed), direct)
