"""Print one line per test leg from the JUnit XML files that `make test` leaves in a folder.

Usage: python summarize.py RESULTS_DIR. A leg that was skipped as a whole (its interpreter is
absent) leaves a ``<leg>.skipped`` file with the reason instead of XML.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

LEGS = ("main", "jazzy", "core310")


def counts(xml_path: Path) -> dict[str, int]:
    root = ET.parse(xml_path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in total:
            total[key] += int(suite.get(key, 0))
    total["passed"] = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    return total


def main(folder: str) -> int:
    results = Path(folder)
    print("test legs:")
    for leg in LEGS:
        xml_path, skipped = results / f"{leg}.xml", results / f"{leg}.skipped"
        if xml_path.is_file():
            c = counts(xml_path)
            print(f"  {leg:8s} {c['passed']} passed, {c['failures']} failed, {c['errors']} errors, "
                  f"{c['skipped']} skipped")
        elif skipped.is_file():
            print(f"  {leg:8s} not run: {skipped.read_text().strip()}")
        else:
            print(f"  {leg:8s} no result (the leg did not finish)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/test-results"))
