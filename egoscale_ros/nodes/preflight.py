"""``egoscale-ros check --robot R --live``: listen to a robot's feedback before anything moves.

Publishes nothing. For ``--seconds`` it takes every declared feedback source (Unitree
``rt/lowstate`` and hand states on the native DDS domain, a maker's ROS topics, or plain
``joint_states`` for a robot that publishes them itself), decodes them with the same decoders
robot_interface_node uses and reports per joint the position against its limits (URDF tightened
by config) and against home, joints never measured, each source's rate and every message
refused and why (bad CRCs, wrong lengths, unknown joints). Exit status 1 when anything would
stop a safe start: a joint outside its limits, a joint never measured, a silent source, or a
refused message. Works the same against the mocks and a real robot.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

LIMIT_TOL = 1e-3  # rad: a joint resting exactly on its limit is inside
SILENT_S = 0.5  # a source quiet this long at the end of listening has stopped (jitter stays below)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments added to ``egoscale-ros check`` (the offline config check)."""
    parser.add_argument("--live", action="store_true", help="listen to the robot's feedback (publishes nothing)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to listen with --live")
    parser.add_argument("--native-domain", type=int, default=-1, help="the robot's DDS domain (default: config)")
    parser.add_argument("--native-interface", default="", help="network interface wired to the robot")
    parser.add_argument("--native-loopback", action="store_true", help="native DDS on loopback, multicast off")
    parser.add_argument("--native-tag", default="", help="Cyclone DDS discovery tag of the native side (tests)")


def evaluate(config, assembly, seconds: float, limits: dict[str, tuple[float, float]], native: str,
             now: float) -> dict[str, Any]:
    """The preflight verdict from what ``assembly`` (a FeedbackAssembly) heard in ``seconds``."""
    problems: list[str] = []
    warnings: list[str] = []
    joints: dict[str, Any] = {}
    for j in assembly.owner:
        lo, hi = limits.get(j, (-math.inf, math.inf))
        entry: dict[str, Any] = {"source": assembly.owner[j], "lower": lo, "upper": hi,
                                 "home": config.home_position(j)}
        if j not in assembly.position:
            entry["status"] = "missing"
            problems.append(f"{j}: never measured (source '{assembly.owner[j]}')")
        else:
            q = assembly.position[j]
            entry.update(position=round(q, 5), from_home=round(q - config.home_position(j), 5))
            if not lo - LIMIT_TOL <= q <= hi + LIMIT_TOL:
                entry["status"] = "outside_limits"
                problems.append(f"{j}: at {q:.4f} rad, outside its limits [{lo:.4f}, {hi:.4f}]")
            else:
                entry["status"] = "ok"
        joints[j] = entry
    sources: dict[str, Any] = {}
    for name, st in assembly.status.items():
        rate = st.received / seconds if seconds > 0 else 0.0
        sources[name] = {"topic": st.topic, "received": st.received, "rate_hz": round(rate, 2),
                         "expected_rate_hz": st.expected_rate_hz, "rejected": dict(st.rejected),
                         "last_rejection": st.last_rejection or None}
        if st.received == 0 and not st.rejected:
            problems.append(f"{st.topic}: no message in {seconds:g} s on {native} (is the robot on this "
                            "domain and interface?)")
        elif now - st.last_s > max(st.timeout_s, SILENT_S):
            problems.append(f"{st.topic}: went silent (nothing for {now - st.last_s:.2f} s)")
        if st.rejected:
            problems.append(f"{st.topic}: refused {st.rejected_total} message(s): "
                            + ", ".join(f"{r} {n}" for r, n in st.rejected.items()) + f" ({st.last_rejection})")
        if st.expected_rate_hz and st.received and rate < 0.5 * st.expected_rate_hz:
            warnings.append(f"{st.topic}: {rate:.1f} Hz, expected about {st.expected_rate_hz:g} Hz")
    return {"robot": config.name, "seconds": seconds, "native": native, "ok": not problems,
            "problems": problems, "warnings": warnings, "sources": sources, "joints": joints,
            "extra": {k: v for k, v in assembly.extra.items() if k != "motor_q"}}


def _sources(config):
    """Declared feedback sources, or the robot's own ``joint_states`` when it declares none."""
    if config.feedback:
        return list(config.feedback)
    from egoscale_ros.robot.spec import FeedbackSource

    return [FeedbackSource("joint_states", "joint_state", "joint_states", tuple(config.movable_joints()))]


def listen(config, seconds: float, native_settings) -> dict[str, Any]:
    """Listen to every feedback source for ``seconds`` and evaluate (publishes nothing)."""
    from egoscale_ros.interfaces import registry, settings
    from egoscale_ros.interfaces.base import DDS, Rejected
    from egoscale_ros.interfaces.feedback import FeedbackAssembly
    from egoscale_ros.nodes.robot_interface_node import mimic_links
    from egoscale_ros.robot.limits import joint_limits

    sources = _sources(config)
    decoders = {s.name: registry.feedback_decoder(s, config) for s in sources}
    assembly = FeedbackAssembly(sources, mimic_links(config))

    def offer(name: str, message: Any) -> None:
        try:
            assembly.accept(name, decoders[name].decode(message))
        except Rejected as exc:
            assembly.reject(name, exc)

    bus = None
    if any(d.transport == DDS for d in decoders.values()):
        from egoscale_ros.interfaces.dds import NativeBus

        bus = NativeBus(native_settings)
        for d in decoders.values():
            if d.transport == DDS:
                bus.reader(d.source.topic, d.message_type(), depth=256)
    ros = _RosListener(decoders, offer) if any(d.transport != DDS for d in decoders.values()) else None
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            if bus is not None:
                for name, d in decoders.items():
                    if d.transport == DDS:
                        for sample in bus.take(d.source.topic, limit=256):
                            offer(name, sample)
            if ros is not None:
                ros.spin_once(0.01)
            else:
                time.sleep(0.005)
    finally:
        if ros is not None:
            ros.close()
        if bus is not None:
            bus.close()
    commanded = config.arm_joints + config.hand_joints
    lim = joint_limits(config, commanded)
    limits = {j: (float(lo), float(hi)) for j, lo, hi in zip(commanded, lim.lower, lim.upper)}
    for j in assembly.owner:
        if j not in limits:
            info = config.joint_info(j)
            limits[j] = (info.lower, info.upper)
    native = settings.describe(native_settings) if bus is not None else f"ROS_DOMAIN_ID {os.environ.get('ROS_DOMAIN_ID', '0')}"
    return evaluate(config, assembly, seconds, limits, native, time.monotonic())


class _RosListener:
    """Subscriptions to the ROS feedback topics in a private rclpy context (no publisher)."""

    def __init__(self, decoders, offer):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState

        from egoscale_ros.nodes.robot_interface_node import to_plain
        from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, SENSOR_QOS

        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
        self.node = rclpy.create_node("egoscale_preflight", context=self.context)
        for name, d in decoders.items():
            if d.transport != "dds":
                qos = COMMAND_QOS if d.source.reliable else SENSOR_QOS
                self.node.create_subscription(JointState, d.source.topic,
                                              lambda m, n=name: offer(n, to_plain(m)), qos)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_once(self, timeout_s: float) -> None:
        self.executor.spin_once(timeout_sec=timeout_s)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)


def native_settings_from_args(config, args: argparse.Namespace):
    from egoscale_ros.interfaces import settings

    tag = getattr(args, "native_tag", "")
    if args.native_loopback:
        return settings.loopback(args.native_domain if args.native_domain >= 0 else config.native.domain_id, tag)
    return settings.with_overrides(config.native, domain_id=args.native_domain,
                                   network_interface=args.native_interface or None, tag=tag or None)


def run(args: argparse.Namespace) -> int:
    from egoscale_ros.robot.config import load_robot_config
    from egoscale_ros.schema import ConfigError

    robots = args.robot or []
    if len(robots) != 1:
        print("egoscale-ros check --live: name exactly one --robot", file=sys.stderr)
        return 2
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        print(f"egoscale-ros check --live: --seconds must be positive, got {args.seconds}", file=sys.stderr)
        return 2
    try:
        config = load_robot_config(robots[0], urdf_override=args.urdf or None)
        report = listen(config, args.seconds, native_settings_from_args(config, args))
    except (ConfigError, ValueError) as exc:
        print(f"{robots[0]}: ERROR — {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(readable(report))
    return 0 if report["ok"] else 1


def readable(r: dict[str, Any]) -> str:
    lines = [f"preflight {r['robot']}: {'OK' if r['ok'] else 'NOT SAFE TO START'} — listened {r['seconds']:g} s "
             f"on {r['native']}"]
    for name, s in r["sources"].items():
        rej = ", ".join(f"{k} {v}" for k, v in s["rejected"].items()) or "none refused"
        lines.append(f"  source {name:<18} {s['topic']:<28} {s['received']:>6} msgs {s['rate_hz']:>8} Hz ({rej})")
    for j, e in r["joints"].items():
        pos = f"{e['position']:+.4f}" if "position" in e else "   —   "
        lines.append(f"  joint  {j:<34} {pos} in [{e['lower']:+.3f}, {e['upper']:+.3f}]  {e['status']}")
    lines += [f"  PROBLEM {p}" for p in r["problems"]] + [f"  warning {w}" for w in r["warnings"]]
    return "\n".join(lines)
