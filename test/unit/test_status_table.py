"""The status table of ``egoscale-ros status``: one row per node, stale nodes marked, fixed decimals."""

from __future__ import annotations

from egoscale_ros.status_table import STALE, StatusBoard, render


def test_rows_are_sorted_with_key_figures_in_fixed_decimals():
    board = StatusBoard()
    board.update("wrist_ik_node", 0, "tracking", {"cpu_percent": "3.14159", "holding": "no", "estop": "False"}, 10.0)
    board.update("policy_node", 1, "running at 21.3 Hz of 30 Hz", {"rate_hz": "21.2857", "cpu_percent": "88"}, 10.5)
    lines = render(board, now_s=11.0).splitlines()
    assert lines[0].split()[:3] == ["node", "level", "age"]
    assert lines[1].split()[:5] == ["policy_node", "WARN", "0.5", "21.3", "88.0"]
    assert lines[1].endswith("running at 21.3 Hz of 30 Hz")
    assert lines[2].split()[:7] == ["wrist_ik_node", "OK", "1.0", "–", "3.1", "no", "False"]


def test_a_silent_node_is_stale_and_the_worst_level_says_so():
    board = StatusBoard(stale_s=3.0)
    assert board.worst(0.0) is None
    board.update("camera_head", 0, "ok", {}, 0.0)
    assert board.worst(2.0) == 0
    assert board.worst(3.5) == STALE
    assert "camera_head  STALE" in render(board, 3.5)


def test_an_empty_board_says_what_to_check():
    assert "ROS_DOMAIN_ID" in render(StatusBoard(), 0.0)
