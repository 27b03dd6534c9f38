"""Specification of fault injection's core: the --inject grammar and how the stack's answer is judged."""

from __future__ import annotations

import numpy as np
import pytest

from egoscale_ros.faults.judge import DiagEvent, detection, hold_ticks, recovery
from egoscale_ros.faults.spec import CLASSES, FaultSpecError, parse_faults

NODES = ("camera_head", "policy_node", "wrist_ik_node")


def test_every_fault_class_of_the_issue_is_known():
    for name in ("camera_stall", "camera_garbage", "joint_states_drop", "joint_states_delay", "joint_states_foreign",
                 "chunk_nan", "chunk_future", "chunk_names_shuffled", "policy_slow", "policy_kill", "node_restart",
                 "estop_at", "sigint_at"):
        assert name in CLASSES


def test_a_schedule_starts_inside_the_window_and_ends_before_it_does():
    faults = parse_faults("camera_stall:1.5,joint_states_delay:200,policy_slow,estop_at:5", 12.0, NODES)
    by = {f.name: f for f in faults}
    assert by["camera_stall"].start_s == 3.0 and by["camera_stall"].duration_s == 1.5
    assert by["joint_states_delay"].arg == 200.0 and by["joint_states_delay"].end_s <= 12.0
    assert by["policy_slow"].arg == 300.0  # the default
    assert by["estop_at"].start_s == 5.0 and by["estop_at"].duration_s == 0.0
    assert by["camera_stall"].label == "camera_stall:1.5"


@pytest.mark.parametrize("text, needle", [
    ("camera_melt", "unknown fault"),
    ("joint_states_drop:1.5", r"in \[0, 1\]"),
    ("joint_states_delay:-5", "positive"),
    ("chunk_nan:3", "no argument"),
    ("node_restart:no_such_node", "not a node"),
    ("estop_at:20", "inside"),
    ("chunk_nan,chunk_nan", "twice"),
    ("policy_slow:fast", "not a number"),
])
def test_a_bad_inject_list_is_refused_with_its_reason(text, needle):
    with pytest.raises(FaultSpecError, match=needle):
        parse_faults(text, 10.0, NODES)


def test_a_fault_counts_as_reported_only_by_the_right_node_words_and_level():
    fault = parse_faults("camera_stall:1", 10.0, NODES)[0]
    events = [
        DiagEvent(9.9, "/policy_node", 2, "camera/head/image_raw silent for 0.4 s"),  # before: not this one
        DiagEvent(10.1, "/wrist_ik_node", 2, "camera silent"),  # wrong node
        DiagEvent(10.2, "/policy_node", 0, "camera/head/image_raw silent"),  # level OK
        DiagEvent(10.35, "/policy_node", 2, "camera/head/image_raw silent for 0.32 s (no observation, no chunk)"),
    ]
    detect_s, by = detection(fault, 10.0, events)
    assert detect_s == pytest.approx(0.35) and by.startswith("/policy_node")
    assert detection(fault, 10.0, events[:3]) == (None, "")


def test_recovery_is_when_the_arm_ik_tracks_again_after_the_fault():
    fault = parse_faults("policy_slow", 10.0, NODES)[0]
    events = [DiagEvent(11.0, "/wrist_ik_node", 2, "holding: stale_target"),
              DiagEvent(12.0, "/wrist_ik_node", 0, "tracking")]
    assert recovery(fault, 11.5, events) == pytest.approx(0.5)
    assert recovery(fault, 12.5, events) is None


def test_hold_ticks_count_the_commands_that_still_moved_after_the_stop():
    q = [np.array([v]) for v in (0.0, 0.1, 0.2, 0.3, 0.3, 0.3)]
    commands = list(zip([0.0, 0.02, 0.04, 0.06, 0.08, 0.10], q))
    assert hold_ticks(0.05, commands) == 1  # 0.3 was in flight, then frozen
    assert hold_ticks(0.07, commands) == 0
    assert hold_ticks(0.01, commands) == 3


def test_relayed_joint_state_faults_route_the_feedback_through_the_injector():
    from egoscale_ros.faults.driver import prepare_plan
    from egoscale_ros.graph import plan_graph

    plan = plan_graph("g1_dex3", hardware="mock", container=False)  # the injector reroutes per node
    assert prepare_plan(plan, parse_faults("policy_kill", 9.0)) is plan  # nothing to add
    routed = prepare_plan(plan, parse_faults("joint_states_delay:300", 9.0))
    by_name = {s.name: s for s in routed.nodes}
    assert ("joint_states", "joint_states_raw") in by_name["robot_interface_node"].remappings
    assert by_name["fault_injector"].parameters["relay_joint_states"] is True
    # The relay is the one declared source now; anything else on joint_states is foreign.
    assert by_name["wrist_ik_node"].parameters["joint_state_source"] == "fault_injector"
    assert by_name["policy_node"].parameters["joint_state_source"] == "fault_injector"


def test_faults_reach_the_nodes_inside_the_command_container():
    import json

    from egoscale_ros.faults.driver import InjectionSession, contained_by
    from egoscale_ros.graph import plan_graph

    plan = plan_graph("g1_dex3", hardware="mock", container=True)
    session = InjectionSession.create("joint_states_delay:300,node_restart:wrist_ik_node", 9.0, plan)
    container = next(s for s in session.plan.nodes if s.executable == "command_container")
    args = list(container.arguments)
    members = {m["name"]: m for m in json.loads(args[args.index("--members") + 1])}
    for name in ("wrist_ik_node", "hand_retarget_node"):
        assert members[name]["parameters"]["joint_state_source"] == "fault_injector"
    # A contained node is a valid restart target: its process is the container's.
    assert "wrist_ik_node" in contained_by(session.plan)[container.name]


class _Reports:
    """Counters as the nodes report them: per (node, key), (own stamp, value) pairs."""

    def __init__(self, series: dict[tuple[str, str], list[tuple[float, float]]]):
        self.series = series

    def counter_between(self, node, key, start_s, end_s):
        samples = [(t, v) for t, v in self.series.get((node, key), []) if start_s <= t <= end_s]
        if len(samples) < 2:
            return 0, 0.0
        return int(samples[-1][1] - samples[0][1]), samples[-1][0] - samples[0][0]


def test_missed_ticks_are_counted_by_the_publishing_node_apart_from_what_reached_the_monitor():
    from egoscale_ros.faults.driver import missed_ticks
    from egoscale_ros.graph import plan_graph

    plan = plan_graph("g1_dex3", hardware="mock")
    rate = plan.robot.control_rate_hz
    series = {}
    for c in plan.robot.controllers:
        node = "wrist_ik_node" if c.name == "arms" else "hand_retarget_node"
        # 10 s between two reports: the arms' node published every tick, the hands' node missed 1 %.
        per_s = rate if c.name == "arms" else 0.99 * rate
        series[(node, f"published {c.ros_topic}")] = [(100.0 + t, per_s * t) for t in range(11)]
        series[("robot_interface_node", f"sent {c.topic}")] = [(100.0 + t, c.rate_hz * t) for t in range(11)]
    # The monitor heard only half of every topic (its own losses): not the nodes' misses.
    counts = {c.ros_topic: int(5 * rate) for c in plan.robot.controllers}
    out = missed_ticks(plan, _Reports(series), (99.5, 110.5), 10.0, counts, {})
    arms = next(c for c in plan.robot.controllers if c.name == "arms")
    hand = next(c for c in plan.robot.controllers if c.name != "arms")
    assert out["missed_ticks_percent"][arms.ros_topic] == 0.0
    assert out["missed_ticks_percent"][hand.ros_topic] == pytest.approx(1.0)
    assert out["missed_ticks_percent"][arms.topic] == 0.0
    assert out["missed_ticks_received_percent"][arms.ros_topic] == pytest.approx(50.0)
