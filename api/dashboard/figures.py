"""The dashboard's charts as plotly figures, serialised to the JSON `Plotly.newPlot` reads."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from resolver import ClusterPair, QualityReport, RunSummary

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Tableau 10: tells apart up to ten entity types, also for most colour-blind readers.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948",
           "#9c755f", "#ff9da7", "#bab0ac")  # fmt: skip
#: No plotly.py template: it would ship ~7 kB of styling inside every figure's JSON.
_AXIS = {"gridcolor": "#e5e7eb", "zerolinecolor": "#cbd2dc", "automargin": True}
_LAYOUT = {"template": "none", "margin": {"l": 48, "r": 16, "t": 36, "b": 40},
           "font": {"family": "system-ui, sans-serif", "size": 12}, "height": 320,
           "xaxis": _AXIS, "yaxis": _AXIS}  # fmt: skip


def _plain(text: str) -> str:
    """Text plotly shows as typed: it renders a little HTML (links too) in labels and titles."""
    return html.escape(text, quote=False)


def _json(figure: go.Figure) -> str:
    text: str = figure.to_json()
    return text


def _colour(kind: str, kinds: Sequence[str]) -> str:
    """The same colour for an entity type in every chart of a page."""
    return PALETTE[kinds.index(kind) % len(PALETTE)] if kind in kinds else "#718096"


def score_trend(runs: Sequence[RunSummary], kinds: Sequence[str]) -> str:
    """The score of each entity type across the stored runs."""
    import plotly.graph_objects as go  # on first use: serving imports no plotly

    figure = go.Figure(layout={**_LAYOUT, "title": {"text": "Score per entity type, by run"}})
    for kind in sorted({kind for run in runs for kind in run.scores}):
        points = [(run.created_at, run.scores[kind]) for run in runs if kind in run.scores]
        figure.add_trace(go.Scatter(
            x=[p[0].isoformat() for p in points], y=[round(p[1], 1) for p in points],
            mode="lines+markers", name=_plain(kind), line={"color": _colour(kind, kinds)},
        ))  # fmt: skip
    scores = [score for run in runs for score in run.scores.values()] or [0.0]
    figure.update_yaxes(range=[max(0.0, min(scores) - 5), 100.5], title_text="score")
    return _json(figure)


def sparkline(runs: Sequence[RunSummary], entity_type: str) -> str:
    """A card's small trend line of one entity type's score."""
    import plotly.graph_objects as go  # on first use: serving imports no plotly

    points = [(run.created_at, run.scores[entity_type]) for run in runs
              if entity_type in run.scores]  # fmt: skip
    figure = go.Figure(go.Scatter(
        x=[p[0].isoformat() for p in points], y=[round(p[1], 1) for p in points],
        mode="lines+markers", line={"color": PALETTE[0], "width": 2}, marker={"size": 4},
        hovertemplate="%{x}<br>score %{y}<extra></extra>",
    ))  # fmt: skip
    figure.update_layout(template="none", height=70, showlegend=False,
                         margin={"l": 4, "r": 4, "t": 4, "b": 4})  # fmt: skip
    figure.update_xaxes(visible=False)
    ys = [p[1] for p in points] or [0.0]
    figure.update_yaxes(visible=False, range=[max(0.0, min(ys) - 5), min(100.0, max(ys) + 5)])
    return _json(figure)


def metrics_by_category(report: QualityReport, kinds: Sequence[str]) -> str:
    """The mean metric value (percent good) per category, one bar group per entity type."""
    import plotly.graph_objects as go  # on first use: serving imports no plotly

    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for m in report.metrics:
        values[m.entity_type][m.category].append(m.value)
    categories = sorted({m.category for m in report.metrics})
    figure = go.Figure(layout={**_LAYOUT, "title": {"text": "Metric values by category (% good)"},
                               "barmode": "group"})  # fmt: skip
    for kind in sorted(values):
        ys = [round(100 * sum(v) / len(v), 1) if (v := values[kind].get(c)) else None
              for c in categories]  # fmt: skip
        figure.add_trace(go.Bar(x=categories, y=ys, name=_plain(kind),
                                marker_color=_colour(kind, kinds)))  # fmt: skip
    figure.update_yaxes(range=[0, 100])
    return _json(figure)


def cluster_sizes(report: QualityReport, kinds: Sequence[str]) -> str:
    """How many duplicate clusters there are of each size, per entity type."""
    import plotly.graph_objects as go  # on first use: serving imports no plotly

    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for cluster in report.clusters:
        counts[cluster.entity_type][cluster.size] += 1
    figure = go.Figure(layout={**_LAYOUT, "title": {"text": "Duplicate clusters by size"},
                               "barmode": "group"})  # fmt: skip
    for kind in sorted(counts):
        sizes = sorted(counts[kind])
        figure.add_trace(go.Bar(x=sizes, y=[counts[kind][s] for s in sizes], name=_plain(kind),
                                marker_color=_colour(kind, kinds)))  # fmt: skip
    figure.update_xaxes(title_text="records in the cluster", dtick=1)
    figure.update_yaxes(title_text="clusters")
    return _json(figure)


def waterfall(pair: ClusterPair) -> str:
    """How a pair's match weight adds up: the prior, then one bar per comparison, then the total."""
    import plotly.graph_objects as go  # on first use: serving imports no plotly

    labels = [_plain(step.label) for step in pair.waterfall] + ["match weight"]
    weights = [round(step.match_weight, 3) for step in pair.waterfall]
    figure = go.Figure(go.Waterfall(
        x=labels, y=[*weights, round(pair.match_weight, 3)],
        measure=["relative"] * len(weights) + ["total"],
        increasing={"marker": {"color": "#2f855a"}}, decreasing={"marker": {"color": "#c53030"}},
        totals={"marker": {"color": "#2b6cb0"}},
        hovertemplate="%{x}: %{y:+.2f}<extra></extra>",
    ))  # fmt: skip
    title = _plain(f"{pair.left_id} ↔ {pair.right_id}: p = {pair.match_probability:.3f}")
    figure.update_layout(**{**_LAYOUT, "title": {"text": title, "font": {"size": 12}}})
    figure.update_yaxes(title_text="match weight (log2 Bayes factor)")
    return _json(figure)
