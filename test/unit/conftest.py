"""Fixtures shared by the unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> Path:
    """The reference policy for the G1, briefly trained, shared by the policy tests of a session."""
    from egoscale_ros.policy.export import ensure_default_policy

    cache = tmp_path_factory.getbasetemp() / "policy_cache"
    return ensure_default_policy(robot="g1_dex3", cache_dir=cache, train_steps=20, progress=False)
