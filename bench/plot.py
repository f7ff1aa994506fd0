#!/usr/bin/env python3
"""plot.py — the latency-vs-offered-load plot of a bench/compare.sh folder, as a hand-written
SVG (python3 standard library only): p50 (dashed) and p99 (solid) delivery latency, log
scale, against the offered load (log scale), for Kindred, the Node ws+ioredis peer, Socket.IO
and the echo ceiling. Points come from <system>-<load>.json (open loop only).
Usage: bench/plot.py RESULTS_DIR [--svg FILE]   (default FILE: RESULTS_DIR/latency-vs-load.svg)
"""
import json
import math
import os
import re
import sys
from xml.sax.saxutils import escape

SERIES = [
    ("kindred", "Kindred", "#1b6ac9"),
    ("ws", "Node ws + ioredis", "#d9731a"),
    ("socketio", "Socket.IO", "#2e9e44"),
    ("echo", "echo ceiling (no Redis)", "#7a7a7a"),
]
W, H = 860, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 230, 50, 70


def points(folder, prefix):
    out = []
    for name in os.listdir(folder):
        m = re.fullmatch(re.escape(prefix) + r"-(\d+)\.json", name)
        if not m:
            continue
        try:
            with open(os.path.join(folder, name)) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        r = doc.get("results", doc)
        lat = r.get("latency") or {}
        p50, p99 = lat.get("p50_ms"), lat.get("p99_ms")
        if p50 and p99 and p50 > 0 and p99 > 0:
            out.append((int(m.group(1)), p50, p99))
    return sorted(out)


def decades(lo, hi):
    """Powers of ten covering [lo, hi], with 2 and 5 between them."""
    ticks = []
    e = math.floor(math.log10(lo))
    while 10**e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10**e
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    return ticks


def label(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args else 2
    folder = args[0]
    svg_path = os.path.join(folder, "latency-vs-load.svg")
    if len(args) == 3 and args[1] == "--svg":
        svg_path = args[2]
    elif len(args) != 1:
        print("usage: plot.py RESULTS_DIR [--svg FILE]", file=sys.stderr)
        return 2

    data = [(label_, colour, points(folder, prefix)) for prefix, label_, colour in SERIES]
    every = [p for _, _, pts in data for p in pts]
    if not every:
        print(f"plot.py: no open-loop results in {folder}", file=sys.stderr)
        return 1
    x_lo = 10 ** math.floor(math.log10(min(p[0] for p in every)))
    x_hi = 10 ** math.ceil(math.log10(max(p[0] for p in every)))
    y_lo = 10 ** math.floor(math.log10(min(min(p[1], p[2]) for p in every)))
    y_hi = 10 ** math.ceil(math.log10(max(max(p[1], p[2]) for p in every)))
    if y_hi <= y_lo:
        y_hi = y_lo * 10
    if x_hi <= x_lo:
        x_hi = x_lo * 10
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(v):
        return LEFT + pw * (math.log10(v) - math.log10(x_lo)) / (math.log10(x_hi) - math.log10(x_lo))

    def y(v):
        return TOP + ph * (1 - (math.log10(v) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    s = []
    s.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">')
    s.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    title = f"Delivery latency vs offered load ({os.path.basename(os.path.abspath(folder))})"
    s.append(f'<text x="{LEFT}" y="28" font-size="15" font-weight="bold">{escape(title)}</text>')
    for t in decades(x_lo, x_hi):
        s.append(f'<line x1="{x(t):.1f}" y1="{TOP}" x2="{x(t):.1f}" y2="{TOP + ph}" '
                 f'stroke="#e4e4e4"/>')
        s.append(f'<text x="{x(t):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{label(t)}</text>')
    for t in decades(y_lo, y_hi):
        s.append(f'<line x1="{LEFT}" y1="{y(t):.1f}" x2="{LEFT + pw}" y2="{y(t):.1f}" '
                 f'stroke="#e4e4e4"/>')
        s.append(f'<text x="{LEFT - 8}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    s.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    s.append(f'<text x="{LEFT + pw / 2:.1f}" y="{H - 22}" text-anchor="middle">'
             f'offered load, messages/s (log scale)</text>')
    s.append(f'<text transform="translate(22 {TOP + ph / 2:.1f}) rotate(-90)" '
             f'text-anchor="middle">latency, ms (log scale)</text>')

    # The goal of issue #7: p99 ≤ 10 ms at half the Redis ceiling (compare.sh records that load).
    if y_lo <= 10 <= y_hi:
        s.append(f'<line x1="{LEFT}" y1="{y(10):.1f}" x2="{LEFT + pw}" y2="{y(10):.1f}" '
                 f'stroke="#c62828" stroke-dasharray="2 3"/>')
        s.append(f'<text x="{LEFT + 6}" y="{y(10) - 5:.1f}" fill="#c62828">p99 goal 10 ms</text>')
    try:
        with open(os.path.join(folder, "half-ceiling-load")) as f:
            half = int(f.read().strip())
    except (OSError, ValueError):
        half = None
    if half and x_lo <= half <= x_hi:
        s.append(f'<line x1="{x(half):.1f}" y1="{TOP}" x2="{x(half):.1f}" y2="{TOP + ph}" '
                 f'stroke="#c62828" stroke-dasharray="2 3"/>')
        s.append(f'<text x="{x(half) + 4:.1f}" y="{TOP + 14}" fill="#c62828">½ Redis ceiling '
                 f'({label(half)})</text>')

    legend_y = TOP + 10
    for name, colour, pts in data:
        if not pts:
            continue
        for idx, dash in ((2, ""), (1, ' stroke-dasharray="6 4"')):
            path = " ".join(f"{'M' if i == 0 else 'L'}{x(p[0]):.1f},{y(p[idx]):.1f}"
                            for i, p in enumerate(pts))
            s.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for p in pts:
                s.append(f'<circle cx="{x(p[0]):.1f}" cy="{y(p[idx]):.1f}" r="3" '
                         f'fill="{colour}"><title>{escape(name)} {"p99" if idx == 2 else "p50"} '
                         f'{p[idx]:g} ms at {p[0]} msgs/s</title></circle>')
        lx = LEFT + pw + 16
        s.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 24}" y2="{legend_y}" '
                 f'stroke="{colour}" stroke-width="2"/>')
        s.append(f'<text x="{lx + 30}" y="{legend_y + 4}">{escape(name)} p99</text>')
        legend_y += 18
        s.append(f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 24}" y2="{legend_y}" '
                 f'stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/>')
        s.append(f'<text x="{lx + 30}" y="{legend_y + 4}">{escape(name)} p50</text>')
        legend_y += 26
    s.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(svg_path)), exist_ok=True)
    with open(svg_path, "w") as f:
        f.write("\n".join(s) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
