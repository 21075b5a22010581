"""The T's contact model (envs/pusht/contact_model.py): features, loading, row-wise bits, the rest gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dream_engine_ros.engine.errors import WeightsError
from dream_engine_ros.engine.loading import weight_paths
from dream_engine_ros.engine.weights import read_state_file
from dream_engine_ros.envs.pusht import contact_model as cm
from dream_engine_ros.envs.pusht.specs import PUSHT_STRUCTURED
from dream_engine_ros.envs.pusht.training import train_contact


@pytest.fixture(scope="module")
def shipped() -> cm.ContactModel:
    return cm.ContactModel.from_state(read_state_file(weight_paths(PUSHT_STRUCTURED)["contact"]))


def test_engine_features_equal_the_training_features() -> None:
    rng = np.random.default_rng(0)
    args = [rng.uniform(0, 96, size=(7, 2)) for _ in range(6)] + [rng.uniform(-4, 4, size=7) for _ in range(2)]
    engine = cm.contact_features(*args)
    training = train_contact.features(*(torch.from_numpy(a) for a in args)).numpy()
    assert engine.shape == (7, cm.FEATURES)
    np.testing.assert_allclose(engine, training, rtol=0, atol=1e-12)


def test_engine_wall_features_equal_the_training_features() -> None:
    rng = np.random.default_rng(2)
    centre, angle = rng.uniform(0, 96, size=(9, 2)), rng.uniform(-4, 4, size=9)
    engine = cm.wall_features(centre, angle, 96)
    training = train_contact.wall_features(torch.from_numpy(centre), torch.from_numpy(angle), 96).numpy()
    assert engine.shape == (9, cm.WALL_FEATURES) and np.abs(engine).max() > 0
    np.testing.assert_allclose(engine, training, rtol=0, atol=1e-12)


def test_walls_are_seen_only_near_and_in_the_t_s_own_frame() -> None:
    assert not cm.wall_features(np.array([48.0, 48.0]), np.array(0.7), 96).any()
    near_left = cm.wall_features(np.array([10.0, 48.0]), np.array(0.0), 96)
    np.testing.assert_allclose(near_left, [-(1 - 9.5625 / 20), 0, 0, 0, 0, 0, 0, 0], atol=1e-12)
    turned = cm.wall_features(np.array([10.0, 48.0]), np.array(np.pi / 2), 96)  # body x is the image's y
    np.testing.assert_allclose(turned[:2], [0.0, 1 - 9.5625 / 20], atol=1e-12)


def test_a_model_trained_with_walls_steps_as_the_training_unroll() -> None:
    torch.manual_seed(3)
    net = train_contact.ContactNet(hidden=16, depth=2, walls=True)  # unroll runs it in float32
    model = cm.ContactModel.from_state(net.state_dict())
    assert model.sees_walls and not cm.ContactModel.from_state(train_contact.ContactNet(8, 1).state_dict()).sees_walls
    pose = np.array([[18.0, 40.0, 0.4]])  # the left wall within reach, every corner still inside
    agent = np.array([[18.0, 25.0], [18.0, 26.0], [18.0, 27.5]])
    target = np.array([[18.0, 35.0]])
    stepped = model.step(agent[:1], agent[1:2], agent[2:], target, pose, pose, 96)
    with torch.no_grad():
        centres, angles = train_contact.unroll(net, torch.from_numpy(agent[None]), torch.from_numpy(target[None]),
                                               torch.from_numpy(pose[:, :2]), torch.from_numpy(pose[:, :2]),
                                               torch.from_numpy(pose[:, 2]), torch.from_numpy(pose[:, 2]))
    np.testing.assert_allclose(stepped[0], [*centres[0, 0].numpy(), angles[0, 0].item()], rtol=0, atol=1e-5)


def test_engine_forward_equals_the_training_network() -> None:
    torch.manual_seed(0)
    net = train_contact.ContactNet(hidden=32, depth=2).double()
    model = cm.ContactModel.from_state(net.state_dict())
    x = torch.randn(5, cm.FEATURES, dtype=torch.float64)
    np.testing.assert_allclose(model.forward(x.numpy()), net(x).detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("file", ["contact", "planner_contact"])
def test_a_batch_row_has_the_bits_of_its_single_row(file: str) -> None:
    model = cm.ContactModel.from_state(read_state_file(weight_paths(PUSHT_STRUCTURED)[file]))
    assert model.sees_walls == (file == "planner_contact")  # the frames' model has no walls (README)
    x = np.random.default_rng(1).normal(size=(9, model.weights[0].shape[1]))
    batch = model.forward(x)
    for i in range(9):
        np.testing.assert_array_equal(batch[i], model.forward(x[i:i + 1])[0])


def test_loading_rejects_incomplete_or_mismatched_weights() -> None:
    state = train_contact.ContactNet(hidden=8, depth=1).state_dict()
    missing = {k: v for k, v in state.items() if k != "layers.1.bias"}
    with pytest.raises(WeightsError, match="layers.1.bias"):
        cm.ContactModel.from_state(missing)
    with pytest.raises(WeightsError, match="unexpected keys"):
        cm.ContactModel.from_state({**state, "extra": torch.zeros(1)})
    wide = dict(state, **{"layers.0.weight": torch.zeros(8, cm.FEATURES + 1)})
    with pytest.raises(WeightsError, match="features"):
        cm.ContactModel.from_state(wide)


def test_a_block_at_rest_with_the_agent_away_stays_exactly_still(shipped: cm.ContactModel) -> None:
    pose = np.array([[48.0, 48.0, 0.3]])
    far = np.array([[10.0, 10.0]])
    out = shipped.step(far, far, far + 1.0, far + 2.0, pose, pose.copy(), 96)
    np.testing.assert_array_equal(out, pose)


def test_the_agent_pushing_the_stem_end_moves_the_block_along(shipped: cm.ContactModel) -> None:
    """Angle 0: the bar lies along x above the stem (image y down); an agent coming up from
    below the stem's end pushes the T towards -y."""
    pose = np.array([[48.0, 48.0, 0.0]])
    centre_local = cm.T_CENTROID_LOCAL * 96 / cm.WORLD_SIZE
    stem_end = 48.0 + (120.0 * 96 / cm.WORLD_SIZE - centre_local[1])
    agent = [np.array([[48.0, stem_end + 2.8 + d]]) for d in (1.4, 0.7, 0.0)]
    prev, out = pose.copy(), pose.copy()
    for _ in range(6):
        nxt = shipped.step(*agent, agent[-1] - np.array([[0.0, 8.0]]), out, prev, 96)
        prev, out = out, nxt
        agent = [agent[1], agent[2], agent[2] - np.array([[0.0, 0.7]])]
    assert out[0, 1] < 48.0 - 1.0, out  # pushed towards -y
    assert abs(out[0, 0] - 48.0) < 1.0 and abs(out[0, 2]) < np.radians(10), out  # straight, no spin


def test_the_layers_read_the_start_pose_the_simulator_set() -> None:
    """The T's pose the contact model starts from, read from the soft matte the layers cut
    (measured over 60 random starts: centre median 0.16 px, max 0.71; angle median 0.74 deg,
    90th percentile 1.7 deg)."""
    from dream_engine_ros.envs.pusht.evaluation import reader as reader
    from dream_engine_ros.envs.pusht.planning.robot import PushTRobot
    from dream_engine_ros.envs.pusht.scene_layers import SceneLayers

    robot = PushTRobot()
    try:
        for state in ([100.0, 100.0, 300.0, 300.0, 0.6], [400.0, 120.0, 200.0, 260.0, -2.3]):
            frame = robot.reset(np.array(state))
            scene = SceneLayers.from_start(torch.from_numpy(frame).permute(2, 0, 1).float()[None])
            pose = scene.block_pose[0].numpy()
            truth = reader.true_block_centroid(np.array(state[2:4]), state[4], 96)
            assert np.hypot(*(pose[:2] - truth)) < 0.5, (pose, truth)
            assert abs(reader.angle_difference(pose[2], state[4])) < np.radians(3), (pose, state[4])
    finally:
        robot.close()


def test_walls_keep_the_t_inside_and_leave_a_t_inside_alone() -> None:
    """gym-pusht's walls (world 7..504 inside): a T pushed through one is shifted back, exactly to
    the wall; a T well inside is not moved by a single bit."""
    inside = np.array([[48.0, 48.0, 0.3]])
    assert np.array_equal(cm.wall_push(inside, 96), np.zeros((1, 2)))
    through = np.array([[95.0, 10.0, 0.7]])  # past the right wall, over the top one
    shifted = through.copy()
    shifted[:, :2] += cm.wall_push(through, 96)
    world = (cm.t_corners(shifted, 96) + 0.5) * (cm.WORLD_SIZE / 96)
    assert world.min() >= cm.WALLS_WORLD[0] - 1e-9 and world.max() <= cm.WALLS_WORLD[1] + 1e-9
    assert np.isclose(world[..., 0].max(), cm.WALLS_WORLD[1]) and np.isclose(world[..., 1].min(), cm.WALLS_WORLD[0])
