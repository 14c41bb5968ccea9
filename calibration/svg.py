"""Inline SVG figures for the calibration report — no plotting library, every text escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from calibration.record import Bin, CurvePoint

BEFORE, AFTER, THIRD = "#d9822b", "#2b6cb0", "#2f855a"
W, H, PAD = 360, 300, 44


@dataclass(frozen=True)
class _Frame:
    """A plot area mapping data coordinates to pixels."""

    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, v: float) -> float:
        span = self.x1 - self.x0 or 1.0
        return PAD + (v - self.x0) / span * (W - 2 * PAD)

    def y(self, v: float) -> float:
        span = self.y1 - self.y0 or 1.0
        return H - PAD - (v - self.y0) / span * (H - 2 * PAD)


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}">'
        f"{escape(text)}</text>"
    )


def _axes(
    f: _Frame, title: str, xlabel: str, ylabel: str, ticks: int = 5, x_ticks: bool = True
) -> list[str]:
    parts = [
        f'<rect x="{PAD}" y="{PAD}" width="{W - 2 * PAD}" height="{H - 2 * PAD}" '
        'fill="none" stroke="#999"/>',
        _text(W / 2, 18, title, size=13),
        _text(W / 2, H - 8, xlabel),
        f'<text transform="translate(12,{H / 2:.0f}) rotate(-90)" text-anchor="middle" '
        f'font-size="11">{escape(ylabel)}</text>',
    ]
    # enough digits that neighbouring ticks differ, however narrow the range
    digits = max(2, math.ceil(-math.log10(max((f.x1 - f.x0) / ticks, 1e-9))) + 1)
    for i in range(ticks + 1):
        vx = f.x0 + (f.x1 - f.x0) * i / ticks
        vy = f.y0 + (f.y1 - f.y0) * i / ticks
        if x_ticks:
            parts.append(_text(f.x(vx), H - PAD + 14, f"{vx:.{digits}f}", size=9))
        parts.append(_text(PAD - 4, f.y(vy) + 3, f"{vy:.2f}", anchor="end", size=9))
    return parts


def _line(f: _Frame, pts: Sequence[tuple[float, float]], color: str, dash: str = "") -> str:
    if not pts:
        return ""
    path = " ".join(f"{f.x(a):.1f},{f.y(b):.1f}" for a, b in pts)
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{extra}/>'


def _legend(items: Sequence[tuple[str, str]], bottom: bool = False) -> list[str]:
    out = []
    first = H - PAD - 8 - 14 * (len(items) - 1) if bottom else PAD + 12
    for i, (label, color) in enumerate(items):
        y = first + 14 * i
        out.append(f'<rect x="{PAD + 8}" y="{y - 8}" width="10" height="10" fill="{color}"/>')
        out.append(_text(PAD + 22, y + 1, label, anchor="start", size=10))
    return out


def _svg(parts: Sequence[str], label: str) -> str:
    body = "".join(p for p in parts if p)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}" '
        f'font-family="sans-serif">{body}</svg>'
    )


def reliability_svg(before: Sequence[Bin], after: Sequence[Bin], title: str) -> str:
    """Reliability diagram: observed rate against mean predicted P, per bin, before and after."""
    f = _Frame(0.0, 1.0, 0.0, 1.0)
    parts = _axes(f, title, "predicted P(correct)", "observed rate correct")
    parts.append(_line(f, [(0.0, 0.0), (1.0, 1.0)], "#bbb", dash="4 3"))
    total = max(1, sum(b.n for b in before))
    for bins, color in ((before, BEFORE), (after, AFTER)):
        parts.append(_line(f, [(b.mean_predicted, b.observed) for b in bins], color))
        for b in bins:
            r = 2.5 + 9.0 * (b.n / total) ** 0.5
            tip = f"{b.n} rows: predicted {b.mean_predicted:.3f}, observed {b.observed:.3f}"
            parts.append(
                f'<circle cx="{f.x(b.mean_predicted):.1f}" cy="{f.y(b.observed):.1f}" '
                f'r="{r:.1f}" fill="{color}" fill-opacity="0.55"><title>{escape(tip)}</title>'
                "</circle>"
            )
    parts += _legend([("splink probability (before)", BEFORE), ("calibrated, held out", AFTER)])
    return _svg(parts, title)


def threshold_svg(
    curve: Sequence[CurvePoint], chosen: float | None, target: float, title: str
) -> str:
    """Precision and auto-resolution rate against the threshold, with the chosen one marked."""
    low = min((p.threshold for p in curve), default=0.0)
    f = _Frame(min(low, 0.99), 1.0, 0.0, 1.0)
    parts = _axes(f, title, "threshold on calibrated P", "rate")
    pts = sorted(curve, key=lambda p: p.threshold)
    parts.append(_line(f, [(p.threshold, p.precision) for p in pts], AFTER))
    parts.append(_line(f, [(p.threshold, p.coverage) for p in pts], THIRD))
    parts.append(_line(f, [(f.x0, 1 - target), (1.0, 1 - target)], "#c53030", dash="4 3"))
    if chosen is not None:
        parts.append(_line(f, [(chosen, 0.0), (chosen, 1.0)], "#555", dash="2 2"))
        parts.append(_text(f.x(chosen), PAD - 4, f"chosen {chosen:.4f}", size=10))
    parts += _legend(
        [("precision", AFTER), ("auto-resolution rate", THIRD), ("1 − target error", "#c53030")],
        bottom=True,
    )
    return _svg(parts, title)


def histogram_svg(
    edges: Sequence[float], baseline: Sequence[int], recent: Sequence[int], title: str
) -> str:
    """Share of top-candidate weights per bin: at calibration time against recent resolves."""
    n = len(baseline)
    f = _Frame(0.0, float(n), 0.0, 1.0)
    parts = _axes(f, title, "match-weight bin (decile edges of calibration time)", "share", 5)
    parts = [p for p in parts if 'font-size="9"' not in p or "end" in p]  # no numeric x ticks
    totals = (max(1, sum(baseline)), max(1, sum(recent)))
    top = max([c / totals[0] for c in baseline] + [c / totals[1] for c in recent] + [0.01])
    f = _Frame(0.0, float(n), 0.0, top)
    for i in range(n):
        for j, (counts, color) in enumerate(((baseline, BEFORE), (recent, AFTER))):
            share = counts[i] / totals[j] if i < len(counts) else 0.0
            x = f.x(i + 0.1 + 0.4 * j)
            width = f.x(0.4) - f.x(0.0)
            parts.append(
                f'<rect x="{x:.1f}" y="{f.y(share):.1f}" width="{width:.1f}" '
                f'height="{f.y(0.0) - f.y(share):.1f}" fill="{color}" fill-opacity="0.7"/>'
            )
    for i, edge in enumerate(edges, start=1):
        parts.append(_text(f.x(i), H - PAD + 14, f"{edge:.1f}", size=8))
    parts += _legend([("at calibration", BEFORE), ("recent resolves", AFTER)])
    return _svg(parts, title)
