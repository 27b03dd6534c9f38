"""Specs of the Retargeter: accuracy where an exact answer exists, agreement of the solvers,
limits per tick, pass-through, human keypoints, the pinch prior, bad input, maker URDFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from egoscale_ros.retarget import compiled
from egoscale_ros.retarget.keypoints import FINGERTIPS, KEYPOINT_INDEX
from egoscale_ros.retarget.retargeter import Retargeter
from egoscale_ros.retarget.solvers import SolveTask

REPO = Path(__file__).resolve().parents[2]
VENDOR = REPO.parent / "shared" / "vendor_urdf"


def smooth_sequence(lower: np.ndarray, upper: np.ndarray, seed: int, segments: int, frames_per_segment: int):
    """Random poses within the limits joined by minimum-jerk segments (what a policy might send)."""
    rng = np.random.default_rng(seed)
    keys = [rng.uniform(lower, upper) for _ in range(segments + 1)]
    out = []
    for a, b in zip(keys[:-1], keys[1:]):
        for t in np.linspace(0.0, 1.0, frames_per_segment, endpoint=False):
            s = 10 * t**3 - 15 * t**4 + 6 * t**5
            out.append(a + (b - a) * s)
    return out


def tip_errors_mm(r: Retargeter, q_out: np.ndarray, keypoints_wrist: np.ndarray) -> np.ndarray:
    ours = r.keypoints_wrist(q_out)
    return np.array([np.linalg.norm(ours[n] - r.scale * keypoints_wrist[KEYPOINT_INDEX[n]]) * 1e3
                     for n in r.config.fingertips])


@pytest.fixture(scope="module")
def sharpa_to_sharpa() -> Retargeter:
    return Retargeter.from_config("sharpa_wave", "left", source="sharpa_wave", passthrough=False,
                                  rate_hz=100, compile="never")


def test_sharpa_to_sharpa_recovers_the_pose_through_the_optimiser(sharpa_to_sharpa):
    """Same hand on both sides: an exact answer exists; with smoothing on, tips stay within 0.5 mm."""
    r = sharpa_to_sharpa
    r.reset()
    src = r.source
    errors, joint_errors = [], []
    for q in smooth_sequence(src.model.lower, src.model.upper, seed=1, segments=3, frames_per_segment=60):
        out = r.retarget(q)
        assert r.last_solve_stats.mode == "optimise"
        errors.append(tip_errors_mm(r, out, src.keypoints_from_joints(q)))
        joint_errors.append(np.abs(out - q).max())
    assert np.mean(errors) < 0.5
    # Redundant angles left free would drift by tenths of a radian; what remains is smoothing lag.
    assert np.percentile(joint_errors, 90) < 0.05, "the MCP/PIP/DIP vectors pin every joint down"


def test_no_output_step_exceeds_the_velocity_limit_per_tick(sharpa_to_sharpa):
    r = sharpa_to_sharpa
    r.reset()
    src = r.source
    previous = None
    # Far-apart poses 5 ticks apart: the source moves much faster than the hand may.
    for q in smooth_sequence(src.model.lower, src.model.upper, seed=2, segments=4, frames_per_segment=5):
        out = r.retarget(q)
        assert np.all(out >= r.model.lower - 1e-12) and np.all(out <= r.model.upper + 1e-12)
        if previous is not None:
            assert np.all(np.abs(out - previous) <= r.velocity_limits * 0.01 + 1e-9)
        previous = out


@pytest.mark.parametrize("target", ["dex3", "inspire"])
def test_newton_reaches_the_ipopt_optimum(target):
    """Both solvers minimise the same objective: started near IPOPT's optimum (as every frame after
    the first starts near the last one), Newton converges to that optimum."""
    newton = Retargeter.from_config(target, "right", source="sharpa_wave", passthrough=False, compile="never")
    ipopt = Retargeter.from_config(target, "right", source="sharpa_wave", passthrough=False, compile="never",
                                   solver="ipopt")
    src = newton.source
    lower, upper = newton.model.lower, newton.model.upper
    rng = np.random.default_rng(4)
    for _ in range(5):
        q_src = rng.uniform(src.model.lower, src.model.upper)
        targets, weights = newton.objective.targets(src.keypoints_from_joints(q_src), newton.scale)
        t = targets.reshape(-1)
        ref = rng.uniform(lower, upper)
        task = SolveTask(t, weights, ref, lower, upper)
        best = ipopt.solver.solve(ref, task, 500)
        start = np.clip(best.q + rng.normal(scale=0.05, size=best.q.shape), lower, upper)
        a = newton.solver.solve(start, task, 100)
        assert best.converged and a.converged
        assert a.cost == pytest.approx(best.cost, rel=1e-6, abs=1e-12)
        np.testing.assert_allclose(a.q, best.q, atol=2e-3)


def test_same_hand_passes_through_by_joint_name_and_clips_to_the_limits():
    r = Retargeter.from_config("sharpa_wave", "right", source="sharpa_wave", compile="never")
    assert r.passthrough
    q = {n: 0.5 for n in r.source_joint_names}
    q["right_index_PIP"] = 9.0  # beyond the limit
    q["left_index_PIP"] = 0.3  # the other hand's joints may be in the same message
    out = dict(zip(r.joint_names, r.retarget(q)))
    assert out["right_index_PIP"] == pytest.approx(1.7453)
    assert out["right_thumb_CMC_FE"] == pytest.approx(0.5)
    assert r.last_solve_stats.mode == "passthrough"


def test_human_keypoints_in_any_frame_give_the_same_answer_as_in_the_wrist_frame():
    src = Retargeter.from_config("sharpa_wave", "left", source="sharpa_wave", compile="never").source
    q = smooth_sequence(src.model.lower, src.model.upper, seed=5, segments=1, frames_per_segment=2)[1]
    q[src.joint_names.index("left_pinky_CMC")] = 0.0  # the pinky MCP sits where the wrist frame expects it
    wrist = src.keypoints_from_joints(q)
    rng = np.random.default_rng(6)
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot *= np.sign(np.linalg.det(rot))
    camera = wrist @ rot.T + np.array([0.3, -0.1, 0.5])
    a = Retargeter.from_config("dex3", "left", source="keypoints", compile="never")
    b = Retargeter.from_config("dex3", "left", source="keypoints_any_frame", compile="never")
    for _ in range(10):
        qa, qb = a.retarget(wrist), b.retarget(camera)
    np.testing.assert_allclose(qa, qb, atol=1e-6)


def _pinch_gap(r: Retargeter, q: np.ndarray) -> float:
    k = r.keypoints_wrist(q)
    return float(np.linalg.norm(k["thumb_tip"] - k["index_tip"]))


def test_pinch_prior_keeps_a_small_human_pinch_gap_on_a_differently_sized_hand():
    """A 1 cm human pinch: the robot's thumb-index gap follows the absolute gap, not the scaled one."""
    r = Retargeter.from_config("dex3", "left", source="keypoints", compile="never")
    rng = np.random.default_rng(8)
    pts = np.zeros((21, 3))
    pts[KEYPOINT_INDEX["middle_mcp"]] = [0.09, 0.0, 0.0]
    pts[KEYPOINT_INDEX["index_mcp"]] = [0.09, 0.02, 0.0]
    pts[KEYPOINT_INDEX["pinky_mcp"]] = [0.08, -0.04, 0.0]
    pts[KEYPOINT_INDEX["index_tip"]] = [0.11, 0.03, 0.06]
    pts[KEYPOINT_INDEX["thumb_tip"]] = [0.11, 0.04, 0.06]  # 1 cm from the index tip
    pts[KEYPOINT_INDEX["middle_tip"]] = [0.12, -0.01, 0.07]
    pts += rng.normal(scale=1e-4, size=pts.shape) * (np.arange(21) > 0)[:, None]
    for _ in range(30):
        q = r.retarget(pts)
    assert r.last_solve_stats.pinched == 1
    with_prior = _pinch_gap(r, q)
    r_off = Retargeter.from_config("dex3", "left", source="keypoints", compile="never")
    r_off.objective.pinch_terms = r_off.objective.pinch_terms[:0]
    for _ in range(30):
        q_off = r_off.retarget(pts)
    assert abs(with_prior - 0.01) < abs(_pinch_gap(r_off, q_off) - 0.01)


def test_bad_input_is_an_error_that_names_it():
    r = Retargeter.from_config("dex3", "left", source="sharpa_wave", compile="never")
    good = {n: 0.2 for n in r.source_joint_names}
    with pytest.raises(ValueError, match="left_index_PIP"):
        r.retarget({k: v for k, v in good.items() if k != "left_index_PIP"})
    with pytest.raises(ValueError, match="non-finite.*left_thumb_IP"):
        r.retarget({**good, "left_thumb_IP": float("nan")})
    with pytest.raises(ValueError, match="expected 22 joint positions"):
        r.retarget(np.zeros(21))
    k = Retargeter.from_config("dex3", "left", source="keypoints", compile="never")
    with pytest.raises(ValueError, match=r"\(21, 3\)"):
        k.retarget(np.zeros((20, 3)))


def test_a_failed_solve_holds_the_previous_output():
    r = Retargeter.from_config("inspire", "left", source="sharpa_wave", compile="never")
    first = r.retarget({n: 0.3 for n in r.source_joint_names})

    class Broken:
        def solve(self, *args):
            raise RuntimeError("solver exploded")

    r.solver = Broken()
    again = r.retarget({n: 0.9 for n in r.source_joint_names})
    np.testing.assert_array_equal(again, first)
    assert r.last_solve_stats.mode == "hold" and "exploded" in r.last_solve_stats.status


def test_inspire_outputs_actuated_joints_and_reports_the_mimic_ones():
    r = Retargeter.from_config("inspire", "right", source="sharpa_wave", compile="never")
    q = r.retarget({n: 0.6 for n in r.source_joint_names})
    assert q.shape == (6,)
    full = r.full_joint_positions(q)
    assert len(full) == 12
    assert full["R_thumb_distal_joint"] == pytest.approx(2.4 * full["R_thumb_proximal_pitch_joint"])


def test_compiled_kinematics_give_the_same_answers(tmp_path, monkeypatch):
    if compiled.find_compiler() is None:
        pytest.skip("no C compiler on this machine: the CasADi virtual machine path is the one in use")
    monkeypatch.setenv("EGOSCALE_ROS_CACHE", str(tmp_path))
    fast = Retargeter.from_config("dex3", "left", source="sharpa_wave", compile="always")
    slow = Retargeter.from_config("dex3", "left", source="sharpa_wave", compile="never")
    assert fast.residual.compiled and not slow.residual.compiled
    assert list((tmp_path / "casadi").glob("*.so")), "the shared objects are cached"
    q = np.random.default_rng(9).uniform(fast.model.lower, fast.model.upper)
    for a, b in zip(fast.residual(q), slow.residual(q)):
        np.testing.assert_allclose(a, b, atol=1e-13)
    src = {n: 0.4 for n in fast.source_joint_names}
    np.testing.assert_allclose(fast.retarget(src), slow.retarget(src), atol=1e-10)


def _vendor(path: str) -> Path:
    p = VENDOR / path
    if not p.is_file():
        pytest.skip(f"maker's URDF not available ({p}): ../shared/vendor_urdf is absent")
    return p


@pytest.mark.parametrize("target,files", [
    ("dex3", "unitree_dex3/unitree_dex3_{side}.urdf"),
    ("inspire", "inspire_hand/inspire_hand_{side}.urdf"),
    ("sharpa_wave", "sharpa_wave/{side}_sharpa_wave.urdf"),
])
def test_the_configs_retarget_onto_the_makers_urdfs(target, files):
    """The policy's Sharpa space, from the maker's Sharpa file, onto each maker's hand file."""
    for side in ("left", "right"):
        sharpa = _vendor(f"sharpa_wave/{side}_sharpa_wave.urdf")
        r = Retargeter.from_config(target, side, source="sharpa_wave", urdf=_vendor(files.format(side=side)),
                                   source_urdf=sharpa, passthrough=False, rate_hz=100, compile="never")
        src = r.source
        errors = []
        for q in smooth_sequence(src.model.lower, src.model.upper, seed=3, segments=2, frames_per_segment=30):
            out = r.retarget(q)
            assert np.all(np.isfinite(out)) and np.all(out >= r.model.lower - 1e-12) and np.all(out <= r.model.upper + 1e-12)
            errors.append(tip_errors_mm(r, out, src.keypoints_from_joints(q)))
        # Same hand: exact up to smoothing. Other hands: their kinematics differ, but every tip
        # stays in the neighbourhood of the human-scaled target.
        limit = 0.5 if target == "sharpa_wave" else 60.0
        assert np.mean(errors) < limit, (target, side, np.mean(errors))
    assert set(FINGERTIPS) >= set(r.config.fingertips)


def test_after_a_reset_to_the_measured_hand_the_first_step_is_velocity_bounded_too():
    r = Retargeter.from_config("dex3", "left", source="sharpa_wave", rate_hz=100, compile="never")
    measured = np.clip(np.zeros(7), r.model.lower, r.model.upper)
    r.reset(dict(zip(r.joint_names, measured)))
    far = {n: 1.2 for n in r.source_joint_names}
    out = r.retarget(far)
    assert np.all(np.abs(out - measured) <= r.velocity_limits * 0.01 + 1e-12)
    r.reset()  # not anchored to a measured pose: the first answer may go anywhere within the limits
    assert np.abs(r.retarget(far) - measured).max() > 0.5
