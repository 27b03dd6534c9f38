"""The README's report pictures are files of the repository, drawn by ``egoscale-ros report``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What report.make_report writes (test/integration/test_recording.py checks it writes them all).
REPORT_PLOTS = {"chunk_fan.png", "latency.png", "tracking_arms.png", "tracking_hands.png", "rates.png",
                "safety.png", "cpu.png"}


def test_every_picture_the_readme_shows_is_committed_and_is_a_report_plot():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    report_images = [i for i in images if i.startswith("docs/report/")]
    assert report_images, "the README shows no report picture"
    for image in report_images:
        path = ROOT / image
        assert path.is_file(), f"README shows {image}, which is not in the repository"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{image} is not a PNG"
        assert path.name in REPORT_PLOTS, f"{image} is not one of the report's plots {sorted(REPORT_PLOTS)}"

