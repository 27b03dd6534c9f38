"""The package's reference policy described the way a GR00T checkpoint or an openpi server would.

Used by the mock servers, the demo and the tests: :func:`gr00t_checkpoint_files` writes the
metadata a fine-tuned GR00T checkpoint carries (``processor_config.json``, ``statistics.json``,
``embodiment_id.json``) for a robot, with the reference policy's keys:

- video ``ego_view`` (the robot's first camera);
- state ``left_wrist_eef`` / ``right_wrist_eef`` (xyz + rot6d, 9), ``left_arm`` / ``right_arm``
  and ``left_hand`` / ``right_hand`` (the robot's joints);
- action ``left_wrist_eef`` / ``right_wrist_eef`` (EEF, RELATIVE to the state of the same name,
  XYZ_ROT6D) and ``left_hand`` / ``right_hand`` (NON_EEF, ABSOLUTE, the 22 Sharpa Wave joints).

:func:`openpi_spec` is the same policy behind an openpi server: one ``observation/image``, one
concatenated ``observation/state``, ``prompt``, and one ``actions`` array.
"""

from __future__ import annotations

import math

import numpy as np

from egoscale_ros.policy.layout import SIDES, sharpa_joint_names
from egoscale_ros.remote.normalisation import KeyStats
from egoscale_ros.remote.spec import ActionEntry, RemoteSpec, StateEntry

EMBODIMENT_TAG = "new_embodiment"
EMBODIMENT_ID = 10
LANGUAGE_KEY = "annotation.human.task_description"
VIDEO_KEY = "ego_view"
HORIZON = 30
WRIST_DIM = 9


def _sides(config) -> list[str]:
    return [s for s in SIDES if s in config.arms and s in config.hands]


def _stats(lo: np.ndarray, hi: np.ndarray) -> KeyStats:
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    span = hi - lo
    return KeyStats(min=lo, max=hi, mean=(lo + hi) / 2, std=span / 4, q01=lo + 0.01 * span, q99=hi - 0.01 * span)


def _joint_stats(config, joints) -> KeyStats:
    lo, hi = [], []
    for j in joints:
        info = config.joint_info(j)
        lo.append(info.lower if math.isfinite(info.lower) else -math.pi)
        hi.append(info.upper if math.isfinite(info.upper) else math.pi)
    return _stats(np.array(lo), np.array(hi))


def _wrist_stats() -> KeyStats:
    return _stats(np.array([-1.0] * WRIST_DIM), np.array([1.0] * WRIST_DIM))


def _hand_stats() -> KeyStats:
    return _stats(np.full(22, -0.6), np.full(22, 2.0))


def key_stats(config) -> dict[str, dict[str, KeyStats]]:
    """Per modality, per key statistics of the reference embodiment (plausible ranges: URDF limits
    for joints, the unit box for wrist vectors, Sharpa Wave's span for hand actions)."""
    state, action = {}, {}
    for side in _sides(config):
        state[f"{side}_wrist_eef"] = _wrist_stats()
    for side in _sides(config):
        state[f"{side}_arm"] = _joint_stats(config, config.arms[side].joints)
    for side in _sides(config):
        state[f"{side}_hand"] = _joint_stats(config, config.hands[side].joints)
    for side in _sides(config):
        action[f"{side}_wrist_eef"] = _wrist_stats()
        action[f"{side}_hand"] = _hand_stats()
    return {"state": state, "action": action}


def gr00t_modality_configs(config, horizon: int = HORIZON) -> dict:
    """The ``modality_configs`` entry of one embodiment (what ``get_modality_config`` returns)."""
    stats = key_stats(config)
    actions = list(stats["action"])
    configs = []
    for key in actions:
        if key.endswith("_wrist_eef"):
            configs.append({"rep": "RELATIVE", "type": "EEF", "format": "XYZ_ROT6D", "state_key": key})
        else:
            configs.append({"rep": "ABSOLUTE", "type": "NON_EEF", "format": "DEFAULT", "state_key": None})
    return {
        "video": {"delta_indices": [0], "modality_keys": [VIDEO_KEY]},
        "state": {"delta_indices": [0], "modality_keys": list(stats["state"])},
        "action": {"delta_indices": list(range(horizon)), "modality_keys": actions, "action_configs": configs},
        "language": {"delta_indices": [0], "modality_keys": [LANGUAGE_KEY]},
    }


def gr00t_checkpoint_files(config, horizon: int = HORIZON) -> dict[str, dict]:
    """File name -> JSON content of a GR00T checkpoint's metadata for the reference policy."""
    stats = key_stats(config)
    return {
        "processor_config.json": {
            "processor_class": "Gr00tN1d6Processor",
            "processor_kwargs": {
                "modality_configs": {EMBODIMENT_TAG: gr00t_modality_configs(config, horizon)},
                "use_percentiles": False, "use_relative_action": True, "max_action_horizon": horizon,
                "image_target_size": [224, 224],
            },
        },
        "statistics.json": {EMBODIMENT_TAG: {m: {k: s.to_dict() for k, s in keys.items()}
                                             for m, keys in stats.items()}},
        "embodiment_id.json": {EMBODIMENT_TAG: EMBODIMENT_ID},
    }


def openpi_spec(config, horizon: int = HORIZON, dt: float = 1.0 / 30.0, execute_steps: int = 12) -> RemoteSpec:
    """The reference policy behind an openpi server (flat keys, one concatenated state and action)."""
    sides = _sides(config)
    state = [StateEntry("observation/state", wrist=s, format="xyz+rot6d") for s in sides]
    state += [StateEntry("observation/state", joints=tuple(config.arms[s].joints)) for s in sides]
    state += [StateEntry("observation/state", joints=tuple(config.hands[s].joints)) for s in sides]
    action = []
    for s in sides:
        action.append(ActionEntry("actions", wrist=s, format="xyz+rot6d", rep="absolute"))
        action.append(ActionEntry("actions", hand=s, joints=tuple(sharpa_joint_names(s))))
    camera = config.cameras[0].name if config.cameras else "head"
    return RemoteSpec(protocol="openpi", video={"observation/image": camera}, state=tuple(state),
                      action=tuple(action), language="prompt", horizon=horizon, dt=dt, execute_steps=execute_steps,
                      embodiment_tag=config.embodiment)
