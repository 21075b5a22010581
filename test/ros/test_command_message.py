"""The generic planner's command: any message type, its numeric fields named by dotted paths;
a bad type or field is refused naming the parameter, before anything is published."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from dream_engine_ros.ros.command_message import CommandConfigError, CommandLayout, message_type


def test_twist_takes_one_value_per_field() -> None:
    layout = CommandLayout.parse("geometry_msgs/msg/Twist", "linear.x, linear.y")
    assert layout.check_action_dim(2) is None and not layout.has_header
    assert "2 field(s)" in (layout.check_action_dim(3) or "")
    message = layout.build(np.array([1.5, -2.0]))
    assert (message.linear.x, message.linear.y, message.angular.z) == (1.5, -2.0, 0.0)


def test_a_sequence_field_takes_the_whole_action_and_a_header_is_stamped() -> None:
    layout = CommandLayout.parse("std_msgs/msg/Float32MultiArray", "data")
    assert layout.check_action_dim(5) is None
    assert list(layout.build(np.array([1.0, 2.0, 3.0])).data) == [1.0, 2.0, 3.0]
    stamped = CommandLayout.parse("geometry_msgs/PointStamped", "point.x,point.y")  # pkg/Type works too
    message = stamped.build(np.array([3.0, 4.0]), Time(sec=7, nanosec=9), "world")
    assert stamped.has_header and (message.header.stamp.sec, message.header.frame_id) == (7, "world")
    assert (message.point.x, message.point.y) == (3.0, 4.0)


def test_integer_fields_get_rounded_values() -> None:
    layout = CommandLayout.parse("std_msgs/msg/Int32", "data")
    assert layout.build(np.array([2.6])).data == 3


@pytest.mark.parametrize(("type_name", "fields", "parameter", "words"), [
    ("geometry_msgs/msg/Nope", "x", "command_type", "no message 'Nope'"),
    ("no_such_msgs/msg/Thing", "x", "command_type", "no message package"),
    ("Twist", "x", "command_type", "not a message type name"),
    ("geometry_msgs/msg/Twist", "linear.q", "command_fields", "no field 'q'"),
    ("geometry_msgs/msg/Twist", "linear", "command_fields", "not a number"),
    ("geometry_msgs/msg/Twist", "", "command_fields", "names no field"),
    ("std_msgs/msg/String", "data", "command_fields", "not a number"),
    ("std_msgs/msg/Float32MultiArray", "data,layout.data_offset", "command_fields", "must be the only field"),
])
def test_bad_parameters_are_named(type_name: str, fields: str, parameter: str, words: str) -> None:
    with pytest.raises(CommandConfigError) as error:
        CommandLayout.parse(type_name, fields)
    assert error.value.parameter == parameter
    assert str(error.value).startswith(f"parameter {parameter}:") and words in str(error.value)


def test_message_type_imports_the_generated_class() -> None:
    from std_msgs.msg import Bool

    assert message_type("std_msgs/msg/Bool") is Bool
