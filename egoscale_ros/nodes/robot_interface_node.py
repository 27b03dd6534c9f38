"""robot_interface_node: the package's edge — the maker's interfaces on one side, ROS on the other.

For every controller output served by an adapter (``egoscale_ros.interfaces``), it subscribes the
output's internal command topic (``command/joints/<name>``, named JointState, already through the
safety gate) and sends the maker's messages: Unitree LowCmd / HandCmd / MotorCmds_ over Cyclone
DDS on the native domain, or a maker's ROS topics. From the declared feedback sources it
assembles the one ``joint_states`` view (each joint from its one source, names mapped) and
publishes it only when whole. Refused messages are counted on diagnostics per source and reason;
a silent source is named; nothing refused changes a command.

On a clean stop (SIGINT) every adapter is released and ticked until it says it is done: the
arm_sdk blend weight goes back to 0 before the process exits.

Parameters: ``robot``, ``urdf``, ``rate_hz`` (tick: feedback polling and outputs; default the
fastest output, at least the control rate), ``native_domain_id`` (-1: the config's),
``native_interface`` ('' = the config's), ``native_loopback`` (true: loopback only, multicast
off — tests and the demo), ``release_timeout_s`` (longest hand-back at stop).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState

from egoscale_ros.interfaces import registry, settings
from egoscale_ros.interfaces.base import DDS, Rejected, RosJointState, WireSample
from egoscale_ros.interfaces.feedback import FeedbackAssembly
from egoscale_ros.nodes.wiring.controllers import controller_qos, decode_controller_message
from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.inbox import Inbox
from egoscale_ros.nodes.wiring.joint_state_cdr import JointStateEncoder, JointStateReader, stamp_parts
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, SENSOR_QOS
from egoscale_ros.nodes.wiring.stamps import stamp_to_sec


def native_settings_from_parameters(node: Node, config) -> Any:
    """The native DDS settings: the config's, overridden by launch arguments."""
    domain = int(declare(node, "native_domain_id", -1))
    nic = str(declare(node, "native_interface", ""))
    tag = str(declare(node, "native_tag", ""))
    if bool(declare(node, "native_loopback", False)):
        return settings.loopback(domain if domain >= 0 else config.native.domain_id, tag)
    return settings.with_overrides(config.native, domain_id=domain, network_interface=nic or None, tag=tag or None)


def mimic_links(config) -> list[tuple[str, str, float, float]]:
    links = []
    for name in config.movable_joints():
        info = config.joint_info(name)
        if info.mimic_joint:
            links.append((name, info.mimic_joint, info.mimic_multiplier, info.mimic_offset))
    return links


def _deserialize(data: bytes, topic: str) -> JointState:
    """The whole JointState of raw ``data``; ValueError naming ``topic`` when it is not one."""
    try:
        return deserialize_message(data, JointState)
    except Exception as exc:  # the typesupport raises its own kinds for malformed bytes
        raise ValueError(f"{topic}: malformed JointState ({exc})") from exc


def to_plain(msg: JointState) -> RosJointState:
    return RosJointState(tuple(msg.name), tuple(msg.position), tuple(msg.velocity), tuple(msg.effort),
                         stamp_to_sec(msg.header.stamp))


COMMAND_SILENCE_S = 0.2  # a command input quiet for longer is reported as an error


class RobotInterfaceNode(Node):
    def __init__(self, **node_options: Any) -> None:
        # node_options: rclpy Node keywords, e.g. a container's per-node cli_args
        super().__init__("robot_interface_node", **node_options)
        self.config = robot_config_from_parameters(self)
        outputs = self.config.adapter_outputs
        fastest = max([o.rate_hz or self.config.control_rate_hz for o in outputs] + [self.config.control_rate_hz])
        rate = float(declare(self, "rate_hz", fastest))
        if not rate > 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate}")
        self.release_timeout_s = float(declare(self, "release_timeout_s", 5.0))
        self.native = native_settings_from_parameters(self, self.config)

        self.adapters = [registry.output_adapter(o, self.config) for o in outputs]
        self.decoders = {s.name: registry.feedback_decoder(s, self.config) for s in self.config.feedback}
        self.assembly = FeedbackAssembly(self.config.feedback, mimic_links(self.config))
        uses_dds = any(a.transport == DDS for a in self.adapters) or any(
            d.transport == DDS for d in self.decoders.values())
        self.bus = None
        if uses_dds:
            from egoscale_ros.interfaces.dds import NativeBus

            self.bus = NativeBus(self.native)
        self._ros_pubs: dict[str, Any] = {}
        self._period = {id(a): 1.0 / (a.output.rate_hz or self.config.control_rate_hz) for a in self.adapters}
        self._due = {id(a): 0.0 for a in self.adapters}
        self.sent: dict[str, int] = {}
        self.rejected_commands: dict[str, int] = {}
        self.last_command: dict[str, float] = {}  # ROS command topic -> monotonic time of its last
        self._readers: dict[str, JointStateReader] = {}
        self._encoders: dict[tuple[str, ...], JointStateEncoder] = {}  # by joint names
        self.inbox = Inbox(self)
        for adapter in self.adapters:
            out = adapter.output
            for topic, idl_type in adapter.topics().items():
                self.sent[topic] = 0
                if adapter.transport == DDS:
                    self.bus.writer(topic, idl_type)
                else:
                    self._ros_pubs[topic] = self.create_publisher(JointState, topic, controller_qos(out))
            self.rejected_commands[out.ros_topic] = 0
            # Taken at the tick, as bytes (no wake-up per command); a command with the output's own
            # joint names is read from its bytes.
            self._readers[out.ros_topic] = JointStateReader(out.joints)
            self.inbox.subscribe(JointState, out.ros_topic, COMMAND_QOS)
        for name, decoder in self.decoders.items():
            src = decoder.source
            if decoder.transport == DDS:
                self.bus.reader(src.topic, decoder.message_type())
            else:
                self.create_subscription(JointState, src.topic, lambda m, n=name: self._on_ros_feedback(m, n),
                                         COMMAND_QOS if src.reliable else SENSOR_QOS)
        self._fresh = False
        self.published = 0
        self.joint_pub = self.create_publisher(JointState, "joint_states", COMMAND_QOS)
        self.rate_hz = rate
        self.tick_timer = self.create_timer(1.0 / rate, self._tick)
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level)
        self.get_logger().info(
            f"robot interface for {self.config.name}: outputs "
            f"{', '.join(f'{a.output.topic} ({a.kind})' for a in self.adapters) or 'none'}; feedback "
            f"{', '.join(f'{s.topic} ({s.type})' for s in self.config.feedback) or 'none'}; "
            f"{settings.describe(self.native) if self.bus else 'ROS topics only'}"
        )

    # -- input ----------------------------------------------------------------------------------
    def command_sink(self, ros_topic: str):
        """A callable taking (positions in the output's joint order, stamp in s) of the output on
        ``ros_topic`` from a command node of the same process, instead of over the topic (which
        this node then no longer subscribes); None when no output of this node is on that topic."""
        adapter = next((a for a in self.adapters if a.output.ros_topic == ros_topic), None)
        if adapter is None:
            return None
        self.inbox.unsubscribe(ros_topic)
        joints = adapter.output.joints

        def take(positions, _stamp_s: float) -> None:
            now = time.monotonic()
            adapter.set_target(dict(zip(joints, positions.tolist())), now)
            self.last_command[ros_topic] = now

        return take

    def _take_commands(self) -> None:
        """Every command that arrived since the last tick, in order, each checked and counted."""
        for adapter in self.adapters:
            for data, received in self.inbox.take(adapter.output.ros_topic):
                self._on_command(data, adapter, received)

    def _on_command(self, data: bytes, adapter, received: float) -> None:
        out = adapter.output
        try:
            wire = self._readers[out.ros_topic].read(data)
            if wire is not None and len(wire.position) == len(out.joints):
                positions = dict(zip(out.joints, wire.position.tolist()))
            else:  # other names or lengths: the whole message, through the general checks
                positions = decode_controller_message(_deserialize(data, out.ros_topic), out)
        except ValueError as exc:
            self.rejected_commands[adapter.output.ros_topic] += 1
            self.get_logger().warn(f"rejected command: {exc}", throttle_duration_sec=2.0)
            return
        adapter.set_target(positions, received)
        self.last_command[adapter.output.ros_topic] = received

    def _on_ros_feedback(self, msg: JointState, name: str) -> None:
        self._offer(name, to_plain(msg))

    def _offer(self, name: str, message: Any, decode=None) -> None:
        try:
            sample = (decode or self.decoders[name].decode)(message)
        except Rejected as exc:
            self.assembly.reject(name, exc)
            self.get_logger().warn(f"feedback {self.decoders[name].source.topic} refused: {exc}",
                                   throttle_duration_sec=2.0)
            return
        if self.assembly.accept(name, sample):
            self._fresh = True

    def _poll_native(self) -> None:
        for name, decoder in self.decoders.items():
            if decoder.transport == DDS:
                if hasattr(decoder, "decode_cdr"):  # read from the bytes, no message objects
                    for data in self.bus.take_cdr(decoder.source.topic):
                        self._offer(name, data, decoder.decode_cdr)
                    continue
                for sample in self.bus.take(decoder.source.topic):
                    self._offer(name, sample)

    # -- tick -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        self._take_commands()
        self._poll_native()
        if self._fresh and self.assembly.complete():
            self._fresh = False
            self._publish_joint_states()
            for adapter in self.adapters:
                adapter.on_feedback(self.assembly.position, self.assembly.extra)
        self._tick_outputs(time.monotonic())

    def _tick_outputs(self, now: float, force: bool = False) -> None:
        # One stamp per tick: the time the steps were computed for, as (sec, nanosec).
        stamp = stamp_parts(self.get_clock().now().nanoseconds)
        for adapter in self.adapters:
            key = id(adapter)
            # Half a tick early still counts as due: a tick's own lateness varies (in a container it
            # runs after the stages of that tick), and that jitter must not drop a message.
            if not force and now < self._due[key] - 0.5 / self.rate_hz:
                continue
            if not self._listening(adapter):
                continue  # nobody on the robot's side yet: start no motion it would only partly see
            self._due[key] = max(self._due[key] + self._period[key], now - self._period[key])
            for packet in adapter.tick(now):
                self._send(adapter, packet, stamp)

    def _listening(self, adapter) -> bool:
        """A ROS output is served once its topic has a subscriber (DDS writers do not wait)."""
        if adapter.transport == DDS:
            return True
        return all(self._ros_pubs[t].get_subscription_count() > 0 for t in adapter.topics())

    def _send(self, adapter, packet, stamp) -> None:
        if adapter.transport == DDS:
            if isinstance(packet.message, WireSample):
                self.bus.write_cdr(packet.topic, packet.message.data)
            else:
                self.bus.write(packet.topic, packet.message)
        else:
            m = packet.message
            self._ros_pubs[packet.topic].publish(self._encoder(m.name).encode(
                *stamp, np.asarray(m.position, dtype=np.float64), np.asarray(m.velocity, dtype=np.float64)))
        self.sent[packet.topic] += 1

    def _encoder(self, names) -> JointStateEncoder:
        """The CDR layout of JointStates with these names (few: one per output, one joint view)."""
        key = tuple(names)
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = self._encoders[key] = JointStateEncoder(key)
        return encoder

    def _publish_joint_states(self) -> None:
        names, q, dq, tau = self.assembly.view()
        sec, nanosec = stamp_parts(self.get_clock().now().nanoseconds)
        self.joint_pub.publish(self._encoder(names).encode(
            sec, nanosec, np.array(q, dtype=np.float64), np.array(dq, dtype=np.float64),
            np.array(tau, dtype=np.float64)))
        self.published += 1

    # -- stop -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Hand the robot back: release every adapter and keep ticking until each is done."""
        for adapter in self.adapters:
            adapter.release()
        deadline = time.monotonic() + self.release_timeout_s
        period = min(self._period.values(), default=0.02)
        while time.monotonic() < deadline and not all(a.released for a in self.adapters):
            if self.bus is not None:
                self._poll_native()
            self._tick_outputs(time.monotonic(), force=True)
            time.sleep(period)
        pending = [a.output.topic for a in self.adapters if not a.released]
        if pending:
            print(f"[robot_interface_node] release not finished within {self.release_timeout_s} s: {pending}",
                  flush=True)
        if self.bus is not None:
            self.bus.close()
        self.inbox.destroy()

    # -- diagnostics ----------------------------------------------------------------------------
    def _diag_values(self) -> dict:
        values: dict[str, Any] = {"native": settings.describe(self.native) if self.bus else "none",
                                  "joint_states_published": self.published}
        values.update(self.assembly.diagnostics())
        for topic, n in self.sent.items():
            values[f"sent {topic}"] = n
        for topic, n in self.rejected_commands.items():
            values[f"rejected {topic}"] = n
        for adapter in self.adapters:
            for k, v in adapter.diagnostics().items():
                values[f"output {adapter.output.name} {k}"] = v
        return values

    def _diag_level(self) -> tuple[int, str]:
        silent = self.assembly.silent_sources()
        if silent:
            topics = ", ".join(self.assembly.status[s].topic for s in silent)
            where = f" on {settings.describe(self.native)}" if self.bus else ""
            heard = any(self.assembly.status[s].received for s in silent)
            what = "went silent" if heard else "never heard (wrong domain or interface?)"
            return DiagnosticStatus.ERROR, f"feedback {topics} {what}{where}: commands hold"
        # A command input that went quiet (its node died or stalled): the adapter holds the last.
        now = time.monotonic()
        quiet = {t: now - last for t, last in self.last_command.items() if now - last > COMMAND_SILENCE_S}
        if quiet:
            return DiagnosticStatus.ERROR, "commands silent: " + ", ".join(
                f"{t} for {age:.2f} s" for t, age in quiet.items()) + " (holding the last)"
        rejected = {n: s.rejected_total for n, s in self.assembly.status.items() if s.rejected_total}
        if rejected or any(self.rejected_commands.values()):
            return DiagnosticStatus.WARN, f"refused messages: feedback {rejected}, commands " \
                                          f"{ {t: n for t, n in self.rejected_commands.items() if n} }"
        return DiagnosticStatus.OK, "ok"


def main(args: list[str] | None = None) -> int:
    return run(RobotInterfaceNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
