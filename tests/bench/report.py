"""The one table: printed, written as JSON, drawn as a PNG (each path's measurement against its goal)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.bench.common import Row, fmt

COLUMNS = ("path", "measured", "baseline (same run)", "ratio", "goal", "verdict")


def ratio_text(ratio: float) -> str:
    """Two significant digits for small ratios (0.0024), two decimals otherwise (0.47, 16.11)."""
    return f"{ratio:.2g}" if 0 < abs(ratio) < 0.1 else f"{ratio:.2f}"


def table_lines(rows: list[Row]) -> list[str]:
    cells = [
        (
            r.path,
            f"{fmt(r.value)} {r.unit}",
            f"{fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "-",
            f"{ratio_text(r.ratio)}x" if r.ratio is not None else "-",
            r.goal_text(),
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(len(COLUMNS))]
    line = " | ".join(f"{{:{w}}}" for w in widths)
    out = [line.format(*COLUMNS), "-+-".join("-" * w for w in widths)]
    section = None
    for r, c in zip(rows, cells, strict=True):
        if r.section != section:
            section = r.section
            out.append(f"[{section}]")
        out.append(line.format(*c))
    return out


def markdown(rows: list[Row]) -> str:
    """The table as Markdown (docs/benchmarks.md keeps one of these per recorded run)."""
    out = ["| path | measured | baseline (same run) | ratio | goal | verdict | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        base = f"{fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else "—"
        ratio = f"{ratio_text(r.ratio)}×" if r.ratio is not None else "—"
        verdict = f"**{r.verdict}**" if r.verdict == "NOT met" else r.verdict
        out.append(
            f"| {r.path} | {fmt(r.value)} {r.unit} | {base} | {ratio} | {r.goal_text()} | {verdict} | {r.note} |"
        )
    return "\n".join(out) + "\n"


def achieved(r: Row) -> float | None:
    """How much of its goal a row reaches (1 = exactly the goal, above 1 better), or None without a goal."""
    if r.value is None or r.value != r.value:
        return None
    if r.goal_ratio is not None and r.ratio is not None:
        return r.ratio / r.goal_ratio
    if r.goal is None:
        return None
    if r.higher:
        return r.value / r.goal if r.goal else None
    if r.value <= 0:
        return 100.0 if r.goal >= 0 else None
    return (r.goal / r.value) if r.goal > 0 else (0.01 if r.value > r.goal else 100.0)


def chart(rows: list[Row], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged = [(r, a) for r in rows if (a := achieved(r)) is not None]
    if not judged:
        return
    height = max(3.0, 0.32 * len(judged) + 1.2)
    fig, ax = plt.subplots(figsize=(11, height))
    labels = [r.path for r, _ in judged]
    values = [min(max(a, 0.001), 1000.0) for _, a in judged]
    colours = ["#2e7d32" if r.verdict == "met" else "#c62828" for r, _ in judged]
    y = list(range(len(judged)))[::-1]
    ax.barh(y, values, color=colours)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("share of the goal reached (log scale; 1 = goal, right of the line = met)")
    for yi, (r, a) in zip(y, judged, strict=True):
        ax.text(
            min(max(a, 0.001), 1000.0) * 1.08,
            yi,
            f"{fmt(r.value)} {r.unit} (goal {r.goal_text()})",
            va="center",
            fontsize=7,
        )
    ax.set_xlim(0.001, 5000)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(rows: list[Row], meta: dict[str, Any], folder: Path, latest: Path, title: str) -> dict[str, Path]:
    """``folder/bench.json`` and ``folder/bench.png``, copied to ``latest/latest.{json,png}``."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = {**meta, "rows": [r.as_dict() for r in rows], "markdown": markdown(rows)}
    json_path = folder / "bench.json"
    json_path.write_text(json.dumps(doc, indent=2, default=str))
    png_path = folder / "bench.png"
    out = {"json": json_path}
    try:
        chart(rows, png_path, title)
        out["png"] = png_path
    except ImportError:
        print("bench: matplotlib is not installed (pip install -e '.[dev]'): no chart", flush=True)
    shutil.copyfile(json_path, latest / "latest.json")
    if "png" in out:
        shutil.copyfile(png_path, latest / "latest.png")
    return out
