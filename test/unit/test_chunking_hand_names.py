"""Specification: hand chunk columns are mapped by name to the declared hand joints before use."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.chunking.chunk import ChunkError
from egoscale_ros.chunking.hand_names import order_hand_columns

DECLARED = {"left": ["left_a", "left_b", "left_c"], "right": ["right_a", "right_b"]}


def test_reordered_names_drive_the_same_fingers_as_the_declared_order():
    values = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    in_order = order_hand_columns(["left_a", "left_b", "left_c"], values, DECLARED)
    shuffled = order_hand_columns(["left_c", "left_a", "left_b"], values[:, [2, 0, 1]], DECLARED)
    np.testing.assert_array_equal(in_order["left"], values)
    np.testing.assert_array_equal(shuffled["left"], values)
    assert "right" not in in_order


def test_both_sides_in_one_message_are_split_by_name():
    names = ["right_b", "left_a", "left_b", "left_c", "right_a"]
    out = order_hand_columns(names, np.array([[5.0, 1.0, 2.0, 3.0, 4.0]]), DECLARED)
    np.testing.assert_array_equal(out["left"], [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(out["right"], [[4.0, 5.0]])


@pytest.mark.parametrize("names, match", [
    (["left_a", "left_b", "left_x"], "left_x"),  # unknown name
    (["left_a", "left_b"], "left_c"),  # a joint of the side missing
    (["left_a", "left_a", "left_b"], "twice"),  # repeated
])
def test_unknown_missing_or_repeated_names_are_refused(names, match):
    with pytest.raises(ChunkError, match=match):
        order_hand_columns(names, np.zeros((2, len(names))), DECLARED)


def test_a_row_width_that_disagrees_with_the_names_is_refused():
    with pytest.raises(ChunkError, match="positions"):
        order_hand_columns(["left_a", "left_b", "left_c"], np.zeros((2, 2)), DECLARED)
