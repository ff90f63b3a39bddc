"""roofline: the benchmark's conv and dense layers on a roofline, as SVG.

Consumes bench.py's per-layer results (FLOPs, bytes moved, median µs of
the -O3 -march=native and the -O2 build) and the machine's measured limits
(FMA peak from peak.c, triad bandwidth from bandwidth.c); produces one
hand-written SVG picture (no plotting library: the benchmark's
dependencies stay numpy and torch): log-log axes, x = arithmetic intensity
(FLOP per byte moved), y = GFLOP/s, the roof min(peak, bandwidth x
intensity) for memory and for the cache, and one dot per layer, coloured by
network. A dot far below the roof above it is a layer far from its limit.
"""

import math
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 960, 640
LEFT, RIGHT, TOP, BOTTOM = 70, 250, 50, 60      # margins around the plot
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
# A network's marker says its group, its colour which one of the group.
SHAPES = {"examples": "circle", "mlperf": "square", "torchvision": "triangle"}
GROUP_NAMES = {"examples": "examples", "mlperf": "MLPerf Tiny", "torchvision": "torchvision"}


class Axes:
    """Log-log mapping of data (intensity, GFLOP/s) to SVG pixels."""

    def __init__(self, xlim, ylim):
        self.x0, self.x1 = (math.log10(v) for v in xlim)
        self.y0, self.y1 = (math.log10(v) for v in ylim)
        self.w, self.h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(self, x):
        return LEFT + (math.log10(x) - self.x0) / (self.x1 - self.x0) * self.w

    def py(self, y):
        return TOP + (self.y1 - math.log10(y)) / (self.y1 - self.y0) * self.h


def layer_points(results):
    """[(network, layer, intensity, GFLOP/s -O3, GFLOP/s -O2 or None)] of
    every timed conv/dense layer; network is (group, name)."""
    pts = []
    for r in results:
        for L in r.get("layers", []):
            if not L.get("flops") or not L.get("bytes") or not L.get("us"):
                continue
            o2 = L.get("us_O2")
            pts.append(((r.get("group", ""), r["name"]), L["name"], L["flops"] / L["bytes"],
                        L["flops"] / (L["us"] * 1e3), L["flops"] / (o2 * 1e3) if o2 else None))
    return pts


def ticks(lo, hi):
    """[(value, major)]: 1, 2 and 5 times each power of ten in [lo, hi]."""
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                out.append((v, m == 1))
    return out


def grid(ax, xlim, ylim):
    """Grid lines at 1, 2, 5 x 10^k, tick labels and axis titles."""
    out = []
    for v, major in ticks(*xlim):
        x = ax.px(v)
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="%s"/>'
                   % (x, TOP, x, HEIGHT - BOTTOM, "grid" if major else "grid2"))
        out.append('<text x="%.1f" y="%d" text-anchor="middle"%s>%g</text>'
                   % (x, HEIGHT - BOTTOM + 18, "" if major else ' class="small"', v))
    for v, major in ticks(*ylim):
        y = ax.py(v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="%s"/>'
                   % (LEFT, y, WIDTH - RIGHT, y, "grid" if major else "grid2"))
        out.append('<text x="%d" y="%.1f" text-anchor="end"%s>%g</text>'
                   % (LEFT - 6, y + 4, "" if major else ' class="small"', v))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" class="frame"/>'
               % (LEFT, TOP, ax.w, ax.h))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">arithmetic intensity '
               '(FLOP per byte of weights + input + output)</text>'
               % (LEFT + ax.w / 2, HEIGHT - 18))
    out.append('<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">'
               'GFLOP/s (one core)</text>' % (TOP + ax.h / 2))
    return out


def roof(ax, xlim, peak, gbs, label, cls):
    """The line min(peak, gbs * x) across the plot, labelled on its slope."""
    knee = peak / gbs
    xs = [xlim[0], min(max(knee, xlim[0]), xlim[1]), xlim[1]]
    pts = " ".join("%.1f,%.1f" % (ax.px(x), ax.py(min(peak, gbs * x))) for x in xs)
    out = ['<polyline points="%s" class="%s"/>' % (pts, cls)]
    lx = xlim[0] * 1.3
    if gbs * lx < peak:
        angle = -math.degrees(math.atan2(ax.py(gbs * lx) - ax.py(gbs * lx * 10),
                                         ax.px(lx * 10) - ax.px(lx)))
        out.append('<text x="%.1f" y="%.1f" transform="rotate(%.1f %.1f %.1f)" class="roofl">'
                   '%s</text>' % (ax.px(lx), ax.py(gbs * lx) - 5, angle, ax.px(lx),
                                  ax.py(gbs * lx) - 5, escape(label)))
    return out


def marker(shape, x, y, size, paint):
    """One marker centred on (x, y); paint: its fill/stroke attributes."""
    if shape == "square":
        return '<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" %s' % (
            x - size, y - size, 2 * size, 2 * size, paint)
    if shape == "triangle":
        h = size * 1.25
        return '<polygon points="%.1f,%.1f %.1f,%.1f %.1f,%.1f" %s' % (
            x, y - h, x - h, y + 0.8 * h, x + h, y + 0.8 * h, paint)
    return '<circle cx="%.1f" cy="%.1f" r="%.1f" %s' % (x, y, size, paint)


def style_of(nets):
    """{network: (shape, colour)}: the group's shape, a colour per member."""
    out, seen = {}, {}
    for group, name in nets:
        i = seen[group] = seen.get(group, -1) + 1
        out[(group, name)] = (SHAPES.get(group, "circle"), COLOURS[i % len(COLOURS)])
    return out


def dots(ax, pts, style):
    """-O3 layers as filled markers, -O2 as outlines; a tooltip names each."""
    out = []
    for net, layer, x, g3, g2 in pts:
        shape, c = style[net]
        tip = escape("%s %s: %.2f FLOP/B, -O3 native %.1f GFLOP/s%s" % (
            net[1], layer, x, g3, ", -O2 %.1f GFLOP/s" % g2 if g2 else ""))
        if g2:
            out.append(marker(shape, ax.px(x), ax.py(g2), 3,
                              'fill="none" stroke="%s"><title>%s</title></%s>'
                              % (c, tip, tag_of(shape))))
        out.append(marker(shape, ax.px(x), ax.py(g3), 3.5,
                          'fill="%s" fill-opacity="0.85"><title>%s</title></%s>'
                          % (c, tip, tag_of(shape))))
    return out


def tag_of(shape):
    return {"square": "rect", "triangle": "polygon"}.get(shape, "circle")


def legend(nets, style, limits):
    x, y = WIDTH - RIGHT + 16, TOP + 6
    out = []
    group = None
    for net in nets:
        if net[0] != group:
            group = net[0]
            y += 22 if out else 0
            out.append('<text x="%d" y="%d" class="head">%s</text>'
                       % (x, y, escape(GROUP_NAMES.get(group, "other"))))
        y += 16
        shape, c = style[net]
        out.append(marker(shape, x + 4, y - 4, 4, 'fill="%s"/>' % c))
        out.append('<text x="%d" y="%d">%s</text>' % (x + 14, y, escape(net[1])))
    y += 24
    out.append(marker("circle", x + 4, y - 4, 3.5, 'fill="#444"/>'))
    out.append('<text x="%d" y="%d">gcc -O3 -march=native</text>' % (x + 14, y))
    y += 16
    out.append(marker("circle", x + 4, y - 4, 3, 'fill="none" stroke="#444"/>'))
    out.append('<text x="%d" y="%d">gcc -O2 (same layer)</text>' % (x + 14, y))
    for line in limits:
        y += 16
        out.append('<text x="%d" y="%d" class="small">%s</text>' % (x, y, escape(line)))
    return out


def svg(results, peak, gbs_dram, gbs_cache, title, peak_o2=None):
    """The picture as SVG text; None when no layer was timed."""
    pts = layer_points(results)
    if not pts:
        return None
    xs = [p[2] for p in pts]
    ys = [p[3] for p in pts] + [p[4] for p in pts if p[4]]
    xlim = (min(xs + [peak / gbs_cache]) / 1.5, max(xs + [peak / gbs_dram]) * 1.5)
    ylim = (min(ys) / 1.5, peak * 1.6)
    ax = Axes(xlim, ylim)
    nets = list(dict.fromkeys(p[0] for p in pts))
    style = style_of(nets)
    limits = ["roof: FMA peak %.0f GFLOP/s" % peak,
              "memory (triad) %.0f GB/s" % gbs_dram,
              "cache (triad) %.0f GB/s, dashed" % gbs_cache]
    body = grid(ax, xlim, ylim)
    body += roof(ax, xlim, peak, gbs_cache, "cache %.0f GB/s" % gbs_cache, "roof2")
    body += roof(ax, xlim, peak, gbs_dram, "memory %.0f GB/s" % gbs_dram, "roof")
    body.append('<text x="%d" y="%.1f" text-anchor="end" class="roofl">FMA peak %.0f GFLOP/s'
                '</text>' % (WIDTH - RIGHT - 6, ax.py(peak) - 6, peak))
    if peak_o2:
        limits.append("-O2 (SSE2) peak %.0f GFLOP/s, dotted" % peak_o2)
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="roof3"/>'
                    % (LEFT, ax.py(peak_o2), WIDTH - RIGHT, ax.py(peak_o2)))
        body.append('<text x="%d" y="%.1f" text-anchor="end" class="roofl">-O2 (SSE2) peak '
                    '%.0f GFLOP/s</text>' % (WIDTH - RIGHT - 6, ax.py(peak_o2) - 6, peak_o2))
    body += dots(ax, pts, style)
    body += legend(nets, style, limits)
    style = ("text{font:12px sans-serif;fill:#222} .small{font-size:11px} "
             ".head{font-weight:bold} .title{font-size:15px;font-weight:bold} "
             ".grid{stroke:#ddd;stroke-width:1} .grid2{stroke:#f0f0f0;stroke-width:1} .frame{fill:none;stroke:#888} "
             ".roof{fill:none;stroke:#000;stroke-width:2} "
             ".roof2{fill:none;stroke:#000;stroke-width:1.2;stroke-dasharray:6 4} "
             ".roof3{stroke:#555;stroke-width:1.2;stroke-dasharray:2 3} "
             ".roofl{font-size:11px;fill:#333}")
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'viewBox="0 0 %d %d">\n<style>%s</style>\n'
            '<rect width="100%%" height="100%%" fill="white"/>\n'
            '<text x="%d" y="28" class="title">%s</text>\n'
            % (WIDTH, HEIGHT, WIDTH, HEIGHT, style, LEFT, escape(title)))
    return head + "\n".join(body) + "\n</svg>\n"
