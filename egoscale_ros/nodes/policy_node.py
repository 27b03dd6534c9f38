"""policy_node: runs the VLA policy on the newest observation and publishes action chunks.

Subscribes ``camera/<name>/image_raw`` (sensor_msgs/Image) per camera, ``joint_states`` and
``policy/instruction`` (std_msgs/String, transient local). An inference thread
(:class:`~egoscale_ros.policy.scheduler.InferenceLoop`) takes the newest frame of every camera
(no older than ``max_image_age_s``), the joint state nearest the image stamp and the wrist poses
forward kinematics gives for it, runs the :class:`~egoscale_ros.policy.pipeline.PolicyPipeline`
and publishes

- ``policy/wrist_chunk`` (MultiDOFJointTrajectory, joint_names [left_wrist, right_wrist],
  point k = absolute wrist targets in the base frame at time_from_start k·dt),
- ``policy/hand_chunk`` (JointTrajectory in the policy's hand space),

both stamped with the observation (image) stamp. With ``publish_observation`` (on while a run
is recorded) it also publishes what each chunk was computed from, so a recording can be replayed
offline through another policy: ``policy/observation/images/<camera>`` (Image, the frame fitted
to the model's input size), ``policy/observation/joint_states`` (the joint state used) and
``policy/observation/instruction`` (String, transient local), all stamped with the observation.
``/diagnostics`` carries the backend and what
it fell back from, latency p50/p99, the achieved rate, dropped/stale/rejected frames and dropped
non-finite chunks.

Parameters: ``robot``, ``manifest`` ('' = the reference policy, exported on first use),
``backend`` ('' or auto = manifest order), ``device`` (auto|cpu|cuda), ``rate_hz`` (30),
``cameras`` (names; default the robot's; a policy server's manifest names its own), ``max_image_age_s`` (0.5), ``instruction``
(default instruction; the manifest's when empty), ``threads`` (CPU threads for ONNX Runtime),
``image_reliability`` (best_available | best_effort | reliable), ``inference_cpu`` (pin the
inference thread to this CPU; -1 = no pinning), ``publish_observation`` (false).
"""

from __future__ import annotations

import math
import sys
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import Transform
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import (
    JointTrajectory,
    JointTrajectoryPoint,
    MultiDOFJointTrajectory,
    MultiDOFJointTrajectoryPoint,
)

from egoscale_ros.nodes.wiring.diagnostics import Diagnostics
from egoscale_ros.nodes.wiring.joint_states import joint_state_listener
from egoscale_ros.nodes.wiring.main import run
from egoscale_ros.nodes.wiring.params import declare, robot_config_from_parameters
from egoscale_ros.nodes.wiring.qos import COMMAND_QOS, JOINT_STATE_QOS, LATCHED_QOS
from egoscale_ros.nodes.wiring.stamps import ns_to_stamp, sec_to_duration, stamp_to_ns
from egoscale_ros.policy.manifest import load_manifest
from egoscale_ros.policy.observation import JointStateHistory, LatestImages
from egoscale_ros.policy.pipeline import Observation, Prediction, pipeline_for
from egoscale_ros.policy.runtime import create_runtime
from egoscale_ros.policy.scheduler import InferenceLoop
from egoscale_ros.policy.transforms import ImageRejected, fit_image, image_to_rgb, rotations_to_quaternions
from egoscale_ros.remote.errors import RemoteError
from egoscale_ros.robot.kinematics import RobotKinematics
from egoscale_ros.safety.watchdog import silence_timeout

DEFAULT_CAMERA_HZ = 30.0  # a camera the robot config does not describe

# Images: only the newest frame matters (depth 1). Reliability "best available" (Iron and later)
# becomes reliable when the camera publishes reliably - large frames sent best-effort between
# processes lose most of their fragments on a busy host - and best effort otherwise, so it still
# matches any camera driver. Humble lacks it: there the parameter picks, best effort by default.
RECENT_S = 2.0  # how long rejected images stay on diagnostics

IMAGE_RELIABILITY = {
    "best_available": getattr(ReliabilityPolicy, "BEST_AVAILABLE", ReliabilityPolicy.BEST_EFFORT),
    "best_effort": ReliabilityPolicy.BEST_EFFORT,
    "reliable": ReliabilityPolicy.RELIABLE,
}


def image_qos(reliability: str) -> QoSProfile:
    if reliability not in IMAGE_RELIABILITY:
        raise ValueError(f"parameter image_reliability must be one of {sorted(IMAGE_RELIABILITY)}, got {reliability!r}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=IMAGE_RELIABILITY[reliability])


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__("policy_node")
        logger = self.get_logger()
        # ``warning`` is the current name (``warn`` is deprecated); older rclpy releases have only ``warn``.
        self._warn = getattr(logger, "warning", None) or logger.warn
        self.config = robot_config_from_parameters(self)
        manifest_param = str(declare(self, "manifest", ""))
        backend = str(declare(self, "backend", "auto")) or "auto"
        device = str(declare(self, "device", "auto")) or "auto"
        rate_hz = float(declare(self, "rate_hz", 30.0))
        cameras_param = list(declare(self, "cameras", [""]))
        self.max_image_age_s = float(declare(self, "max_image_age_s", 0.5))
        instruction = str(declare(self, "instruction", ""))
        threads = int(declare(self, "threads", 1))
        qos = image_qos(str(declare(self, "image_reliability", "best_available")))
        inference_cpu = int(declare(self, "inference_cpu", -1))
        publish_observation = bool(declare(self, "publish_observation", False))
        if rate_hz <= 0:
            raise ValueError(f"parameter rate_hz must be > 0, got {rate_hz}")

        if not manifest_param:
            from egoscale_ros.policy.export import ensure_default_policy

            self.get_logger().info("no manifest given: preparing the reference policy (cached after the first run)")
            manifest_param = str(ensure_default_policy(preset="tiny", robot=self.config.embodiment,
                                                       state_joints=self.config.policy_state_joints))
        self.manifest = load_manifest(manifest_param)
        # A policy server names its cameras in the manifest; a local policy takes the robot's.
        remote = self.manifest.remote
        default_cameras = list(remote.video.values()) if remote else [c.name for c in self.config.cameras] or ["head"]
        cameras = default_cameras if remote else [c for c in cameras_param if c] or default_cameras
        unknown = [c for c in cameras if remote and c not in {k.name for k in self.config.cameras}]
        if unknown:
            raise ValueError(f"{self.manifest.path}: remote.video names camera(s) {unknown} that robot "
                             f"{self.config.name} does not have ({[k.name for k in self.config.cameras]})")
        if len(cameras) != self.manifest.image.cameras:
            raise ValueError(f"parameter cameras names {len(cameras)} camera(s) {cameras} but the policy "
                             f"{self.manifest.path} takes {self.manifest.image.cameras}")
        self._check_robot_fits_manifest()
        self.selection = create_runtime(self.manifest, backend, device,
                                        options={"onnxruntime": {"threads": threads}})
        self.pipeline = pipeline_for(self.manifest, self.selection.runtime)
        self.remote = self.pipeline if remote is not None else None  # a RemotePolicy: status() for diagnostics
        if self.remote is not None:  # ages of replies on the clock that stamps the observations
            self.remote.now_ns = lambda: self.get_clock().now().nanoseconds
        # Wrist poses at observation time: composed with relative actions here, or sent to a server.
        self._needs_wrists = self.manifest.layout.representation == "relative" or bool(
            remote and (any(e.wrist for e in remote.state) or any(e.rep != "absolute" for e in remote.action if e.wrist)))
        self.kinematics = RobotKinematics(self.config)
        self.camera_config = {c.name: c for c in self.config.cameras}
        layout = self.manifest.layout
        if layout.frame == "camera" and cameras[0] not in self.camera_config:
            raise ValueError(f"the policy's wrist actions are in the frame of camera '{cameras[0]}', which robot "
                             f"{self.config.name} does not configure (no extrinsics); it has "
                             f"{sorted(self.camera_config)}")
        self.instruction = instruction or self.manifest.default_instruction
        self._instruction_lock = threading.Lock()

        self.images = LatestImages(cameras)
        # Proprioception by the command path's rule: whole messages of every arm joint (forward
        # kinematics) and every state joint the robot has, fresh and consistent, from the declared
        # source only (parameter joint_state_source); while another node publishes too, no
        # observation is built (no chunk: the command nodes hold).
        movable = set(self.config.movable_joints())
        needed = list(dict.fromkeys([*self.config.arm_joints,
                                     *(j for j in self.manifest.state.joints if j in movable)]))
        self.joint_feedback = joint_state_listener(self, self.config, needed, view=False)
        self.joint_history = JointStateHistory(horizon_s=2.0, joints=needed)
        self.counters = {"chunks": 0, "nan_chunks": 0, "images_rejected": 0, "images_converted": 0,
                         "images_unexpected_size": 0, "no_joint_state": 0, "joint_state_untrusted": 0,
                         "cycle_errors": 0}
        self.last_error = ""
        self._image_at: dict[str, float] = {}  # camera -> monotonic time of its last good image
        # A camera quiet for SILENT_PERIODS of its own period (after its first image) is an error.
        self._camera_silence_s = {
            c: silence_timeout(self.camera_config[c].rate_hz if c in self.camera_config else DEFAULT_CAMERA_HZ)
            for c in cameras}
        self._image_rejected_at = -math.inf
        self._last_age_ms = float("nan")
        self._joint_offset_ms = float("nan")

        for name in cameras:
            self.create_subscription(Image, f"camera/{name}/image_raw",
                                     lambda msg, cam=name: self._on_image(cam, msg), qos)
        self.create_subscription(JointState, "joint_states", self._on_joint_state, JOINT_STATE_QOS)
        self.create_subscription(String, "policy/instruction", self._on_instruction, LATCHED_QOS)
        self.pub_wrist = self.create_publisher(MultiDOFJointTrajectory, "policy/wrist_chunk", COMMAND_QOS)
        self.pub_hand = self.create_publisher(JointTrajectory, "policy/hand_chunk", COMMAND_QOS)
        self.pub_observation = None
        if publish_observation:
            self.pub_observation = (
                {name: self.create_publisher(Image, f"policy/observation/images/{name}", COMMAND_QOS)
                 for name in cameras},
                self.create_publisher(JointState, "policy/observation/joint_states", COMMAND_QOS),
                self.create_publisher(String, "policy/observation/instruction", LATCHED_QOS),
            )
            self._observed_instruction: str | None = None

        self.loop = InferenceLoop(rate_hz, self._build, self._infer, self._publish,
                                  wait_for_data=self.images.wait_for_new, on_error=self._on_cycle_error,
                                  cpu=inference_cpu if inference_cpu >= 0 else None)
        self.rate_hz = rate_hz
        # A policy server can die at any moment: report it within a fraction of the stale timeout.
        self.diagnostics = Diagnostics(self, self._diag_values, self._diag_level,
                                       period_s=0.1 if self.remote else 1.0)
        report = self.selection.report()
        log = self._warn if self.selection.fell_back else self.get_logger().info
        log(f"policy {self.manifest.name} ({self.manifest.path}) on {report}; cameras {cameras}, {rate_hz:g} Hz")
        if self.remote is not None:
            self.remote.start(self._deliver, self._on_cycle_error)
        self.loop.start()

    def _check_robot_fits_manifest(self) -> None:
        layout = self.manifest.layout
        missing = [s for s in layout.sides if s not in self.config.arms]
        if missing and layout.representation == "relative":
            raise ValueError(f"the policy moves the {missing} wrist(s) relative to their current pose, but robot "
                             f"{self.config.name} has no such arm")
        if self.manifest.embodiment != self.config.embodiment:
            self._warn(f"policy trained for embodiment '{self.manifest.embodiment}' runs on robot "
                                      f"{self.config.name} (embodiment '{self.config.embodiment}')")
        absent = [j for j in self.manifest.state.joints if j not in set(self.config.movable_joints())]
        if absent:
            self._warn(f"policy state joints not on this robot (fed to the policy as missing): {absent}")

    # -- inputs (executor thread) ------------------------------------------------------------------

    def _on_image(self, camera: str, msg: Image) -> None:
        try:
            rgb, converted = image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data)
        except ImageRejected as exc:
            self.counters["images_rejected"] += 1
            self._image_rejected_at = time.monotonic()
            self._warn(f"camera/{camera}/image_raw: {exc}", throttle_duration_sec=5.0)
            return
        if converted:
            self.counters["images_converted"] += 1
        expected = self.camera_config.get(camera)
        if expected is not None and (msg.width, msg.height) != (expected.width, expected.height):
            self.counters["images_unexpected_size"] += 1  # still used: fitted to the model input

        stamp = stamp_to_ns(msg.header.stamp) or self.get_clock().now().nanoseconds
        self.images.put(camera, stamp, rgb)
        self._image_at[camera] = time.monotonic()

    def _on_joint_state(self, msg: JointState) -> None:
        # Refused (partial, malformed, future, out of order, a jump no joint can make) are counted
        # by the listener; nothing is kept while the topic has a publisher besides the source.
        if self.joint_feedback.offer(msg) and not self.joint_feedback.source_problem:
            self.joint_history.add(stamp_to_ns(msg.header.stamp), self.joint_feedback.filter.positions)

    def _on_instruction(self, msg: String) -> None:
        with self._instruction_lock:
            self.instruction = msg.data
        self.get_logger().info(f"instruction: {msg.data!r}")

    # -- inference thread ------------------------------------------------------------------------

    def _build(self) -> Observation | None:
        taken = self.images.take(self.get_clock().now().nanoseconds, self.max_image_age_s)
        if taken is None:
            return None
        stamp_ns, images = taken
        if self.joint_feedback.source_problem:
            self.joint_history.clear()  # what came while two sources mixed is not the robot's pose
            self.counters["joint_state_untrusted"] += 1
            return None
        nearest = self.joint_history.nearest(stamp_ns)
        if nearest is None:
            self.counters["no_joint_state"] += 1
            return None
        joint_stamp, positions = nearest
        self._joint_offset_ms = (joint_stamp - stamp_ns) * 1e-6
        if self.max_image_age_s > 0 and abs(self._joint_offset_ms) > self.max_image_age_s * 1e3:
            # The arm may have moved since: composing actions with that wrist pose would be wrong.
            self.counters["no_joint_state"] += 1
            return None
        layout = self.manifest.layout
        wrists = None
        if self._needs_wrists:
            wrists = {s: self.kinematics.wrist_pose(s, positions) for s in layout.sides}
        base_T_camera = None
        if layout.frame == "camera":  # absolute poses or relative steps along the camera's axes
            cam = self.camera_config[self.images.cameras[0]]
            base_T_camera = self.kinematics.frame_pose(cam.parent_frame, positions) @ cam.extrinsics.matrix()
        with self._instruction_lock:
            instruction = self.instruction
        if self.pub_observation is not None:
            # Fitted here once (the pipeline passes model-sized images through), so what is
            # published is exactly what the model saw.
            spec = self.manifest.image
            images = [fit_image(img, spec.size, spec.resize) for img in images]
        return Observation(stamp_ns, images, positions, instruction, wrists, base_T_camera, self.config.base_frame)

    def _infer(self, obs: Observation) -> Prediction | None:
        if self.remote is not None:  # pipelined: the reply is published by _deliver, on its connection's thread
            self.remote.submit(obs)
            return None
        return self.pipeline.predict(obs)

    def _deliver(self, obs: Observation, prediction: Prediction) -> None:
        """A policy server's chunk, newest capture so far (the client drops older ones)."""
        t0 = time.monotonic()
        self._publish(obs, prediction)
        self.loop.record(t0 - prediction.total_ms * 1e-3, prediction, {"publish": (time.monotonic() - t0) * 1e3})

    def _publish(self, obs: Observation, prediction: Prediction) -> None:
        chunk = prediction.chunk
        if chunk is None:
            self.counters["nan_chunks"] += 1
            self._warn("dropped a chunk with NaN/inf", throttle_duration_sec=2.0)
            return
        stamp = ns_to_stamp(chunk.stamp_ns)
        offsets = [sec_to_duration(k * chunk.dt) for k in range(chunk.horizon)]
        sides = list(chunk.wrist)
        wrist = MultiDOFJointTrajectory()
        wrist.header.stamp = stamp
        wrist.header.frame_id = chunk.frame  # as decoded; the smoother checks it
        wrist.joint_names = [f"{s}_wrist" for s in sides]
        poses = np.stack([chunk.wrist[s] for s in sides], axis=1)  # (H, sides, 4, 4)
        trans = poses[..., :3, 3].tolist()
        quats = rotations_to_quaternions(poses[..., :3, :3]).tolist()
        points = []
        for k in range(chunk.horizon):
            point = MultiDOFJointTrajectoryPoint()
            transforms = []
            for t, q in zip(trans[k], quats[k]):
                tf = Transform()  # field-by-field: about twice as fast as keyword construction
                tf.translation.x, tf.translation.y, tf.translation.z = t
                tf.rotation.x, tf.rotation.y, tf.rotation.z, tf.rotation.w = q
                transforms.append(tf)
            point.transforms = transforms
            point.time_from_start = offsets[k]
            points.append(point)
        wrist.points = points
        hand = JointTrajectory()
        hand.header.stamp = stamp
        hand.header.frame_id = chunk.frame
        hand_sides = list(chunk.hand)
        hand.joint_names = [n for s in hand_sides for n in chunk.hand_joint_names[s]]
        values = np.concatenate([chunk.hand[s] for s in hand_sides], axis=1)
        hand.points = [JointTrajectoryPoint(positions=row.tolist(), time_from_start=offsets[k])
                       for k, row in enumerate(values)]
        if self.pub_observation is not None:
            self._publish_observation(obs, stamp)
        self.pub_wrist.publish(wrist)
        self.pub_hand.publish(hand)
        self.counters["chunks"] += 1
        self._last_age_ms = (self.get_clock().now().nanoseconds - chunk.stamp_ns) * 1e-6

    def _publish_observation(self, obs: Observation, stamp) -> None:
        images, joints, instruction = self.pub_observation
        if obs.instruction != self._observed_instruction:
            instruction.publish(String(data=obs.instruction))
            self._observed_instruction = obs.instruction
        for (name, pub), rgb in zip(images.items(), obs.images):
            msg = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", is_bigendian=0,
                        step=rgb.shape[1] * 3, data=rgb.tobytes())
            msg.header.stamp = stamp
            msg.header.frame_id = name
            pub.publish(msg)
        state = JointState()
        state.header.stamp = stamp
        state.name = list(obs.joint_positions)
        state.position = [float(v) for v in obs.joint_positions.values()]
        joints.publish(state)

    def _on_cycle_error(self, exc: Exception) -> None:
        if not self.context.ok():  # shutting down (SIGINT): publishers are gone, stop quietly
            self.loop.request_stop()
            return
        if isinstance(exc, RemoteError):  # counted by kind in the client; the command path holds
            self._warn(f"policy server: {exc}", throttle_duration_sec=2.0)
            return
        self.counters["cycle_errors"] += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self.get_logger().error(f"inference cycle failed: {self.last_error}", throttle_duration_sec=2.0)

    # -- diagnostics -----------------------------------------------------------------------------

    def _diag_values(self) -> dict:
        stats = self.loop.stats
        values = {
            "backend": self.selection.report(),
            "fallback": "; ".join(f"{n} ({why})" for n, why in self.selection.fallbacks) or "none",
            "manifest": str(self.manifest.path),
            # Inference (preprocess -> postprocess) and whole cycles (observation -> chunks published).
            "latency_ms_p50": self.loop.inference.percentile(50),
            "latency_ms_p99": self.loop.inference.percentile(99),
            "cycle_ms_p50": stats.percentile(50),
            "cycle_ms_p99": stats.percentile(99),
            "rate_hz": stats.rate_hz(),
            "target_rate_hz": self.rate_hz,
            "chunk_age_ms": self._last_age_ms,
            "joint_state_offset_ms": self._joint_offset_ms,
            "frames_received": self.images.received,
            "dropped_frames": self.images.dropped,
            "stale_frames": self.images.stale,
            "overruns": self.loop.overruns,
            "instruction": self.instruction,
            **self.counters,
            **self.joint_feedback.diagnostics(),
        }
        if self.remote:
            values.update(self.remote.status())
        for stage, ms in stats.stage_medians().items():
            values[f"stage_ms_{stage}"] = ms
        if self.last_error:
            values["last_error"] = self.last_error
        return values

    def _diag_level(self) -> tuple[int, str]:
        now = time.monotonic()
        silent = {c: now - t for c, t in self._image_at.items() if now - t > self._camera_silence_s[c]}
        if silent:
            return DiagnosticStatus.ERROR, "; ".join(
                f"camera/{c}/image_raw silent for {age:.2f} s (no observation, no chunk)" for c, age in silent.items())
        if now - self._image_rejected_at < RECENT_S:
            return DiagnosticStatus.WARN, f"rejected {self.counters['images_rejected']} image(s) so far"
        if self.joint_feedback.source_problem:
            return DiagnosticStatus.ERROR, (f"joint_states untrusted: {self.joint_feedback.source_problem} "
                                            "(no observation, no chunk)")
        missing = self.images.missing()
        if missing:
            return DiagnosticStatus.WARN, f"waiting for images from {missing}"
        if len(self.joint_history) == 0:
            return DiagnosticStatus.WARN, "waiting for whole joint_states from the declared source"
        if not self.loop.running:
            return DiagnosticStatus.ERROR, "inference thread stopped"
        if self.remote and not self.remote.answering:
            return DiagnosticStatus.ERROR, (f"policy server {self.remote.endpoint} silent for "
                                            f"{self.remote.silent_s:.2f} s ({self.remote.last_error or 'no reply yet'})")
        rate = self.loop.stats.rate_hz()
        if rate < 0.9 * self.rate_hz:
            return DiagnosticStatus.WARN, f"running at {rate:.1f} Hz of {self.rate_hz:g} Hz"
        if self.selection.fell_back:
            return DiagnosticStatus.WARN, f"running on fallback backend {self.selection.backend}"
        return DiagnosticStatus.OK, f"{rate:.1f} Hz on {self.selection.backend}"

    def close(self) -> None:
        self.loop.stop()
        self.selection.runtime.close()


def main(args: list[str] | None = None) -> int:
    # The inference thread and the executor share the GIL: hand it over within 0.5 ms instead of
    # Python's default 5 ms, so a burst of joint-state callbacks cannot stall a finished inference.
    sys.setswitchinterval(0.0005)
    return run(PolicyNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
