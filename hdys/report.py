"""Result tables in the style of the paper's Table 1 and JSON + markdown report files.

``results`` maps a model / variant name to the nested dict of ``MetricAccumulator.result()``:
``{dataset: {dynamics: {metric: {representation: value}}}}``, where ``"avg"`` is the metric of the
averaged prediction and ``"best"`` the best individual representation.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from hdys.metrics import AVG, BEST, HEADLINE_METRICS, LOWER_IS_BETTER, UNITS

Nested = dict[str, dict[str, dict[str, dict[str, float]]]]


def format_value(value: float | None) -> str:
    """4 decimals below 1 (``0.6300``), 3 significant digits from 1 on (``11.8``, ``1.23``, ``1234``)."""
    if value is None:
        return "-"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) < 1.0:
        return f"{value:.4f}"
    digits = int(math.floor(math.log10(abs(value)))) + 1
    text = f"{value:.{max(0, 3 - digits)}f}"
    if abs(float(text)) >= 10 ** digits and digits < 3:  # rounding carried into another digit (9.996 -> 10.0)
        text = f"{value:.{max(0, 3 - digits - 1)}f}"
    return text


def _columns(results: dict[str, Nested], headline: dict[str, tuple[str, ...]] | None = None
             ) -> list[tuple[str, str, str]]:
    """(dataset, dynamics, metric) columns in order of first appearance; ``headline`` replaces the
    headline metrics of the dynamics it names (e.g. the per-foot GRF of Table 4)."""
    metrics = {**HEADLINE_METRICS, **(headline or {})}
    cols: list[tuple[str, str, str]] = []
    for nested in results.values():
        for dataset, per_dyn in nested.items():
            for dynamics, per_metric in per_dyn.items():
                for metric in metrics.get(dynamics, ()):
                    if metric in per_metric and (dataset, dynamics, metric) not in cols:
                        cols.append((dataset, dynamics, metric))
    return cols


def _cell_values(per_rep: dict[str, float] | None) -> tuple[float | None, float | None]:
    """(primary, secondary): (avg, best); with neither, the single representation's value."""
    if not per_rep:
        return None, None
    avg, best = per_rep.get(AVG), per_rep.get(BEST)
    if avg is None and best is None:
        singles = list(per_rep.values())
        return (singles[0], None) if len(singles) == 1 else (None, None)
    return avg, best


def markdown_table(results: dict[str, Nested], title: str, headline: dict[str, tuple[str, ...]] | None = None) -> str:
    """A markdown table: rows = models, columns = dataset x headline metric, cells ``avg/best``.

    ``-`` where a model has no number; the best value per column (by the avg value, or the single
    value when a model has only one) is **bold**; equal values at the printed precision are all bold.
    """
    cols = _columns(results, headline)
    header = ["Method"] + [
        f"{dataset} {dynamics} {metric}{'↓' if LOWER_IS_BETTER[metric] else '↑'}"
        + (f" ({UNITS[(dynamics, metric)]})" if (dynamics, metric) in UNITS and UNITS[(dynamics, metric)] != "1" else "")
        for dataset, dynamics, metric in cols
    ]
    cells: dict[tuple[str, int], tuple[float | None, float | None]] = {}
    for name, nested in results.items():
        for i, (dataset, dynamics, metric) in enumerate(cols):
            per_rep = nested.get(dataset, {}).get(dynamics, {}).get(metric)
            cells[(name, i)] = _cell_values(per_rep)
    winners: list[str | None] = []
    for i, (_, _, metric) in enumerate(cols):
        primaries = [cells[(n, i)][0] for n in results]
        finite = [float(v) for v in primaries if v is not None and np.isfinite(v)]
        if not finite:
            winners.append(None)
            continue
        winners.append(format_value(min(finite) if LOWER_IS_BETTER[metric] else max(finite)))
    lines = [
        f"### {title}", "",
        "Cells: averaged prediction / best single representation; **bold** = best avg per column.", "",
        "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
    ]
    for name in results:
        row = [name]
        for i in range(len(cols)):
            primary, secondary = cells[(name, i)]
            if primary is None and secondary is None:
                row.append("-")
                continue
            first = format_value(primary)
            if primary is not None and winners[i] is not None and first == winners[i]:
                first = f"**{first}**"
            row.append(first if secondary is None else f"{first}/{format_value(secondary)}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def jsonable(obj):
    """``obj`` in JSON types: numpy scalars and arrays, tuples and paths converted, NaN and infinities as null
    (strict JSON has none), any other object as its ``str``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None  # strict JSON has no NaN / inf
    if obj is None or isinstance(obj, (str, int)):
        return obj
    return str(obj)


def write_report(path_json: str | Path, path_md: str | Path, results: dict[str, Nested], meta: dict) -> None:
    """Write ``{"meta": meta, "results": results}`` as JSON (NaN -> null) and a markdown report.

    ``meta`` holds provenance such as the command, corpus and budget; ``meta["title"]`` (optional)
    titles the markdown table.
    """
    path_json, path_md = Path(path_json), Path(path_md)
    for path in (path_json, path_md):
        path.parent.mkdir(parents=True, exist_ok=True)
    path_json.write_text(json.dumps({"meta": jsonable(meta), "results": jsonable(results)}, indent=2) + "\n")
    title = str(meta.get("title", "Results"))
    lines = [f"# {title}", ""]
    for key, value in meta.items():
        if key == "title":
            continue
        text = json.dumps(jsonable(value)) if isinstance(value, (dict, list, tuple)) else str(value)
        lines.append(f"- **{key}**: `{text}`" if "\n" not in text else f"- **{key}**:\n```\n{text}\n```")
    lines.append("")
    lines.append(markdown_table(results, title))
    lines.append("#### All metrics")
    lines.append("")
    lines.append("| Method | dataset | dynamics | metric | representation | value |")
    lines.append("|---|---|---|---|---|---|")
    for name, nested in results.items():
        for dataset, per_dyn in nested.items():
            for dynamics, per_metric in per_dyn.items():
                for metric, per_rep in per_metric.items():
                    for rep, value in per_rep.items():
                        lines.append(f"| {name} | {dataset} | {dynamics} | {metric} | {rep} | {format_value(value)} |")
    path_md.write_text("\n".join(lines) + "\n")
