"""Parameters: defaults, config/engine.yaml is complete, bad values fail configure."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from rclpy.parameter import Parameter

from dream_engine_ros.ros.params import EngineParams, declare_engine_parameters, read_engine_parameters

REPO = Path(__file__).resolve().parents[2]


def make_node(context, overrides=None, cli_args=None):
    import rclpy

    node = rclpy.create_node(
        "param_probe",
        context=context,
        parameter_overrides=overrides or [],
        cli_args=cli_args,
        automatically_declare_parameters_from_overrides=False,
    )
    declare_engine_parameters(node)
    return node


def test_defaults_read_back(ros_context):
    node = make_node(ros_context)
    try:
        assert read_engine_parameters(node) == EngineParams()
    finally:
        node.destroy_node()


def test_config_file_lists_every_parameter_and_loads(ros_context):
    config = yaml.safe_load((REPO / "config" / "engine.yaml").read_text())
    values = config["/**"]["ros__parameters"]
    assert set(values) == {item.name for item in fields(EngineParams)}
    node = make_node(ros_context, cli_args=["--ros-args", "--params-file", str(REPO / "config" / "engine.yaml")])
    try:
        params = read_engine_parameters(node)
        assert params.spec == values["spec"] and params.busy_policy == values["busy_policy"]
        assert params.max_frame_age_s == pytest.approx(values["max_frame_age_s"])
    finally:
        node.destroy_node()


def test_int_is_accepted_for_float_parameter(ros_context):
    node = make_node(ros_context, [Parameter("max_frame_age_s", value=2)])
    try:
        assert read_engine_parameters(node).max_frame_age_s == 2.0
    finally:
        node.destroy_node()


@pytest.mark.parametrize(
    "name,value,needle",
    [
        ("busy_policy", "sometimes", "busy_policy: 'sometimes' is not one of reject, queue, preempt"),
        ("camera_reliability", "maybe", "camera_reliability"),
        ("max_queue", 0, "max_queue: 0 must be >= 1"),
        ("max_frame_age_s", -1.0, "max_frame_age_s"),
        ("output_dir", "", "output_dir"),
        ("max_queue", "four", "max_queue: 'four' is not a int"),
        ("max_candidates", 0, "max_candidates: 0 must be >= 1"),
        ("max_horizon", -12, "max_horizon: -12 must be >= 1"),
        ("max_num_steps", 0, "max_num_steps: 0 must be >= 1"),
    ],
)
def test_bad_values_are_named(ros_context, name, value, needle):
    node = make_node(ros_context, [Parameter(name, value=value)])
    try:
        with pytest.raises(ValueError) as caught:
            read_engine_parameters(node)
        assert needle in str(caught.value)
    finally:
        node.destroy_node()
