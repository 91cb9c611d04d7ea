"""The tables of an experiment's results: rows in the paper's layout (:func:`rows_of`, :func:`table_markdown`)
and the paper's claims checked on the measured numbers (:func:`claims`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import AVG, BEST, HEADLINE_METRICS, LOWER_IS_BETTER
from .report import format_value, markdown_table
from .registry import (EXPERIMENTS, MUSCLE_TYPES, PAPER_NAMES, PAPER_PARAMS, REP_ROWS, SIMULATION_FPS, TABLE_METRICS,
                       TORQUE_TYPES)


# -------------------------------------------------------------------------------------------------
# rows and tables


def _keep(nested: dict, datasets) -> dict:
    return {d: v for d, v in nested.items() if not datasets or d in datasets}


PAPER_ORDER = ("sim", "lab", "muscle", "emg", "kin")  # ImDy, AddBiomechanics, MinT, MiA (Table 1 columns)


def _ordered(nested: dict) -> dict:
    rank = {d: i for i, d in enumerate(PAPER_ORDER)}
    return dict(sorted(nested.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def rows_of(results: dict) -> dict[str, dict]:
    """Row name -> nested metrics ``{dataset: {dynamics: {metric: {rep: value}}}}`` as the table shows it."""
    rows: dict[str, dict] = {}
    for rec in results.get("variants", {}).values():
        nested = _ordered(_keep(rec["eval"]["results"], rec["datasets_shown"]))
        if results["experiment"] == "table10" and rec["role"] != "hdys":
            continue
        if results["experiment"] in ("table3", "table10"):
            for rep, label in REP_ROWS.items():
                per = {ds: {dyn: {m: {rep: v[rep]} for m, v in pm.items() if rep in v} for dyn, pm in pd.items()}
                       for ds, pd in nested.items()}
                per = {ds: {dyn: pm for dyn, pm in pd.items() if pm} for ds, pd in per.items()}
                if any(per.values()):
                    rows[label] = {ds: pd for ds, pd in per.items() if pd}
            if results["experiment"] == "table10":  # and the average over them, the paper's last column
                rows["HDyS (all)"] = {ds: {dyn: {m: {AVG: v[AVG]} for m, v in pm.items() if AVG in v}
                                           for dyn, pm in pd.items()} for ds, pd in nested.items()}
        else:
            rows[rec["name"]] = nested
    return rows


def table_markdown(results: dict) -> str:
    name = results["experiment"]
    corpora = ", ".join(Path(c).name for c in results["corpora"])
    lines = [f"# `{name}`: the paper's {results['paper']} ({results['what']})", "",
             f"Command: `{results['command']}`", f"Corpora: {', '.join(results['corpora'])}",
             f"Device: {results['device']}. Wall time: {results['wall_minutes']:.1f} min.", ""]
    if name == "table7":
        lines += ["| Model | #params (paper vocabularies) | #params (this corpus, base config) | paper |",
                  "|---|---|---|---|"]
        for arch, row in results["params"].items():
            lines.append(f"| {row['label']} | {row['paper_vocab']:,} | "
                         f"{row['this_corpus']:,} | "
                         f"{PAPER_PARAMS.get(arch, '-')} |")
        lines.append("")
    else:
        n = results["variants_trained"]
        budgets = sorted({round(r["budget_minutes"], 4) for r in results["variants"].values()})
        per = " / ".join(f"{b:.2f}" for b in budgets)
        protocol = results.get("protocol", "steps" if results.get("steps_per_variant") else "minutes")
        cap = f" (at most {per} min each)" if results["budget_minutes"] > 0 else ""
        if protocol == "exposure":
            what = (f"equal per-dataset exposure, the paper's protocol: {results['epochs_per_variant']} epochs of "
                    f"{results['sequences_per_dataset']} windows per dataset per variant{cap} ({n} trained here")
        elif protocol == "steps":
            what = f"equal steps: {results['steps_per_variant']} optimiser steps per variant{cap} ({n} trained here"
        else:
            what = (f"equal time: {per} min of training per variant ({n} trained here of "
                    f"{results['budget_minutes']:g} min in all")
        title = (f"{results['paper']} on {corpora}: {what}"
                 + (f", the others taken from {EXPERIMENTS[name].reuse_from}" if n < len(results["variants"]) else "")
                 + "), same seed and test split")
        rows = results["rows"]
        if name == "table2":
            for target in dict.fromkeys(r["param"] for r in results["variants"].values()):
                sub = {k: v for k, v in rows.items() if k.startswith(f"{target}: ")}
                lines += [markdown_table(sub, f"{title}; target {target}"), ""]
            lines += _composition_table(results)
        else:
            lines += [markdown_table(rows, title, TABLE_METRICS.get(name)), ""]
        if results.get("simulation"):
            from .simulate import simulation_markdown
            lines += ["## Simulation", "", simulation_markdown(results["simulation"]), "![simulation](simulate.png)",
                      ""]
        if results.get("control"):
            from .control.table6 import control_markdown
            lines += ["## Character control", "", *control_markdown(results["control"])]
        if name == "fig3" and results.get("fig3"):
            f = results["fig3"]
            lines += [f"![Figure 3]({Path(f['png']).name})", "",
                      f"t-SNE of {f['frames']} latent frames (perplexity {f['perplexity']}), "
                      "k-NN (k=10) accuracy of telling the representation / dataset from the latent:", "",
                      "| Model | representation k-NN acc. | dataset k-NN acc. |", "|---|---|---|"]
            lines += [f"| {m} | {v['representation_knn']:.3f} | {v['dataset_knn']:.3f} |" for m, v in f["models"].items()]
            lines.append("")
        lines += ["Datasets stand for the paper's: " + ", ".join(f"`{k}` {v}" for k, v in PAPER_NAMES.items()) + ".",
                  "Single-dataset, drop-one-out and baseline rows show only the datasets they trained on.", "",
                  "#### Variants", "", "| Row | overrides | steps | stopped by | train min | status |",
                  "|---|---|---|---|---|---|"]
        for rec in results["variants"].values():
            tr = rec.get("training") or {}
            lines.append(f"| {rec['name']} | `{' '.join(rec['overrides']) or '-'}` | {tr.get('steps', '-')} | "
                         f"{tr.get('stopped_by', '-')} | {tr.get('elapsed_s', 0) / 60:.2f} | {rec['status']} |")
        lines.append("")
    if results.get("claims"):
        lines += ["## Reading", ""]
        for c in results["claims"]:
            lines.append(f"- **{c['claim']}**: {c['verdict']}. {c['summary']}")
        lines.append("")
    return "\n".join(lines)


def _composition_table(results: dict) -> list[str]:
    recs = [r for r in results["variants"].values() if r["composition"]]
    names = list(dict.fromkeys(d for r in recs for d in r["composition"]))
    lines = ["#### Training sequences per dataset (the paper's Table 8)", "",
             "| Row | " + " | ".join(names) + " | total |", "|---|" + "---|" * (len(names) + 1)]
    for r in recs:
        c = r["composition"]
        lines.append(f"| {r['name']} | " + " | ".join(str(c.get(d, "-")) for d in names) + f" | {sum(c.values())} |")
    return lines + [""]


# -------------------------------------------------------------------------------------------------
# claims: the paper's statements checked on the measured numbers


def _columns(nested: dict, datasets=None, headline=None) -> list[tuple[str, str, str]]:
    metrics = {**HEADLINE_METRICS, **(headline or {})}
    return [(ds, dyn, m) for ds, per_dyn in nested.items() if not datasets or ds in datasets
            for dyn, per_metric in per_dyn.items() for m in metrics.get(dyn, ()) if m in per_metric]


def _value(nested: dict, col: tuple[str, str, str], which: str = AVG) -> float | None:
    ds, dyn, m = col
    per_rep = nested.get(ds, {}).get(dyn, {}).get(m) or {}
    v = per_rep.get(which)
    if v is None and len(per_rep) == 1:  # a single-representation row
        v = next(iter(per_rep.values()))
    return None if v is None or not np.isfinite(v) else float(v)


def _compare(rows: dict, a: str, b: str, which: str = AVG, datasets=None, headline=None) -> list[dict]:
    """Per common headline column (``headline``: see ``report._columns``): the values of rows ``a`` and ``b``
    and whether ``a`` is better."""
    if a not in rows or b not in rows:
        return []
    out = []
    for col in _columns(rows[a], datasets, headline):
        va, vb = _value(rows[a], col, which), _value(rows[b], col, which)
        if va is None or vb is None:
            continue
        better = va < vb if LOWER_IS_BETTER[col[2]] else va > vb
        out.append({"column": " ".join(col), "a": a, "b": b, "a_value": va, "b_value": vb, "a_better": better})
    return out


def _verdict(flags: list[bool]) -> str:
    if not flags:
        return "not testable (no common numbers)"
    return "holds" if all(flags) else "does not hold" if not any(flags) else "mixed"


def _claim(text: str, comps: list[dict], note: str = "") -> dict:
    flags = [c["a_better"] for c in comps]
    parts = [f"{c['column']}: {c['a']} {format_value(c['a_value'])} vs {c['b']} {format_value(c['b_value'])}"
             + (" ✓" if c["a_better"] else " ✗") for c in comps]
    summary = "; ".join(parts) + (f" ({sum(flags)}/{len(flags)} columns)" if flags else "") + (f". {note}" if note else "")
    return {"claim": text, "verdict": _verdict(flags), "summary": summary, "comparisons": comps}


def _harm(rows: dict, full: str, dropped: str, target: str) -> float | None:
    """Mean degradation of ``target``'s headline metrics (avg) from ``full`` to ``dropped``, relative
    for errors, the PCC difference for correlations (positive: dropping hurts)."""
    vals = []
    for col in _columns(rows.get(full, {}), [target]):
        a, b = _value(rows[full], col), _value(rows.get(dropped, {}), col)
        if a is None or b is None or (a == 0 and LOWER_IS_BETTER[col[2]]):
            continue
        # errors relative to HDyS's; correlations (bounded, near 0 early in training) as a difference
        vals.append((b - a) / abs(a) if LOWER_IS_BETTER[col[2]] else a - b)
    return float(np.mean(vals)) if vals else None


def _types(dynamics: list[str]) -> set[str]:
    return ({"torque"} if set(dynamics) & set(TORQUE_TYPES) else set()) | \
           ({"muscle"} if set(dynamics) & set(MUSCLE_TYPES) else set())


def _drop_claims(rows: dict, by_role: dict, dynamics: dict[str, list[str]], full: str) -> list[dict]:
    drops = {r["param"]: r["name"] for r in by_role.get("drop", [])}
    per_target, flags, kin_flags, kin_parts = [], [], [], []
    for target in [d for d in dynamics if _types(dynamics[d])]:
        harms = {d: _harm(rows, full, name, target) for d, name in drops.items() if d != target}
        harms = {d: h for d, h in harms.items() if h is not None}
        same = {d: h for d, h in harms.items() if _types(dynamics[d]) & _types(dynamics[target])}
        other = {d: h for d, h in harms.items() if _types(dynamics[d]) and not _types(dynamics[d]) & _types(dynamics[target])}
        for d, h in harms.items():
            if not _types(dynamics[d]):
                kin_flags.append(h > 0)
                kin_parts.append(f"w/o {d} on {target} {100 * h:+.1f}")
        if not same or not other:
            continue
        holds = float(np.mean(list(same.values()))) > float(np.mean(list(other.values())))
        flags.append(holds)
        fmt = lambda hs: ", ".join(f"w/o {d} {100 * h:+.1f}" for d, h in hs.items())  # noqa: E731
        per_target.append({"target": target, "same_type": same, "other_type": other, "holds": holds,
                           "text": f"{target}: same type {fmt(same)} vs other type {fmt(other)} "
                                   + ("✓" if holds else "✗")})
    out = [{"claim": "dropping a dataset hurts most where the dynamics types match (torque vs muscle)",
            "verdict": _verdict(flags),
            "summary": "; ".join(p["text"] for p in per_target) + " (relative degradation of the target's "
                       "headline metrics against HDyS, avg prediction: % for errors, PCC difference x 100 for "
                       "correlations; + = dropping hurts)",
            "comparisons": per_target}]
    if kin_flags:
        out.append({"claim": "data without dynamics labels (AMASS-like) helps", "verdict": _verdict(kin_flags),
                    "summary": "; ".join(kin_parts) + " (% for errors, PCC x 100; + = dropping it hurts)", "comparisons": kin_parts})
    return out


def _table1_claims(results: dict, rows: dict, by_role: dict, full: str) -> list[dict]:
    """Heterogeneous vs single-dataset training, dropped datasets, L_align, FDAE, latent sizes, baselines."""
    out = []
    for rec in by_role.get("single", []):
        out.append(_claim(f"heterogeneous training beats {rec['param']}-only training on {rec['param']}",
                          _compare(rows, full, rec["name"], datasets=[rec["param"]])))
    out += _drop_claims(rows, by_role, results["corpus"]["dynamics"], full)
    for role, text in (("no_align", "L_align helps"), ("no_fdae", "FDAE helps")):
        for rec in by_role.get(role, []):
            out.append(_claim(text, _compare(rows, full, rec["name"])))
    dims = {int(full_rec["param"]): full_rec["name"] for full_rec in by_role["hdys"]}
    dims.update({int(r["param"]): r["name"] for r in by_role.get("latent", [])})
    order = sorted(dims, reverse=True)
    comps = [c for hi, lo in zip(order, order[1:]) for c in _compare(rows, dims[hi], dims[lo])]
    if len(order) > 1:
        out.append(_claim(" > ".join(f"{d}-D" for d in order), comps,
                          f"{full} is {by_role['hdys'][0]['param']}-D"))
    for rec in by_role.get("baseline", []):
        out.append(_claim(f"HDyS beats {rec['name']}",
                          _compare(rows, full, rec["name"], datasets=rec["datasets_shown"])))
    return out


def _table2_claims(results: dict, rows: dict) -> list[dict]:
    """HDyS-50/50 against HDyS-Single-50 and HDyS-Single, per target dataset (best representation)."""
    out = []
    named = {(r["role"], r["param"]): r["name"] for r in results["variants"].values()}
    for (role, t), row in named.items():
        if role != "fifty_fifty":
            continue
        out.append(_claim(f"{t}: HDyS-50/50 beats HDyS-Single-50 (same target data, plus other datasets; "
                          "best representation)",
                          _compare(rows, row, named.get(("single50", t), ""), BEST, [t])))
        out.append(_claim(f"{t}: HDyS-50/50 beats HDyS-Single (same scale; best representation; the paper "
                          "finds it on AddBiomechanics, not on MiA)",
                          _compare(rows, row, named.get(("single", t), ""), BEST, [t])))
    return out


def _table3_claims(rows: dict) -> list[dict]:
    """Joint-space representations against Cartesian ones; markers the worst."""
    joint = [REP_ROWS[r] for r in ("joint_angles", "smpl")]
    cart = [REP_ROWS[r] for r in ("markers", "keypoints")]
    comps = [c for j in joint for k in cart for c in _compare(rows, j, k)]
    m = REP_ROWS["markers"]
    return [_claim("joint-space representations (angles, SMPL) beat Cartesian ones (markers, keypoints)", comps),
            _claim("markers are the worst representation",
                   [c for other in REP_ROWS.values() if other != m for c in _compare(rows, other, m)])]


def _table4_claims(results: dict, rows: dict) -> list[dict]:
    """Fine-tuning on the GRF target against the baseline, target-only training and the pretrained model."""
    out = []
    role = {r["role"]: r["name"] for r in results["variants"].values()}
    t = results["variants"]["finetuned"]["param"]
    for a, b in (("hdys", "baseline"), ("hdys", "target_only"), ("target_only", "baseline"),
                 ("hdys", "pretrained")):
        if a in role and b in role:
            out.append(_claim(f"{role[a]} beats {role[b]} on {t}",
                              _compare(rows, role[a], role[b], datasets=[t], headline=TABLE_METRICS["table4"])))
    return out


def _simulation_claims(results: dict) -> list[dict]:
    """Simulating with HDyS's torques against the recording's, per frame rate (Tables 5, 11)."""
    out = []
    for rate, rows_k in results["simulation"]["mse"].items():
        if "labels" not in rows_k:
            continue
        comps = [{"a": "HDyS", "b": "Optimized", "column": f"k={i + 1}", "a_value": a, "b_value": b,
                  "a_better": a < b} for i, (a, b) in enumerate(zip(rows_k["hdys"], rows_k["labels"]))]
        out.append(_claim(f"simulating with HDyS's torques drifts less than with the recording's ({rate} fps, "
                          "per-frame MSE)", comps))
    return out


def _fig3_claims(results: dict, rows: dict, by_role: dict, full: str) -> list[dict]:
    """L_align helps, and keeps the representation from dominating the latent (k-NN accuracy)."""
    out = []
    for rec in by_role.get("no_align", []):
        out.append(_claim("L_align helps", _compare(rows, full, rec["name"])))
    f = results.get("fig3") or {}
    models = f.get("models", {})
    if full in models and len(models) == 2:
        other = next(k for k in models if k != full)
        a, b = models[full]["representation_knn"], models[other]["representation_knn"]
        out.append({"claim": "L_align keeps the latent from being dominated by the representation "
                             "(lower k-NN accuracy of telling the representation from the latent)",
                    "verdict": "holds" if a < b else "does not hold",
                    "summary": f"representation k-NN accuracy {full} {a:.3f} vs {other} {b:.3f}",
                    "comparisons": [{"a": full, "b": other, "a_value": a, "b_value": b, "a_better": a < b}]})
    return out


def claims(results: dict) -> list[dict]:
    """The paper's claims for this experiment, each with the numbers it rests on and a verdict
    (holds / mixed / does not hold) on the averaged prediction (best single representation for Table 2,
    as the paper reports there)."""
    name, rows = results["experiment"], results.get("rows") or rows_of(results)
    by_role: dict[str, list[dict]] = {}
    for rec in results.get("variants", {}).values():
        by_role.setdefault(rec["role"], []).append(rec)
    full = by_role["hdys"][0]["name"] if by_role.get("hdys") else None
    if name == "table1" and full:
        return _table1_claims(results, rows, by_role, full)
    if name == "table9" and full:
        return [_claim("temporal refinement helps", _compare(rows, full, rec["name"]))
                for rec in by_role.get("no_temporal", [])]
    if name == "table2":
        return _table2_claims(results, rows)
    if name == "table3":
        return _table3_claims(rows)
    if name == "table4" and full:
        return _table4_claims(results, rows)
    if name == "table10":
        per = [REP_ROWS[r] for r in REP_ROWS if REP_ROWS[r] in rows]
        return [_claim("all representations together beat each one alone",
                       [c for r in per for c in _compare(rows, "HDyS (all)", r, headline=TABLE_METRICS[name])])]
    if name in SIMULATION_FPS and results.get("simulation"):
        return _simulation_claims(results)
    if name == "table6" and results.get("control"):
        from .control.table6 import control_claim
        claim = control_claim(results["control"])
        return [claim] if claim else []
    if name == "fig3" and full:
        return _fig3_claims(results, rows, by_role, full)
    return []
