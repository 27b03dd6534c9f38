"""Specification of where the package finds its data and keeps its generated files."""

from __future__ import annotations

from pathlib import Path

from egoscale_ros import resources


def test_one_cache_folder_for_every_generated_file(monkeypatch, tmp_path):
    monkeypatch.delenv("EGOSCALE_ROS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resources.cache_dir("tensorrt") == tmp_path / "xdg" / "egoscale_ros" / "tensorrt"
    monkeypatch.setenv("EGOSCALE_ROS_CACHE", str(tmp_path / "mine"))
    assert resources.cache_dir("casadi") == tmp_path / "mine" / "casadi"
    assert resources.cache_dir() == tmp_path / "mine"


def test_the_share_override_comes_before_the_checkout(monkeypatch, tmp_path):
    resources.share_dir.cache_clear()
    try:
        monkeypatch.setenv("EGOSCALE_ROS_SHARE", str(tmp_path))
        assert resources.share_dir() == tmp_path
        monkeypatch.delenv("EGOSCALE_ROS_SHARE")
        resources.share_dir.cache_clear()
        assert (resources.share_dir() / "config" / "robots").is_dir()
        assert resources.share_dir() == Path(resources.__file__).resolve().parent.parent
    finally:
        resources.share_dir.cache_clear()
