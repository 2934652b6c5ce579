"""A run's report as one self-contained HTML page: verdict, timelines, faults, DLQ, tables.

Generic over what ran: a ``Report`` is a title, a verdict (pass or fail, and its text)
and a list of ``Stage``s (one consumer each: the demo's, each campaign mode's, each
stage of a chained run), each with its own timeline of outcomes per second, the faults
injected on the same time axis, DLQ depth samples with marks (a redrive), and optional
facts, tables (rows flagged as mismatches) and notes. ``pipeline.timeline.Recorder``
records a stage during a run.

The page needs no network: its styles, its charts (inline SVG, drawn here) and its one
small script (a self-check of the drawn charts, for the browser test) are inline. It
reads on a phone (the charts scale to the width) and prints (no colours needed to tell a
mismatch: it is marked in text too).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

# The outcomes a timeline splits deliveries by, in drawing order, with their colours.
OUTCOME_COLOURS: dict[str, str] = {
    "processed": "#2e7d32",
    "duplicate": "#1565c0",
    "conflict": "#ef6c00",
    "invalid": "#6a1b9a",
    "refused": "#8d6e63",
    "failed": "#c62828",
    "crashed": "#212121",
}
OTHER = "other"
OTHER_COLOUR = "#9e9e9e"
FAULT_COLOUR = "#d84315"
DLQ_COLOUR = "#5e35b1"
MARK_COLOUR = "#00838f"
# At most this many bars across a chart: longer runs average over several seconds.
MAX_BUCKETS = 240

WIDTH, LEFT, RIGHT = 960, 56, 12


@dataclass
class Row:
    """A table row; a mismatch is highlighted, in amber when ``explained`` (a difference
    the verdict accepts, with its cause in ``note``), in red otherwise."""

    cells: list[str]
    mismatch: bool = False
    note: str = ""
    explained: bool = False


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[Row]
    caption: str = ""

    @property
    def mismatches(self) -> int:
        return sum(1 for row in self.rows if row.mismatch)

    @property
    def explained(self) -> int:
        return sum(1 for row in self.rows if row.mismatch and row.explained)


@dataclass
class Stage:
    """One consumer's part of a run; times are seconds from the stage's start."""

    name: str
    duration: float = 0.0
    # Deliveries per whole second since the start: second -> outcome -> count.
    timeline: dict[int, dict[str, int]] = field(default_factory=dict)
    faults: list[tuple[float, str]] = field(default_factory=list)
    dlq: list[tuple[float, int]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def span(self) -> float:
        """The time axis: the stage's duration, or as far as anything recorded goes."""
        ends = [self.duration, *(float(s + 1) for s in self.timeline)]
        ends += [t for t, _ in self.faults] + [t for t, _ in self.dlq] + [t for t, _ in self.marks]
        return max([1.0, *ends])


@dataclass
class Report:
    title: str
    passed: bool
    verdict: str
    stages: list[Stage]
    subtitle: str = ""
    generated_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bucket_seconds(span: float) -> int:
    return max(1, math.ceil(span / MAX_BUCKETS))


def _outcome_key(name: str) -> str:
    return name if name in OUTCOME_COLOURS else OTHER


def _nice_ceiling(value: float) -> float:
    """1, 2, 5 x 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _time_label(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{whole} s"


def _x(t: float, span: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * min(max(t, 0.0), span) / span


def _time_axis(span: float, bottom: float) -> list[str]:
    ticks = 6
    step = _nice_ceiling(span / ticks)
    parts: list[str] = []
    t = 0.0
    while t <= span + 1e-9:
        x = _x(t, span)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{bottom:.1f}"/>'
            f'<text class="tick" x="{x:.1f}" y="{bottom + 14:.1f}" '
            f'text-anchor="middle">{_e(_time_label(t))}</text>'
        )
        t += step
    return parts


def _svg(height: float, body: Iterable[str], label: str, kind: str) -> str:
    return (
        f'<div class="chartbox"><svg class="chart" data-chart="{kind}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{_e(label)}" '
        f'preserveAspectRatio="xMidYMid meet"><title>{_e(label)}</title>{"".join(body)}</svg></div>'
    )


def outcome_chart(stage: Stage) -> str:
    """Stacked bars: deliveries per second by outcome."""
    span = stage.span
    size = _bucket_seconds(span)
    buckets: dict[int, dict[str, float]] = {}
    for second, counts in stage.timeline.items():
        bucket = buckets.setdefault(second // size, {})
        for outcome, n in counts.items():
            key = _outcome_key(outcome)
            bucket[key] = bucket.get(key, 0.0) + n / size
    peak = max((sum(b.values()) for b in buckets.values()), default=0.0)
    top = _nice_ceiling(peak)
    height, plot_top, plot_bottom = 240.0, 10.0, 210.0
    scale = (plot_bottom - plot_top) / top
    parts = _time_axis(span, plot_bottom)
    for value in (0.0, top / 2, top):
        y = plot_bottom - value * scale
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:g}</text>"
        )
    order = [*OUTCOME_COLOURS, OTHER]
    colours = {**OUTCOME_COLOURS, OTHER: OTHER_COLOUR}
    for index, bucket in sorted(buckets.items()):
        x0, x1 = _x(index * size, span), _x((index + 1) * size, span)
        width = max(x1 - x0 - 0.6, 0.8)
        y = plot_bottom
        for outcome in order:
            rate = bucket.get(outcome, 0.0)
            if rate <= 0:
                continue
            h = rate * scale
            y -= h
            label = f"{_time_label(index * size)}: {outcome} {rate:.3g}/s"
            parts.append(
                f'<rect class="bar" data-outcome="{outcome}" x="{x0:.2f}" y="{y:.2f}" '
                f'width="{width:.2f}" height="{max(h, 0.5):.2f}" fill="{colours[outcome]}">'
                f"<title>{_e(label)}</title></rect>"
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" '
        f'y2="{plot_bottom}"/>'
    )
    if not buckets:
        parts.append(_empty_note(plot_bottom / 2, "no deliveries recorded"))
    unit = "deliveries per second" + (f" (averaged over {size} s)" if size > 1 else "")
    return _svg(height, parts, f"{stage.name}: {unit}, by outcome", "outcomes")


def _empty_note(y: float, text: str) -> str:
    return f'<text class="empty" x="{WIDTH / 2}" y="{y:.0f}" text-anchor="middle">{_e(text)}</text>'


def fault_chart(stage: Stage) -> str:
    """One lane per fault: a mark in each stretch of time where it was injected."""
    span = stage.span
    size = _bucket_seconds(span)
    lanes = sorted({name for _, name in stage.faults})
    lane_height, top = 22.0, 8.0
    bottom = top + lane_height * max(len(lanes), 1)
    parts = _time_axis(span, bottom)
    for lane, name in enumerate(lanes):
        y = top + lane * lane_height
        counts: dict[int, int] = {}
        for t, fault in stage.faults:
            if fault == name:
                counts[int(t // size)] = counts.get(int(t // size), 0) + 1
        for index, n in sorted(counts.items()):
            x0, x1 = _x(index * size, span), _x((index + 1) * size, span)
            label = f"{_time_label(index * size)}: {name.replace('_', ' ')} x{n}"
            parts.append(
                f'<rect class="fault" x="{x0:.2f}" y="{y + 2:.1f}" '
                f'width="{max(x1 - x0 - 0.4, 1.5):.2f}" height="{lane_height - 6:.1f}" '
                f'fill="{FAULT_COLOUR}" fill-opacity="{min(1.0, 0.35 + 0.15 * n):.2f}">'
                f"<title>{_e(label)}</title></rect>"
            )
        # After the marks, haloed: the lane's name stays readable over them.
        parts.append(
            f'<text class="lane" x="{LEFT + 4}" y="{y + 15:.1f}" paint-order="stroke" '
            f'stroke="#fff" stroke-width="3">'
            f"{_e(name.replace('_', ' '))} ({sum(counts.values())})</text>"
        )
    if not lanes:
        parts.append(_empty_note(top + 15, "no faults injected"))
    return _svg(bottom + 22, parts, f"{stage.name}: faults injected over time", "faults")


def dlq_chart(stage: Stage) -> str:
    """DLQ depth over time (a step line), with the marks (a redrive) as vertical lines."""
    span = stage.span
    samples = sorted(stage.dlq)
    peak = max((depth for _, depth in samples), default=0)
    top_value = _nice_ceiling(float(peak))
    height, plot_top, plot_bottom = 170.0, 22.0, 140.0
    scale = (plot_bottom - plot_top) / top_value
    parts = _time_axis(span, plot_bottom)
    for value in (0.0, top_value):
        y = plot_bottom - value * scale
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    if samples:
        points: list[str] = []
        previous_y: float | None = None
        for t, depth in samples:
            x, y = _x(t, span), plot_bottom - depth * scale
            if previous_y is not None:
                points.append(f"{x:.2f},{previous_y:.2f}")
            points.append(f"{x:.2f},{y:.2f}")
            previous_y = y
        last_t = samples[-1][0]
        parts.append(
            f'<polyline class="dlq" points="{" ".join(points)}" fill="none" '
            f'stroke="{DLQ_COLOUR}" stroke-width="2"><title>DLQ depth, {len(samples)} samples, '
            f"peak {peak}, last {samples[-1][1]} at {_e(_time_label(last_t))}</title></polyline>"
        )
    else:
        parts.append(_empty_note(plot_bottom / 2, "DLQ depth not sampled"))
    for t, label in stage.marks:
        x = _x(t, span)
        parts.append(
            f'<line class="mark" x1="{x:.1f}" y1="{plot_top - 12}" x2="{x:.1f}" '
            f'y2="{plot_bottom}" stroke="{MARK_COLOUR}" stroke-width="2" stroke-dasharray="5 3">'
            f"<title>{_e(label)} at {_e(_time_label(t))}</title></line>"
            f'<text class="marklabel" x="{x + 4:.1f}" y="{plot_top - 4}">{_e(label)}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" '
        f'y2="{plot_bottom}"/>'
    )
    return _svg(height, parts, f"{stage.name}: DLQ depth over time", "dlq")


def _legend(stage: Stage) -> str:
    present = {_outcome_key(o) for counts in stage.timeline.values() for o in counts}
    totals: dict[str, int] = {}
    for counts in stage.timeline.values():
        for outcome, n in counts.items():
            totals[_outcome_key(outcome)] = totals.get(_outcome_key(outcome), 0) + n
    items = [
        f'<li><span class="swatch" style="background:{colour}"></span>{_e(name)} '
        f"<b>{totals.get(name, 0)}</b></li>"
        for name, colour in [*OUTCOME_COLOURS.items(), (OTHER, OTHER_COLOUR)]
        if name in present or name in OUTCOME_COLOURS
    ]
    return f'<ul class="legend">{"".join(items)}</ul>'


def _table(table: Table) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in [*table.columns, "check"])
    # Mismatches first: a long table's problems are at its top.
    ordered = sorted(table.rows, key=lambda row: not row.mismatch)
    body = []
    for row in ordered:
        cells = "".join(f"<td>{_e(c)}</td>" for c in row.cells)
        note = f": {_e(row.note)}" if row.note else ""
        if not row.mismatch:
            check, kind = f"<td>ok{note}</td>", "match"
        elif row.explained:
            check, kind = f'<td class="flag">EXPLAINED{note}</td>', "mismatch explained"
        else:
            check, kind = f'<td class="flag">MISMATCH{note}</td>', "mismatch"
        body.append(f'<tr class="{kind}">{cells}{check}</tr>')
    caption = table.caption or (
        f"{len(table.rows)} rows, {table.mismatches} "
        f"mismatch{'es' if table.mismatches != 1 else ''}"
        + (f" ({table.explained} explained)" if table.explained else "")
    )
    return (
        f'<section class="table"><h3>{_e(table.title)}</h3><div class="scroll">'
        f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _stage(stage: Stage, index: int) -> str:
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in stage.facts)
    notes = "".join(f"<li>{_e(note)}</li>" for note in stage.notes)
    charts = ""
    if stage.timeline or stage.faults or stage.dlq:
        size = _bucket_seconds(stage.span)
        per = "per second" + (f", averaged over {size} s" if size > 1 else "")
        charts = (
            f'<figure class="figure"><figcaption>Deliveries {per}, by outcome</figcaption>'
            f"{_legend(stage)}{outcome_chart(stage)}</figure>"
            '<figure class="figure"><figcaption>Faults injected (same time axis)</figcaption>'
            f"{fault_chart(stage)}</figure>"
            '<figure class="figure"><figcaption>DLQ depth (same time axis)</figcaption>'
            f"{dlq_chart(stage)}</figure>"
        )
    return (
        f'<section class="stage" id="stage-{index}"><h2>{_e(stage.name)}</h2>'
        + (f'<dl class="facts">{facts}</dl>' if facts else "")
        + charts
        + "".join(_table(t) for t in stage.tables)
        + (f'<h3>Notes</h3><ul class="notes">{notes}</ul>' if notes else "")
        + "</section>"
    )


STYLE = """
:root { --ink: #1b1b1b; --muted: #5f5f5f; --line: #d0d0d0; --pass: #1b5e20; --fail: #b71c1c; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 12px; max-width: 1040px; background: #fff; }
h1 { font-size: 1.45rem; margin: 0.2rem 0; }
h2 { font-size: 1.2rem; border-bottom: 2px solid var(--line); padding-bottom: 4px;
  margin-top: 2rem; }
h3 { font-size: 1.02rem; margin: 1rem 0 0.4rem; }
.sub { color: var(--muted); margin: 0 0 0.8rem; }
.verdict { border: 3px solid; border-radius: 6px; padding: 10px 14px; margin: 10px 0 16px;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.verdict.pass { border-color: var(--pass); background: #e8f5e9; }
.verdict.fail { border-color: var(--fail); background: #ffebee; }
.verdict strong { font-size: 1.3rem; margin-right: 0.5rem; }
.verdict p { margin: 0.3rem 0 0; white-space: pre-wrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0.6rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
figure { margin: 0.8rem 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg.chart { width: 100%; height: auto; display: block; }
svg .grid { stroke: #ececec; stroke-width: 1; }
svg .axis { stroke: #888; stroke-width: 1; }
svg .tick, svg .lane, svg .marklabel, svg .empty { font-size: 12px; fill: var(--muted); }
svg .lane { fill: var(--ink); }
svg .marklabel { fill: #00838f; font-weight: 600; }
ul.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; padding: 0;
  margin: 2px 0; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 4px; vertical-align: -1px;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding: 2px 0; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; }
th { background: #f5f5f5; }
tr.mismatch td { background: #ffcdd2; font-weight: 600;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
td.flag { color: var(--fail); }
tr.mismatch.explained td { background: #ffe0b2; }
tr.explained td.flag { color: #8a4b00; }
ul.notes li { margin: 0.2rem 0; word-break: break-word; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 2rem; }
.chartbox { overflow-x: auto; }
@media (max-width: 600px) { body { font-size: 14px; padding: 8px; } th, td { padding: 2px 4px; }
  svg.chart { min-width: 600px; } }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; }
  .scroll { overflow: visible; } tr { break-inside: avoid; } }
"""

# A self-check for the browser test (and anyone curious): how many data marks (bars,
# fault marks, the DLQ line, marks; not axes) drew with a size, per chart, how many
# mismatch rows show, and any script error, written onto the page's body as data-
# attributes.
SCRIPT = """
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); });
  function check() {
    var charts = document.querySelectorAll('svg.chart');
    var drawn = 0;
    for (var i = 0; i < charts.length; i++) {
      var shapes = charts[i].querySelectorAll('rect.bar, rect.fault, polyline.dlq, line.mark');
      var n = 0;
      for (var j = 0; j < shapes.length; j++) {
        var box = shapes[j].getBoundingClientRect();
        if (box.width > 0 || box.height > 0) { n++; }
      }
      charts[i].setAttribute('data-drawn', String(n));
      drawn += n;
    }
    var flagged = document.querySelectorAll('tr.mismatch');
    var shown = 0;
    for (var k = 0; k < flagged.length; k++) {
      if (flagged[k].getBoundingClientRect().height > 0) { shown++; }
    }
    document.body.setAttribute('data-mismatches', String(shown));
    document.body.setAttribute('data-charts', String(charts.length));
    document.body.setAttribute('data-drawn', String(drawn));
    document.body.setAttribute('data-errors', String(errors.length));
    document.body.setAttribute('data-checked', 'yes');
  }
  if (document.readyState === 'complete') { check(); }
  else { window.addEventListener('load', check); }
})();
"""


def render_html(report: Report) -> str:
    """The whole page, self-contained."""
    status = "pass" if report.passed else "fail"
    stages = "".join(_stage(stage, i) for i, stage in enumerate(report.stages))
    contents = "".join(
        f'<li><a href="#stage-{i}">{_e(stage.name)}</a></li>'
        for i, stage in enumerate(report.stages)
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}: {status.upper()}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<header><h1>{_e(report.title)}</h1>"
        + (f'<p class="sub">{_e(report.subtitle)}</p>' if report.subtitle else "")
        + f'<div class="verdict {status}" id="verdict"><strong>VERDICT: {status.upper()}'
        f"</strong><p>{_e(report.verdict)}</p></div>"
        + (f'<nav><ul class="contents">{contents}</ul></nav>' if len(report.stages) > 1 else "")
        + f"</header><main>{stages}</main>"
        f"<footer>Generated {_e(report.generated_at)}. Times are seconds from each stage's "
        "start. Self-contained: no network needed.</footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_html(report: Report, path: Path | str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(report), encoding="utf-8")
    return target


def html_path_beside(json_path: Path | str | None, default: str) -> Path:
    """The HTML report's path beside a JSON report (``x.json`` -> ``x.html``)."""
    return Path(json_path or default).with_suffix(".html")


def totals(stage: Stage) -> dict[str, int]:
    """Outcome totals of a stage's timeline."""
    found: dict[str, int] = {}
    for counts in stage.timeline.values():
        for outcome, n in counts.items():
            found[outcome] = found.get(outcome, 0) + n
    return found
