"""Specification of the e-stop latch, the watchdog and the per-tick safety gate."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.safety.estop import EStop
from egoscale_ros.safety.gate import SafetyGate, hold_reason_text
from egoscale_ros.safety.limits import JointLimits
from egoscale_ros.safety.watchdog import Watchdog

DT = 0.01


def limits() -> JointLimits:
    return JointLimits(("j1", "j2", "j3"), [-2.0, -2.0, -2.0], [2.0, 2.0, 2.0], [1.0, 1.0, 1.0], [10.0, 10.0, 10.0])


def gate(**kwargs) -> SafetyGate:
    return SafetyGate(limits(), target_timeout_s=0.2, joint_state_timeout_s=0.1, **kwargs)


# -- e-stop --------------------------------------------------------------------------------------

def test_estop_latches_and_only_an_explicit_reset_clears_it():
    estop = EStop()
    assert not estop.engaged
    estop.update("button", True)
    estop.update("button", False)  # released: still latched
    assert estop.engaged and estop.reason == "button pressed"
    assert estop.reset() and not estop.engaged


def test_estop_reset_is_refused_while_a_trigger_is_pressed():
    estop = EStop()
    estop.update("button", True)
    estop.update("pendant", True)
    estop.update("button", False)
    assert not estop.reset() and estop.engaged and estop.pressed_inputs == ["pendant"]
    estop.update("pendant", False)
    assert estop.reset()


def test_software_trigger_latches_and_a_pressed_input_relatches():
    estop = EStop()
    estop.trigger("joint state lost")
    assert estop.engaged and estop.reset()
    estop.update("button", True)
    estop.reset()
    assert estop.engaged and estop.trips == 2


# -- watchdog -----------------------------------------------------------------------------------

def test_watchdog_with_an_injected_clock():
    now = [10.0]
    dog = Watchdog(0.5, clock=lambda: now[0], name="target")
    assert dog.is_stale() and dog.age() == float("inf")  # never fed
    dog.feed()
    now[0] = 10.4
    assert not dog.is_stale() and dog.age() == pytest.approx(0.4)
    now[0] = 10.6
    assert dog.is_stale()
    assert not dog.is_stale(now=10.3)  # explicit time wins over the clock
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        Watchdog(0.0)


# -- gate -----------------------------------------------------------------------------------------

def test_no_command_before_any_joint_state():
    out, status = gate().command(0.0, target=np.zeros(3))
    assert out is None and status.reasons == ("no_joint_state",)


def test_first_command_is_the_measured_pose_then_tracking_is_rate_limited():
    g = gate()
    measured = np.array([0.5, -0.5, 0.0])
    out, status = g.command(0.0, target=np.array([2.0, 2.0, 2.0]), measured=measured)
    np.testing.assert_array_equal(out, measured)
    assert status.ok
    prev = out
    for i in range(1, 100):
        out, status = g.command(i * DT, target=np.array([2.0, 2.0, 2.0]), measured=measured)
        assert status.ok
        assert np.all(np.abs(out - prev) <= 1.0 * DT + 1e-12)
        prev = out
    assert np.all(out > measured)


def test_holds_and_says_why_when_the_target_goes_stale():
    g = gate()
    g.command(0.0, target=np.ones(3), measured=np.zeros(3))
    t = 0.0
    for _ in range(10):
        t += DT
        g.command(t, target=np.ones(3), measured=np.zeros(3))
    moving = g.limiter.velocity
    assert np.all(moving > 0)
    statuses, outs = [], []
    for _ in range(60):  # no new target for 0.6 s; joint states keep coming
        t += DT
        out, status = g.command(t, measured=np.zeros(3))
        statuses.append(status)
        outs.append(out)
    assert statuses[0].ok and statuses[-1].reasons == ("stale_target",)
    assert "target" in statuses[-1].detail and hold_reason_text(statuses[-1]).startswith("holding: stale_target")
    np.testing.assert_allclose(np.diff(outs[-10:], axis=0), 0.0, atol=1e-15)  # braked to a stop
    out, status = g.command(t + DT, target=np.zeros(3), measured=np.zeros(3))
    assert status.ok  # a fresh target resumes tracking


def test_holds_when_the_joint_state_goes_stale():
    g = gate()
    g.command(0.0, target=np.ones(3), measured=np.zeros(3))
    out, status = g.command(0.05, target=np.ones(3))
    assert status.ok
    out, status = g.command(0.2, target=np.ones(3))
    assert status.reasons == ("stale_joint_state",) and np.isfinite(out).all()


@pytest.mark.parametrize(
    ("bad", "reason", "needle"),
    [
        (np.array([0.0, np.nan, 0.0]), "invalid_target", "non-finite value for joint 'j2'"),
        (np.array([0.0, 0.0]), "invalid_target", "2 values for 3 joints"),
        ("not numbers", "invalid_target", "not numeric"),
    ],
)
def test_a_bad_target_is_discarded_and_the_gate_holds(bad, reason, needle):
    g = gate()
    g.command(0.0, target=np.ones(3), measured=np.zeros(3))
    g.command(DT, target=np.ones(3), measured=np.zeros(3))
    out, status = g.command(2 * DT, target=bad, measured=np.zeros(3))
    assert status.reasons == (reason,) and needle in status.detail
    assert np.isfinite(out).all()
    out, status = g.command(3 * DT, measured=np.zeros(3))
    assert status.reasons == ("no_target",)  # the older target is not resumed


def test_a_bad_joint_state_is_discarded_and_reported():
    g = gate()
    g.command(0.0, target=np.ones(3), measured=np.zeros(3))
    out, status = g.command(DT, target=np.ones(3), measured=np.array([np.inf, 0.0, 0.0]))
    assert "invalid_joint_state" in status.reasons and np.isfinite(out).all()


def test_estop_freezes_at_once_and_resume_restarts_from_the_measured_pose():
    g = gate()
    measured = np.zeros(3)
    t = 0.0
    g.command(t, target=np.ones(3), measured=measured)
    for _ in range(20):
        t += DT
        last, _ = g.command(t, target=np.ones(3), measured=measured)
    g.estop.update("button", True)
    t += DT
    out, status = g.command(t, target=np.ones(3), measured=measured)
    assert status.reasons[0] == "estop" and "button pressed" in status.detail
    np.testing.assert_array_equal(out, last)  # stopped at once
    g.estop.update("button", False)
    for _ in range(5):
        t += DT
        out, status = g.command(t, target=np.ones(3), measured=measured)
        assert status.reasons == ("estop",) and np.array_equal(out, last)  # latched
    robot_now = np.array([0.1, 0.1, 0.1])
    assert g.reset_estop()
    t += DT
    out, status = g.command(t, target=np.ones(3), measured=robot_now)
    np.testing.assert_array_equal(out, robot_now)  # resume from where the robot is: no jump
    assert status.ok and g.counts["estop"] == 6


def test_estop_reset_refused_while_pressed():
    g = gate()
    g.estop.update("button", True)
    assert not g.reset_estop()
    out, status = g.command(0.0, measured=np.zeros(3))
    assert status.reasons[0] == "estop"


def test_never_outputs_nan_under_random_mixed_inputs():
    rng = np.random.default_rng(3)
    g = gate()
    lim = limits()
    t = 0.0
    for _ in range(3000):
        t += rng.uniform(0.0, 0.03)
        target = measured = None
        if rng.random() < 0.7:
            target = rng.uniform(-3, 3, 3)
            if rng.random() < 0.1:
                target[rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf])
        if rng.random() < 0.8:
            measured = rng.uniform(-2, 2, 3)
            if rng.random() < 0.05:
                measured[rng.integers(3)] = np.nan
        if rng.random() < 0.002:
            g.estop.trigger("random")
        if rng.random() < 0.01:
            g.reset_estop()
        out, status = g.command(t, target, measured)
        if out is not None:
            assert np.isfinite(out).all()
            assert lim.within(out)  # joint states come from inside the limits here, so must commands
    assert g.counts["ticks"] == 3000 and g.counts["tracking"] > 0


# -- start and resume only from complete, fresh, trusted feedback ----------------------------------

def test_no_start_from_a_stale_joint_state():
    g = gate()  # joint_state_timeout_s = 0.1
    out, status = g.command(1.0, target=np.ones(3), measured=np.zeros(3), measured_time=0.5)  # 0.5 s old
    assert out is None and "stale_joint_state" in status.reasons
    out, status = g.command(1.01, target=np.ones(3), measured=np.full(3, 0.2), measured_time=1.0)
    np.testing.assert_array_equal(out, np.full(3, 0.2))  # starts from the fresh pose


def test_no_start_while_the_feedback_is_untrusted():
    g = gate()
    out, status = g.command(0.0, target=np.ones(3), measured=np.zeros(3), feedback_problem="2 publishers")
    assert out is None and "untrusted_joint_state" in status.reasons and "2 publishers" in status.detail


def test_resume_after_an_estop_waits_for_fresh_trusted_feedback_and_never_jumps():
    g = gate()
    t = 0.0
    g.command(t, target=np.ones(3), measured=np.zeros(3), measured_time=t)
    for _ in range(10):
        t += DT
        last, _ = g.command(t, target=np.ones(3), measured=np.zeros(3), measured_time=t)
    g.estop.trigger("operator")
    t += DT
    frozen, _ = g.command(t, target=np.ones(3))
    assert g.reset_estop()
    # A foreign publisher's pose, 0.8 rad away, while the source is untrusted: hold, no jump.
    t += DT
    out, status = g.command(t, target=np.ones(3), measured=np.full(3, 0.8), measured_time=t,
                            feedback_problem="foreign publisher")
    np.testing.assert_array_equal(out, frozen)
    assert "untrusted_joint_state" in status.reasons
    # Old feedback (stale by its own stamp) is no better.
    t += 0.5
    out, status = g.command(t, target=np.ones(3))
    np.testing.assert_array_equal(out, frozen)
    assert "stale_joint_state" in status.reasons
    # Fresh, trusted feedback: resume from it at rest, then rate-limited.
    t += DT
    out, status = g.command(t, target=np.ones(3), measured=frozen, measured_time=t)
    np.testing.assert_array_equal(out, frozen)
    t += DT
    out, _ = g.command(t, target=np.ones(3), measured=frozen, measured_time=t)
    assert np.abs(out - frozen).max() <= 1.0 * DT + 1e-12


def test_a_stream_is_silent_after_a_fixed_number_of_its_own_periods():
    from egoscale_ros.safety.watchdog import SILENT_PERIODS, silence_timeout

    assert silence_timeout(30.0) == pytest.approx(SILENT_PERIODS / 30.0)
    assert silence_timeout(10.0) == pytest.approx(3 * silence_timeout(30.0))  # scales with the period
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError):
            silence_timeout(bad)
