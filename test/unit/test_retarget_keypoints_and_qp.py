"""Specs of the keypoint wrist frame and of the small box-constrained QP the solver steps with."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.retarget.box_qp import solve_box_qp
from egoscale_ros.retarget.keypoints import (
    KEYPOINT_INDEX,
    KEYPOINT_NAMES,
    check_keypoints,
    to_wrist_frame,
    wrist_frame_rotation,
)


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _hand(rng) -> np.ndarray:
    pts = rng.normal(scale=0.01, size=(21, 3))
    pts[0] = 0.0
    pts[KEYPOINT_INDEX["middle_mcp"]] = [0.09, 0.0, 0.0]
    pts[KEYPOINT_INDEX["index_mcp"]] = [0.085, 0.025, 0.0]
    pts[KEYPOINT_INDEX["pinky_mcp"]] = [0.075, -0.035, 0.005]
    return pts


def test_mediapipe_order():
    assert len(KEYPOINT_NAMES) == 21
    assert [KEYPOINT_INDEX[n] for n in ("wrist", "thumb_tip", "index_mcp", "middle_tip", "ring_mcp", "pinky_tip")] == [
        0, 4, 5, 12, 13, 20]


def test_the_wrist_frame_does_not_depend_on_the_frame_the_points_came_in():
    rng = np.random.default_rng(0)
    pts = _hand(rng)
    reference = to_wrist_frame(pts)
    for _ in range(5):
        moved = pts @ _random_rotation(rng).T + rng.normal(size=3)
        np.testing.assert_allclose(to_wrist_frame(moved), reference, atol=1e-12)
    # x toward the middle MCP, y toward the index (thumb) side, right-handed.
    assert reference[KEYPOINT_INDEX["middle_mcp"]][1:] == pytest.approx([0, 0], abs=1e-12)
    assert reference[KEYPOINT_INDEX["index_mcp"]][1] > 0 > reference[KEYPOINT_INDEX["pinky_mcp"]][1]
    rot = wrist_frame_rotation(pts[0], [pts[9]], (pts[5], pts[17]))
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_degenerate_or_invalid_keypoints_raise_clear_errors():
    pts = np.zeros((21, 3))
    with pytest.raises(ValueError, match="coincide"):
        to_wrist_frame(pts)
    with pytest.raises(ValueError, match=r"shape \(21, 3\)"):
        check_keypoints(np.zeros((20, 3)))
    bad = _hand(np.random.default_rng(1))
    bad[KEYPOINT_INDEX["ring_tip"], 2] = np.nan
    with pytest.raises(ValueError, match="ring_tip"):
        check_keypoints(bad)


def _kkt_violation(h, g, lo, hi, x) -> float:
    """How far x is from optimal for the box QP (0 at the minimiser)."""
    grad = h @ x + g
    free = (x > lo + 1e-10) & (x < hi - 1e-10)
    pinned = lo >= hi  # an empty range: any multiplier sign is fine
    at_lo = (x <= lo + 1e-10) & ~pinned
    at_hi = (x >= hi - 1e-10) & ~pinned
    return max(
        np.abs(grad[free]).max(initial=0.0),
        np.maximum(-grad[at_lo], 0).max(initial=0.0),
        np.maximum(grad[at_hi], 0).max(initial=0.0),
        np.maximum(lo - x, 0).max(initial=0.0),
        np.maximum(x - hi, 0).max(initial=0.0),
    )


def test_box_qp_finds_the_constrained_minimiser_whatever_the_starting_guess():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 23))
        a = rng.normal(size=(n + 2, n))
        h = a.T @ a + 1e-3 * np.eye(n)
        g = rng.normal(size=n)
        lo = -rng.uniform(0, 1, n) * (rng.random(n) < 0.8)
        hi = rng.uniform(0, 1, n) * (rng.random(n) < 0.8)
        x, active = solve_box_qp(h, g, lo, hi)
        assert _kkt_violation(h, g, lo, hi, x) < 1e-8
        x2, _ = solve_box_qp(h, g, lo, hi, active_guess=rng.integers(-1, 2, n))
        np.testing.assert_allclose(x2, x, atol=1e-8)
        assert set(np.unique(active)) <= {-1, 0, 1}
