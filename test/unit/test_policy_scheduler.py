"""Specification of the policy node's inference loop: latest data only, never a queue."""

import threading

from egoscale_ros.policy.scheduler import InferenceLoop, RollingStats


class Result:
    def __init__(self, obs):
        self.obs = obs
        self.stages_ms = {"backbone": 1.0}


def test_slow_inference_runs_back_to_back_on_the_newest_data_without_queueing():
    """Driven by data, not by sleeps: each inference ends only once three newer observations have
    arrived, so a loop that queued (or built from a stale copy) would build from old data."""
    newest = {"seq": 0}
    arrived = threading.Condition()
    built, published = [], []
    done = threading.Event()
    stop_producer = threading.Event()

    def produce():
        while not stop_producer.wait(0.001):
            with arrived:
                newest["seq"] += 1
                arrived.notify_all()

    def build():
        built.append(newest["seq"])
        return newest["seq"]

    def infer(obs):
        with arrived:
            assert arrived.wait_for(lambda: newest["seq"] >= obs + 3, timeout=10)
        return Result(obs)

    def publish(obs, result):
        published.append(result.obs)
        if len(published) >= 5:
            done.set()

    threading.Thread(target=produce, daemon=True).start()
    loop = InferenceLoop(1000.0, build, infer, publish)
    loop.start()
    try:
        assert done.wait(30), "the loop stopped producing results"
    finally:
        loop.stop()
        stop_producer.set()
    assert published[:5] == built[:5]  # every result comes from the observation built for it
    assert all(b >= a + 3 for a, b in zip(built[:5], built[1:5]))  # built from what came during inference
    # each inference outlasted its 1 ms period (it waited for three 1 ms producer steps)
    assert loop.overruns >= 4 and loop.errors == 0
    assert set(loop.stats.stage_medians()) == {"observe", "backbone", "publish"}


def test_errors_in_a_cycle_are_counted_and_the_loop_goes_on():
    calls = {"n": 0}
    done = threading.Event()
    errors = []

    def infer(obs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return Result(obs)

    loop = InferenceLoop(200.0, lambda: 1, infer, lambda o, r: done.set(), on_error=errors.append)
    loop.start()
    assert done.wait(10)
    loop.stop()
    assert loop.errors == 1 and isinstance(errors[0], RuntimeError)


def test_an_observation_handed_on_is_not_published_here_but_counted_when_its_result_is_recorded():
    """A pipelined policy (``infer`` returns None) publishes from its own thread and calls ``record``."""
    handed = threading.Event()
    published = []

    def infer(obs):
        handed.set()
        return None

    loop = InferenceLoop(200.0, lambda: 1, infer, lambda o, r: published.append(r))
    loop.start()
    assert handed.wait(10)
    loop.stop()
    assert published == [] and loop.cycles == 0 and loop.errors == 0
    loop.record(0.0, Result(1), {"publish": 0.5})
    assert loop.cycles == 1 and set(loop.stats.stage_medians()) == {"backbone", "publish"}


def test_not_ready_observations_run_nothing():
    ran = []
    loop = InferenceLoop(200.0, lambda: None, ran.append, lambda o, r: None)
    loop.start()
    threading.Event().wait(0.1)
    loop.stop()
    assert ran == [] and loop.cycles == 0


def test_rate_and_percentiles_from_recorded_events():
    stats = RollingStats(rate_window_s=10.0)
    for i in range(31):
        stats.record(latency_ms=float(i), t=100.0 + i / 30.0)
    assert abs(stats.rate_hz(now=101.0) - 30.0) < 1e-6
    assert stats.percentile(50) == 15.0
    assert stats.rate_hz(now=200.0) == 0.0  # nothing recent


def test_bad_rate_is_refused():
    import pytest

    with pytest.raises(ValueError, match="rate_hz"):
        InferenceLoop(0.0, lambda: None, lambda o: None, lambda o, r: None)


def test_the_inference_thread_can_be_pinned_to_an_allowed_cpu_only():
    import pytest

    from egoscale_ros.policy.scheduler import allowed_cpus

    cpu = max(allowed_cpus())
    seen = []
    done = threading.Event()

    def build():
        import os

        seen.append(os.sched_getaffinity(0))
        done.set()
        return None

    loop = InferenceLoop(100.0, build, lambda o: None, lambda o, r: None, cpu=cpu)
    loop.start()
    assert done.wait(5)
    loop.stop()
    assert seen[0] == {cpu}
    with pytest.raises(ValueError, match="cpu"):
        InferenceLoop(30.0, lambda: None, lambda o: None, lambda o, r: None, cpu=10_000)
