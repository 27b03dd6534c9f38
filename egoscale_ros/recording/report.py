"""``egoscale-ros report RUN.mcap --out DIR``: a recorded run as pictures and a one-page summary.

Writes into DIR:

- ``chunk_fan.png``: each chunk's predicted wrist path (thin, per axis and side) over a window of
  the run, against the executed per-tick targets and the wrist the robot reached (forward
  kinematics of the measured joint states);
- ``latency.png``: histograms of capture → chunk and chunk → first controller command;
- ``tracking_arms.png`` / ``tracking_hands.png``: per joint, command vs measured, with the region
  beyond the joint's limits shaded;
- ``rates.png``: messages per second of the graph's main topics over time;
- ``safety.png``: each node's diagnostic level, holds and e-stop over time;
- ``cpu.png``: CPU per node over time, from the nodes' diagnostics;
- ``report.json`` (every figure) and ``report.md`` (one page: tables and the pictures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from egoscale_ros.fixed_decimals import fixed
from egoscale_ros.recording import analysis as an
from egoscale_ros.recording.reader import Recording, RecordingError, open_recording

AXES = ("x", "y", "z")
MAX_PROBLEM_ROWS = 25  # of the summary page; report.json lists every one
LEVEL_COLOURS = {0: "#4caf50", 1: "#ff9800", 2: "#f44336", 3: "#9e9e9e"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recording", help="ROS 2 MCAP file (egoscale-ros demo --record, record:=)")
    parser.add_argument("--out", required=True, help="directory for the PNGs, report.json and report.md")
    parser.add_argument("--robot", default="", help="robot config (default: the one the recording names)")
    parser.add_argument("--urdf", default="", help="override the robot config's URDF")
    parser.add_argument("--fan-window", type=float, default=3.0, help="seconds of the run the chunk fan shows")


def run(args: argparse.Namespace) -> int:
    try:
        rec = open_recording(args.recording)
        report = make_report(rec, Path(args.out), robot=args.robot, urdf=args.urdf, fan_window_s=args.fan_window)
    except RecordingError as exc:
        print(f"egoscale-ros report: {exc}", file=sys.stderr)
        return 2
    print(f"report of {rec.path} ({report['duration_s']:.1f} s, {report['messages']} messages) in {args.out}:")
    for name in report["files"]:
        print(f"  {Path(args.out) / name}")
    return 0


def robot_config(rec: Recording, robot: str = "", urdf: str = ""):
    from egoscale_ros.robot.config import load_robot_config

    name = robot or rec.metadata.get("robot", "")
    if not name:
        raise RecordingError(f"{rec.path} does not name its robot: pass --robot")
    return load_robot_config(name, urdf_override=(urdf or rec.metadata.get("urdf") or None))


def make_report(rec: Recording, out: Path, robot: str = "", urdf: str = "", fan_window_s: float = 3.0) -> dict:
    """Compute the figures, draw the plots and write the summary; returns report.json's content."""
    import matplotlib

    matplotlib.use("Agg")
    from egoscale_ros.robot.limits import joint_limits

    config = robot_config(rec, robot, urdf)
    out.mkdir(parents=True, exist_ok=True)
    run = an.load_run(rec, config)
    first_controller = an.command_topic(config.controllers[0]) if config.controllers else ""
    figures = summarise(run, config, first_controller)
    files: list[str] = []
    files += _plot_chunk_fan(run, config, out, fan_window_s)
    files += _plot_latency(run, first_controller, out)
    for group, joints in (("arms", config.arm_joints), ("hands", config.hand_joints)):
        if joints:
            files += _plot_tracking(run, joints, joint_limits(config, joints), group, out)
    files += _plot_rates(run, config, out)
    files += _plot_safety(run, out)
    files += _plot_cpu(run, out)
    figures["files"] = files
    (out / "report.json").write_text(json.dumps(figures, indent=2) + "\n")
    (out / "report.md").write_text(markdown(figures))
    figures["files"] = files + ["report.json", "report.md"]
    return figures


def summarise(run: an.RunData, config, controller_topic: str) -> dict[str, Any]:
    from egoscale_ros.robot.limits import joint_limits

    rec = run.recording
    tracking = {}
    for group, joints in (("arms", config.arm_joints), ("hands", config.hand_joints)):
        if joints:
            lim = joint_limits(config, joints)
            tracking[group] = an.tracking(run, list(joints), lim.lower, lim.upper)
    return {
        "recording": str(rec.path),
        "robot": config.name,
        "duration_s": round(rec.duration_s, 2),
        "messages": int(sum(rec.counts.values())),
        "bytes": rec.path.stat().st_size,
        "message_counts": dict(sorted(rec.counts.items())),
        "rates_hz": {name: an.rate_hz(run, name) for name in run.log_times},
        "latency_ms": {
            "capture_to_chunk": an.percentiles(an.capture_to_chunk_ms(run)),
            "chunk_to_command": an.percentiles(an.chunk_to_command_ms(run, controller_topic)),
            "chunk_to_command_topic": controller_topic,
        },
        "tracking": tracking,
        "tracking_source": run.tracking_source,
        "safety": an.safety_events(run),
        "problems": an.problems(run),
        "cpu_percent_by_node": an.cpu_by_node(run),
    }


# --- plots -------------------------------------------------------------------------------------

def _t(run: an.RunData, t_ns) -> np.ndarray:
    return (np.asarray(t_ns, np.int64) - run.recording.start_ns) * 1e-9


def _save(fig, out: Path, name: str) -> list[str]:
    fig.savefig(out / name, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return [name]


def _finish_over_time(fig, ax, ylabel: str, title: str, out: Path, name: str) -> list[str]:
    """Label, legend and save a plot of one series per topic or node over the run's time."""
    ax.set_xlabel("time since recording start [s]")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=3)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out, name)


def _plot_chunk_fan(run: an.RunData, config, out: Path, window_s: float) -> list[str]:
    import matplotlib.pyplot as plt

    chunks = run.chunks
    sides = list(chunks.positions)
    if not sides or chunks.stamp_ns.size == 0:
        return []
    stamps = _t(run, chunks.stamp_ns)
    mid = 0.5 * (stamps[0] + stamps[-1])
    lo, hi = mid - window_s / 2, mid + window_s / 2
    fig, axes = plt.subplots(3, len(sides), figsize=(6 * len(sides), 8), sharex=True, squeeze=False)
    measured = _measured_wrists(run, config, sides, lo, hi + 1.0)
    cmap = plt.get_cmap("viridis")
    for c, side in enumerate(sides):
        for i, t0 in enumerate(stamps):
            if not lo <= t0 <= hi:
                continue
            colour = cmap((t0 - lo) / max(hi - lo, 1e-9))
            for a in range(3):
                axes[a][c].plot(t0 + chunks.offsets_s[i], chunks.positions[side][i][:, a], color=colour,
                                lw=0.8, alpha=0.6)
        times, xyz = run.wrist_targets.get(side, (np.zeros(0), np.zeros((0, 3))))
        t = _t(run, times)
        sel = (t >= lo) & (t <= hi + 1.0)
        for a in range(3):
            ax = axes[a][c]
            ax.plot(t[sel], xyz[sel, a], color="black", lw=2.0, label="executed (per-tick targets)")
            if side in measured:
                ax.plot(measured[side][0], measured[side][1][:, a], color="#d62728", lw=1.5, ls="--",
                        label="reached (FK of joint states)")
            ax.set_ylabel(f"{side} wrist {AXES[a]} [m]")
            ax.grid(alpha=0.3)
        axes[0][c].set_title(f"{side} wrist: predicted chunks (thin, by time) vs executed", fontsize=10)
        axes[2][c].set_xlabel("time since recording start [s]")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _save(fig, out, "chunk_fan.png")


def _measured_wrists(run: an.RunData, config, sides: list[str], lo: float, hi: float) -> dict:
    from egoscale_ros.robot.kinematics import RobotKinematics

    js = run.joint_states
    if js.t_ns.size == 0:
        return {}
    t = _t(run, js.t_ns)
    rows = np.nonzero((t >= lo) & (t <= hi))[0]
    rows = rows[::max(1, int(len(rows) / (50.0 * max(hi - lo, 1e-3))))]  # about 50 Hz is plenty for a plot
    kin = RobotKinematics(config)
    out = {}
    for side in sides:
        if side not in config.arms:
            continue
        xyz = []
        for r in rows:
            positions = {n: v for n, v in zip(js.names, js.values[r]) if np.isfinite(v)}
            xyz.append(kin.wrist_pose(side, positions)[:3, 3])
        out[side] = (t[rows], np.array(xyz).reshape(-1, 3))
    return out


def _plot_latency(run: an.RunData, controller_topic: str, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, values, title in (
        (axes[0], an.capture_to_chunk_ms(run), "capture → chunk (chunk arrival − observation stamp)"),
        (axes[1], an.chunk_to_command_ms(run, controller_topic), f"chunk → first command on {controller_topic}"),
    ):
        values = values[np.isfinite(values)]
        if values.size:
            ax.hist(values, bins=40, color="#1f77b4", alpha=0.8)
            for p, style in ((50, "-"), (99, "--")):
                v = float(np.percentile(values, p))
                ax.axvline(v, color="black", ls=style, lw=1, label=f"p{p} {v:.1f} ms")
            ax.legend()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("ms")
        ax.set_ylabel("count")
    fig.tight_layout()
    return _save(fig, out, "latency.png")


def _plot_tracking(run: an.RunData, joints: list[str], limits, group: str, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    js = run.measured if run.measured is not None else run.joint_states
    ncols = 4
    nrows = int(np.ceil(len(joints) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.4 * nrows), sharex=True, squeeze=False)
    for k, name in enumerate(joints):
        ax = axes[k // ncols][k % ncols]
        lo, hi = float(limits.lower[k]), float(limits.upper[k])
        shown = []
        for series in (run.tracked_commands or run.commands).values():
            if name in series.names:
                ax.plot(_t(run, series.t_ns), series.column(name), color="#1f77b4", lw=1.0, label="command")
                shown.append(series.column(name))
        if name in js.names:
            seen = np.isfinite(js.column(name))
            ax.plot(_t(run, js.t_ns[seen]), js.column(name)[seen], color="#d62728", lw=1.0, ls="--",
                    label="measured")
            shown.append(js.column(name)[seen])
        data = np.concatenate([s[np.isfinite(s)] for s in shown]) if shown else np.zeros(0)
        if data.size:
            span = max(float(data.max() - data.min()), 0.05)
            ymin, ymax = float(data.min()) - 0.3 * span, float(data.max()) + 0.3 * span
        else:
            ymin, ymax = lo, hi
        ax.axhspan(hi, max(ymax, hi) + 10, color="#f44336", alpha=0.15, lw=0)
        ax.axhspan(min(ymin, lo) - 10, lo, color="#f44336", alpha=0.15, lw=0)
        ax.set_ylim(ymin, ymax)
        # round() + 0.0: a limit of -0.0 or -1e-9 is labelled 0.00, not -0.00
        ax.set_title(f"{name}\nlimits [{round(lo, 2) + 0.0:.2f}, {round(hi, 2) + 0.0:.2f}] rad", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for k in range(len(joints), nrows * ncols):
        axes[k // ncols][k % ncols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[:2], labels[:2], loc="lower center", ncol=3)
    source = f"{an.NATIVE} command vs feedback" if run.tracking_source.startswith(an.NATIVE) else run.tracking_source
    fig.suptitle(f"{group}: command vs measured [rad], {source} (shaded: beyond the joint's limits)")
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    return _save(fig, out, f"tracking_{group}.png")


def _plot_rates(run: an.RunData, config, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    if not run.log_times:
        return []
    fig, ax = plt.subplots(figsize=(12, 4))
    end = run.recording.duration_s
    bins = np.arange(0.0, max(end, 1.0) + 1.0, 1.0)
    for name, times in run.log_times.items():
        counts, edges = np.histogram(_t(run, times), bins=bins)
        ax.step(edges[:-1], counts, where="post", label=name)
    return _finish_over_time(fig, ax, "messages per second", "rates (1 s bins)", out, "rates.png")


def _plot_safety(run: an.RunData, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    names = sorted(run.diagnostics)
    if not names:
        return []
    rows: list[tuple[str, list[tuple[float, str]]]] = []
    for name in names:
        samples = run.diagnostics[name]
        rows.append((f"{name} level", [(t, LEVEL_COLOURS.get(s.level, "grey")) for t, s in
                                       zip(_t(run, [s.log_ns for s in samples]), samples)]))
        if "holding" in samples[-1].values:
            rows.append((f"{name} holding", [(t, "#ff9800" if s.values.get("holding", "no") != "no" else "#e0e0e0")
                                             for t, s in zip(_t(run, [s.log_ns for s in samples]), samples)]))
            rows.append((f"{name} e-stop", [(t, "#b71c1c" if s.values.get("estop") == "True" else "#e0e0e0")
                                            for t, s in zip(_t(run, [s.log_ns for s in samples]), samples)]))
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(rows) + 1.5))
    for r, (_label, points) in enumerate(rows):
        for i, (t, colour) in enumerate(points):
            width = (points[i + 1][0] - t) if i + 1 < len(points) else 1.0
            ax.broken_barh([(t, width)], (r - 0.4, 0.8), color=colour)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([label for label, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time since recording start [s]")
    ax.set_title("diagnostics: level (green OK, orange WARN, red ERROR), holds (orange) and e-stop (dark red)")
    fig.tight_layout()
    return _save(fig, out, "safety.png")


def _plot_cpu(run: an.RunData, out: Path) -> list[str]:
    import matplotlib.pyplot as plt

    series = {}
    for name, samples in run.diagnostics.items():
        points = [(s.log_ns, float(s.values["cpu_percent"])) for s in samples[1:] if "cpu_percent" in s.values]
        if points:
            series[name] = points
    if not series:
        return []
    fig, ax = plt.subplots(figsize=(12, 4))
    for name, points in sorted(series.items()):
        t, v = zip(*points)
        ax.plot(_t(run, t), v, label=name)
    return _finish_over_time(fig, ax, "CPU [% of one core]", "CPU per node (from each node's diagnostics)", out,
                             "cpu.png")


# --- summary page ------------------------------------------------------------------------------

def _num(v: Any, digits: int = 2) -> str:
    return fixed(v, digits, missing="–")


def markdown(r: dict[str, Any]) -> str:
    lines = [f"# Run report: {r['robot']}", "",
             f"Recording `{Path(r['recording']).name}`: {r['duration_s']:.2f} s, {r['messages']} messages, "
             f"{r['bytes'] / 1e6:.1f} MB.", "", "## Rates", "", "| topic | Hz |", "| --- | ---: |"]
    lines += [f"| {name} | {_num(hz)} |" for name, hz in r["rates_hz"].items()]
    lines += ["", "## Latency", "", "| path | p50 ms | p90 ms | p99 ms | n |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in (("capture_to_chunk", "capture → chunk"),
                       ("chunk_to_command", f"chunk → command ({r['latency_ms']['chunk_to_command_topic']})")):
        p = r["latency_ms"][key]
        lines.append(f"| {label} | {_num(p['p50'])} | {_num(p['p90'])} | {_num(p['p99'])} | {p['n']} |")
    lines += ["", "## Tracking", "", f"Compared: {r.get('tracking_source', 'ROS commands vs joint_states')}.", "",
              "| group | commands | RMS error rad | max error rad | beyond limits |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for group, t in r["tracking"].items():
        lines.append(f"| {group} | {t['commands']} | {_num(t['rms_error_rad'], 4)} | {_num(t['max_error_rad'], 4)} "
                     f"| {t['beyond_limits']} |")
    lines += ["", "## Safety", "", f"E-stop presses: {r['safety']['estop_presses']}.", "",
              "| node | diagnostics | holding | e-stop | hold reasons |", "| --- | ---: | ---: | ---: | --- |"]
    for node, s in r["safety"]["by_node"].items():
        lines.append(f"| {node} | {s['samples']} | {s['holding']} | {s['estop']} | {', '.join(s['reasons']) or '–'} |")
    if r.get("problems"):
        lines += ["", "## Warnings and errors (from /diagnostics)", "",
                  "| first at s | node | level | message | times |", "| ---: | --- | --- | --- | ---: |"]
        lines += [f"| {p['first_s']:.2f} | {p['node']} | {p['level']} | {p['message']} | {p['count']} |"
                  for p in r["problems"][:MAX_PROBLEM_ROWS]]
        if len(r["problems"]) > MAX_PROBLEM_ROWS:
            lines.append(f"\n{len(r['problems']) - MAX_PROBLEM_ROWS} more in report.json.")
    if r["cpu_percent_by_node"]:
        lines += ["", "## CPU (% of one core, mean)", "", "| node | CPU % |", "| --- | ---: |"]
        lines += [f"| {n} | {v:.1f} |" for n, v in sorted(r["cpu_percent_by_node"].items())]
    lines += ["", "## Messages", "", "| topic | messages |", "| --- | ---: |"]
    lines += [f"| {t} | {n} |" for t, n in r["message_counts"].items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({name})" for name in r["files"] if name.endswith(".png")]
    return "\n".join(lines) + "\n"
