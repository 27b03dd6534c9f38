"""Which hand the policy's hand actions are for, read from its manifest.

The policy predicts joint angles of one hand model (the Sharpa Wave for EgoScale); the smoother
names its hand targets and the retargeting maps them from that hand, so both must be told the
hand the manifest's action layout names, never assume one.
"""

from __future__ import annotations

from egoscale_ros.policy.layout import ActionLayout
from egoscale_ros.retarget.config import HandConfigError, load_hand_config
from egoscale_ros.schema import HAND_TYPES


def hand_type_of(layout: ActionLayout, where: str = "action.hands") -> str:
    """The hand type whose configured joints (per side, in order) are the layout's hand joints."""
    found = set()
    for side, names in layout.hand_joints.items():
        matches = []
        for hand in HAND_TYPES:
            try:
                joints = load_hand_config(hand, side).joints
            except HandConfigError:
                continue
            if tuple(joints) == tuple(names):
                matches.append(hand)
        if not matches:
            raise ValueError(f"{where}.{side}: the joint names match no hand config of {', '.join(HAND_TYPES)}")
        found.add(matches[0])
    if len(found) != 1:
        raise ValueError(f"{where}: the sides name different hands {sorted(found)}")
    return found.pop()


def policy_hand_type(manifest: str = "") -> str:
    """Hand type of the policy at ``manifest`` ('' = the reference policy, whose layout is the default)."""
    if not manifest:
        return hand_type_of(ActionLayout(), "reference policy action.hands")
    from egoscale_ros.policy.manifest import load_manifest

    loaded = load_manifest(manifest, check_models=False)
    return hand_type_of(loaded.action.layout, f"{loaded.path}: action.hands")
