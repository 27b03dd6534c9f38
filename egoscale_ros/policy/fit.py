"""Does a policy manifest fit a robot? What ``egoscale-ros check --policy`` verifies before a run.

The manifest must load (for local backends: its ONNX graphs agree with it), and everything it
names must exist on the robot: the cameras a policy server takes, the joints whose positions
it is sent, the wrists and hands its actions drive; its hand actions must be one hand config's
joints (the hand the smoother names them by and the retargeting maps from). An error names the manifest and the item.
"""

from __future__ import annotations

from egoscale_ros.policy.hand_space import hand_type_of
from egoscale_ros.policy.manifest import ManifestError, load_manifest


def check_policy(path: str, config) -> dict:
    """A summary of the manifest on ``config``; :class:`ManifestError` on the first misfit."""
    manifest = load_manifest(path)
    where = str(manifest.path)
    layout = manifest.layout
    missing_arms = [s for s in layout.sides if s not in config.arms]
    if missing_arms:
        raise ManifestError(f"{where}: the policy drives the {missing_arms} wrist(s); robot {config.name} has "
                            f"arms {sorted(config.arms)}")
    missing_hands = [s for s in layout.hand_joints if s not in config.hands]
    if missing_hands:
        raise ManifestError(f"{where}: the policy drives the {missing_hands} hand(s); robot {config.name} has "
                            f"hands {sorted(config.hands)}")
    hand_source = None
    if layout.hand_joints:
        try:  # the policy's hand space must be one hand config's joints, side by side, in order
            hand_source = hand_type_of(layout, f"{where}: action.hands")
        except ValueError as exc:
            raise ManifestError(str(exc)) from exc
    remote = manifest.remote
    if remote is not None:
        cameras = {c.name for c in config.cameras}
        absent = sorted(c for c in remote.video.values() if c not in cameras)
        if absent:
            raise ManifestError(f"{where}: remote.video names camera(s) {absent}; robot {config.name} has {sorted(cameras)}")
        joints = set(config.movable_joints())
        unknown = [j for j in remote.state_joints if j not in joints]
        if unknown:
            raise ManifestError(f"{where}: remote.state sends joint(s) {unknown} that robot {config.name} does not have")
    return {"manifest": where, "backends": list(manifest.backend_order), "horizon": layout.horizon,
            "dt": layout.dt, "sides": list(layout.sides), "hand_source": hand_source,
            "remote": remote.protocol if remote is not None else None}
