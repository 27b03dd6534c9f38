"""launch_pytest test of launch/bringup.launch.py on mock hardware.

Runs where the ROS 2 launch framework is installed (a ROS 2 workspace: `colcon test`); elsewhere it
skips, saying so. The same graph is exercised without launch by test/integration.

The launched nodes and the probe share a private ROS domain (the isolation the demo and the
integration tests use), so commands from any other graph on the machine or network cannot make the
test pass; a node process that exits fails the test at once, naming it. Controller commands count
only once the smoother's per-tick targets flow (the policy is running): before that the command
nodes already publish holds, which say nothing about the graph. As in the demo, the reference policy
is prepared (trained and exported once, then cached) before the launch and passed as `policy:=`, so
the time limit measures the graph, not the one-time export.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    "launch_pytest",
    reason="the ROS 2 launch framework (launch, launch_ros, launch_pytest) is not installed here; "
    "run this test in a ROS 2 workspace (colcon test)",
)
launch = pytest.importorskip("launch")
pytest.importorskip("launch_ros")

import rclpy  # noqa: E402
from launch.actions import IncludeLaunchDescription, RegisterEventHandler  # noqa: E402
from launch.event_handlers import OnProcessExit, OnProcessStart  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory  # noqa: E402

from egoscale_ros.graph import plan_graph  # noqa: E402
from egoscale_ros.process_graph import private_ros_environment  # noqa: E402

LAUNCH_FILE = Path(__file__).resolve().parents[2] / "launch" / "bringup.launch.py"
# The robot's native DDS side stays on loopback, multicast off, on a domain of its own.
ARGS = {"robot": "g1_dex3", "hardware": "mock", "native_loopback": "true", "native_domain": "229"}
ISOLATION = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_BUILTIN_TRANSPORTS", "PYTHONUNBUFFERED")
MESSAGE_TYPES = {"JointState": JointState, "Float64MultiArray": Float64MultiArray, "JointTrajectory": JointTrajectory}
ENOUGH = 20
# Best effort matches reliable and best-effort publishers alike (controller outputs may be either).
PROBE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


def _size(msg) -> int:
    if isinstance(msg, Float64MultiArray):
        return len(msg.data)
    if isinstance(msg, JointState):
        return len(msg.position)
    return len(msg.points[0].positions) if msg.points else 0


@pytest.fixture(scope="module")
def reference_policy() -> str:
    from egoscale_ros.policy.export import ensure_default_policy

    return str(ensure_default_policy(preset="tiny", robot=ARGS["robot"], progress=False))


@pytest.fixture
def ros_domain(monkeypatch) -> int:
    """Private domain for the launched processes (they inherit os.environ) and for the probe."""
    env = private_ros_environment()
    for key in ISOLATION:
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("ROS_LOCALHOST_ONLY", raising=False)
    return int(env["ROS_DOMAIN_ID"])


@pytest.fixture
def processes() -> dict[str, list[str]]:
    return {"started": [], "exited": []}


@launch_pytest.fixture
def bringup(reference_policy, ros_domain, processes):
    def started(event, context):
        processes["started"].append(event.action.node_name)

    def exited(event, context):
        processes["exited"].append(f"{event.action.node_name} (exit code {event.returncode})")

    return launch.LaunchDescription(
        [
            RegisterEventHandler(OnProcessStart(on_start=started)),
            RegisterEventHandler(OnProcessExit(on_exit=exited)),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(LAUNCH_FILE)),
                launch_arguments={**ARGS, "policy": reference_policy}.items(),
            ),
            launch_pytest.actions.ReadyToTest(),
        ]
    )


@pytest.mark.launch(fixture=bringup)
def test_bringup_drives_the_mock_controllers(ros_domain, processes):
    plan = plan_graph(**ARGS)
    controllers = plan.robot.controllers
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain)
    node = rclpy.create_node("bringup_probe", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    targets: dict[str, list] = {"command/wrist_targets": []}
    node.create_subscription(MultiDOFJointTrajectory, "command/wrist_targets",
                             targets["command/wrist_targets"].append, PROBE_QOS)
    if plan.robot.hands:
        targets["command/hand_targets"] = []
        node.create_subscription(JointState, "command/hand_targets", targets["command/hand_targets"].append, PROBE_QOS)
    # What the command nodes publish: a ros2_control topic, or an adapter's internal command topic
    # (robot_interface_node turns it into the maker's message for the mock robot).
    received: dict[str, list] = {c.ros_topic: [] for c in controllers}

    def on_command(topic):
        def callback(msg):
            if all(targets.values()):  # commands while the policy's targets flow, not startup holds
                received[topic].append(msg)
        return callback

    for c in controllers:
        node.create_subscription(MESSAGE_TYPES[c.ros_type], c.ros_topic, on_command(c.ros_topic), PROBE_QOS)
    try:
        deadline = time.monotonic() + 120.0
        while (time.monotonic() < deadline and not processes["exited"]
               and not all(len(msgs) >= ENOUGH for msgs in received.values())):
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
    assert not processes["exited"], f"node processes exited during the test: {processes['exited']}"
    assert sorted(processes["started"]) == sorted(f"/{spec.name}" for spec in plan.nodes)
    for topic, msgs in targets.items():
        assert msgs, f"no per-tick targets on {topic} in 120 s: the policy -> chunk smoother chain is not running"
    for c in controllers:
        msgs = received[c.ros_topic]
        assert len(msgs) >= ENOUGH, f"{len(msgs)} commands reached {c.ros_topic} ({c.name}) while targets flowed"
        assert all(_size(m) == len(c.joints) for m in msgs), f"{c.ros_topic}: expected {len(c.joints)} joints"
