"""Check a demo's JSON summary (read from stdin) the way the Jazzy leg needs: the graph ran and held.

Exit status 0 when the policy produced chunks, commands reached every controller output and no
node failed, no command was NaN and none broke a limit; otherwise print what failed and exit 1.
"""

from __future__ import annotations

import json
import sys


def problems(summary: dict) -> list[str]:
    found = []
    if not summary.get("chunk_rate_hz", 0) > 0:
        found.append(f"no chunks published (chunk_rate_hz={summary.get('chunk_rate_hz')!r})")
    for key in ("nan_count", "limit_violations"):
        if summary.get(key, None) != 0:
            found.append(f"{key}={summary.get(key)!r}, expected 0")
    failures = summary.get("node_failures", None)
    if failures:
        found.append(f"node_failures={failures!r}")
    published = summary.get("commands_published") or {}
    silent = [topic for topic, count in published.items() if not count]
    if not published or silent:
        found.append(f"controller outputs without commands: {silent or 'none reported'}")
    return found


def main() -> int:
    summary = json.load(sys.stdin)
    found = problems(summary)
    for line in found:
        print(f"demo check: {line}", file=sys.stderr)
    if not found:
        keys = ("robot", "chunk_rate_hz", "smoother_rate_hz", "nan_count", "limit_violations")
        print("demo check: ok " + json.dumps({k: summary.get(k) for k in keys}))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
