"""Test-leg awareness: what a leg of the test matrix lacks on purpose skips with that reason.

`make test` runs three legs (see the README's matrix). The main leg has everything, so nothing
here applies to it: a missing module there is an error, as it should be. The other legs set
``EGOSCALE_TEST_LEG`` and lack some packages by design (the Jazzy leg has no PyTorch wheel for
Python 3.12 here; the Humble-like core leg has no ROS 2 wheels at all). A test module, fixture or
test that imports such a package skips with the reason instead of erroring, so each leg's counts
say exactly what it could not cover. Any other missing module still fails.
"""

from __future__ import annotations

import os

import pytest

_NO_TORCH = "PyTorch is not installed in this leg (no CPU build for its Python here); the deployment path never imports it"
_NO_ROS = "no ROS 2 wheels exist for this leg's distribution; it covers the ROS-free core only"

# Top-level package name -> reason, for each leg that lacks it by design.
ABSENT_BY_LEG: dict[str, dict[str, str]] = {
    "jazzy": {
        "torch": _NO_TORCH,
        "dex_retargeting": "the retargeting benchmark's peer imports PyTorch on import (absent in this leg)",
    },
    "core310": {
        "torch": _NO_TORCH,
        "onnxscript": "used only by the ONNX export, which needs PyTorch (absent in this leg)",
        "rclpy": _NO_ROS,
        "rosidl_runtime_py": _NO_ROS,
        "std_msgs": _NO_ROS,
        "std_srvs": _NO_ROS,
        "sensor_msgs": _NO_ROS,
        "geometry_msgs": _NO_ROS,
        "trajectory_msgs": _NO_ROS,
        "diagnostic_msgs": _NO_ROS,
        "builtin_interfaces": _NO_ROS,
        "rosgraph_msgs": _NO_ROS,
        "dex_retargeting": "the retargeting benchmark's peer, a development tool no robot runs",
    },
}

LEG = os.environ.get("EGOSCALE_TEST_LEG", "main")
ABSENT = ABSENT_BY_LEG.get(LEG, {})


def _absent_reason(error: BaseException | None) -> str | None:
    """The leg's reason when ``error`` (or an exception it was raised from) is a by-design absence."""
    while error is not None:
        if isinstance(error, ModuleNotFoundError) and error.name:
            root = error.name.split(".")[0]
            if root in ABSENT:
                return f"needs {root}: {ABSENT[root]}"
        error = error.__cause__ or error.__context__
    return None


class _LegAwareModule(pytest.Module):
    def _getobj(self):
        try:
            return super()._getobj()
        except Exception as error:  # pytest wraps the ImportError in a CollectError
            reason = _absent_reason(error)
            if reason is None:
                raise
            pytest.skip(reason, allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    if ABSENT and module_path.name.startswith("test_"):
        return _LegAwareModule.from_parent(parent, path=module_path)
    return None


def _absent_as_skip():
    """Hook-wrapper body: a by-design absence raised by a fixture or a test becomes a skip."""
    try:
        return (yield)
    except Exception as error:
        reason = _absent_reason(error)
        if reason is None:
            raise
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _absent_as_skip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _absent_as_skip())


def pytest_report_header(config):
    if ABSENT:
        return f"test leg: {LEG}; absent by design (tests needing them skip): {', '.join(sorted(ABSENT))}"
    return f"test leg: {LEG}"
