"""Render the dashboards of deploy/grafana/dashboards from a running Prometheus, without Grafana.

Every panel's queries are run as range queries against Prometheus (``make up MONITORING=1``
starts one); the results are drawn as inline SVG in one HTML page per dashboard and, when a
headless Chromium is installed (Debian's ``chromium``), photographed to PNG. For screenshots in
the docs and for a quick look where Grafana is not available.

    .venv/bin/python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 --minutes 30 --out /tmp/dashboards
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WIDTH = 1600
ROW_PX = 34
BAR_PX = 18  # one bar of a bar gauge: 12 px track, 3 px margin above and below
COLOURS = ["#3274d9", "#e0752d", "#37872d", "#c4162a", "#8f3bb8", "#fade2a", "#1f78c1", "#96d98d", "#ff7383"]
GRAFANA_VARS = {"$__rate_interval": "2m", "$__interval": "1m", "$__range": "1h"}

Series = tuple[str, list[tuple[float, float]]]


def query_range(base: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"--prometheus must be an http(s) URL, not {base!r}")
    with urllib.request.urlopen(f"{base}/api/v1/query_range?{params}", timeout=30) as resp:  # noqa: S310 (checked above)
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    return list(body["data"]["result"])


def legend(fmt: str, labels: dict[str, str]) -> str:
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt or "")
    return text.strip() or ", ".join(f"{k}={v}" for k, v in labels.items() if k != "__name__") or "value"


def fmt_value(value: float, unit: str) -> str:
    if math.isnan(value) or math.isinf(value):
        return "–"
    if unit == "percentunit":
        return f"{value * 100:.1f}%"
    if unit == "bytes":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(value) < 1024:
                return f"{value:.0f} {suffix}"
            value /= 1024
        return f"{value:.1f} TiB"
    if unit == "s":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.1f} s"
    if unit == "dateTimeAsIso":
        return time.strftime("%H:%M:%S", time.gmtime(value))
    suffix = {"ops": "/s", "reqps": " req/s"}.get(unit, "")
    return (f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}") + suffix


def svg_timeseries(series: list[Series], w: int, h: int, unit: str, start: float, end: float) -> str:
    pad_l, pad_r, pad_t, pad_b = 70, 10, 8, 22
    values = [v for _, pts in series for _, v in pts if math.isfinite(v)]
    if not values:
        return f'<svg width="{w}" height="{h}"><text x="{w // 2}" y="{h // 2}" class="empty">no data</text></svg>'
    lo, hi = min(0.0, min(values)), max(values)
    hi = hi if hi > lo else lo + 1
    pw, ph = w - pad_l - pad_r, h - pad_t - pad_b

    def xy(t: float, v: float) -> str:
        return f"{pad_l + (t - start) / (end - start) * pw:.1f},{pad_t + (1 - (v - lo) / (hi - lo)) * ph:.1f}"

    parts = [f'<svg width="{w}" height="{h}">']
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = pad_t + (1 - i / 4) * ph
        parts.append(f'<line x1="{pad_l}" x2="{w - pad_r}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{pad_l - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{fmt_value(v, unit)}</text>'
        )
    for i in range(5):
        t = start + (end - start) * i / 4
        x = pad_l + pw * i / 4
        label = time.strftime("%H:%M", time.gmtime(t))
        anchor = ("start", "middle", "middle", "middle", "end")[i]
        parts.append(f'<text x="{x:.1f}" y="{h - 6}" class="axis" text-anchor="{anchor}">{label} UTC</text>')
    for i, (_, pts) in enumerate(series):
        finite = [(t, v) for t, v in pts if math.isfinite(v)]
        if finite:
            points = " ".join(xy(t, v) for t, v in finite)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="1.6"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def share(value: float, top: float) -> float:
    return abs(value) / top * 100 if math.isfinite(value) else 0.0


def panel_html(panel: dict[str, Any], results: list[Series], unit: str, start: float, end: float) -> str:
    grid = panel["gridPos"]
    w = grid["w"] * WIDTH // 24 - 12
    h = grid["h"] * ROW_PX - 12
    title = html.escape(panel.get("title", ""))
    style = f"left:{grid['x'] * WIDTH // 24}px;top:{grid['y'] * ROW_PX}px;width:{w}px;height:{h}px"
    kind = panel["type"]
    if kind == "row":
        return f'<div class="row" style="{style}">{title}</div>'
    if kind == "text":
        body = html.escape(panel.get("options", {}).get("content", ""))
        return f'<div class="panel" style="{style}"><h3>{title}</h3><p>{body}</p></div>'
    if kind == "timeseries":
        chart = svg_timeseries(results, w - 16, max(60, h - 40 - 16 * min(len(results), 4)), unit, start, end)
        items = "".join(
            f'<span><i style="background:{COLOURS[i % len(COLOURS)]}"></i>{html.escape(name)} '
            f"<b>{fmt_value(pts[-1][1], unit) if pts else '–'}</b></span>"
            for i, (name, pts) in enumerate(results[:12])
        )
        return f'<div class="panel" style="{style}"><h3>{title}</h3>{chart}<div class="legend">{items}</div></div>'
    rows = [(name, pts[-1][1]) for name, pts in results if pts]
    top = max([abs(v) for _, v in rows if math.isfinite(v)] + [1e-9])
    fits = max(1, (h - 24) // BAR_PX)  # as many bars as the panel's height holds; the rest counted
    shown = rows if len(rows) <= fits else rows[: fits - 1]
    bars = "".join(
        f'<div class="bar"><span class="name">{html.escape(name)}</span><span class="track">'
        f'<span class="fill" style="width:{share(v, top):.0f}%"></span></span><b>{fmt_value(v, unit)}</b></div>'
        for name, v in shown
    )
    if len(shown) < len(rows):
        bars += f'<div class="empty">… {len(rows) - len(shown)} more</div>'
    bars = bars or '<div class="empty">no data</div>'
    return f'<div class="panel" style="{style}"><h3>{title}</h3>{bars}</div>'


CSS = " ".join(
    [
        "body{margin:0;background:#111217;color:#ccccdc;font:13px system-ui,sans-serif}",
        "header{padding:10px 16px;font-size:18px;color:#fff}",
        "header small{color:#8e8e9c;font-size:12px;margin-left:12px}",
        "main{position:relative;margin:0 8px}",
        ".panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:3px;",
        "padding:6px 8px;overflow:hidden}",
        ".panel h3{margin:0 0 4px;font-size:13px;color:#d8d9da;font-weight:500}",
        ".row{position:absolute;font-size:15px;color:#fff;padding-top:8px}",
        ".grid{stroke:#2c3235} .axis{fill:#8e8e9c;font-size:10px} .empty{fill:#8e8e9c;color:#8e8e9c}",
        ".legend span{display:inline-block;margin-right:12px;font-size:11px}",
        ".legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}",
        ".bar{display:flex;align-items:center;gap:8px;margin:3px 0;font-size:12px}",
        ".bar .name{width:38%;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}",
        ".bar .track{flex:1;background:#22252b;height:12px}",
        ".bar .fill{display:block;height:12px;background:#37872d} .bar b{width:90px;text-align:right}",
    ]
)


def render(board: dict[str, Any], base: str, minutes: int) -> tuple[str, int]:
    end = time.time()
    start = end - minutes * 60
    step = max(5.0, minutes * 60 / 240)
    blocks = []
    bottom = 0
    for panel in board["panels"]:
        results: list[Series] = []
        for target in panel.get("targets", []):
            for item in query_range(base, target["expr"], start, end, step):
                pts = [(float(t), float(v)) for t, v in item["values"]]
                results.append((legend(target.get("legendFormat", ""), item["metric"]), pts))
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        blocks.append(panel_html(panel, results, unit, start, end))
        grid = panel["gridPos"]
        bottom = max(bottom, (grid["y"] + grid["h"]) * ROW_PX)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
    page = (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(board['title'])}</title><style>{CSS}</style>"
        f"<header>{html.escape(board['title'])}<small>last {minutes} min, {stamp}, from {html.escape(base)}</small>"
        f"</header><main style='height:{bottom}px'>{''.join(blocks)}</main>"
    )
    return page, bottom + 60


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("dashboards-rendered"))
    parser.add_argument("dashboards", nargs="*", help="names (pipeline, services, ...); default every dashboard")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    paths = sorted((HERE / "dashboards").glob("*.json"))
    for path in paths:
        if args.dashboards and path.stem not in args.dashboards:
            continue
        page, height = render(json.loads(path.read_text(encoding="utf-8")), args.prometheus.rstrip("/"), args.minutes)
        target = args.out / f"{path.stem}.html"
        target.write_text(page, encoding="utf-8")
        if chromium:
            png = args.out / f"{path.stem}.png"
            subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                 f"--window-size={WIDTH + 16},{height}", f"--screenshot={png.resolve()}", target.resolve().as_uri()],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
            print(f"render: {png}")
        else:
            print(f"render: {target} (no chromium for a PNG)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
