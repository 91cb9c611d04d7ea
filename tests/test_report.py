import json

import numpy as np
import pytest

from hdys.plots import plot_prediction, plot_training_curve
from hdys.report import format_value, markdown_table, write_report


def _results():
    return {
        "HDyS": {
            "imdy": {"torque_smpl": {"mPJE": {"smpl": 0.4674, "avg": 0.5765, "best": 0.4674}}},
            "mia": {"emg": {"RMSE": {"avg": 11.83, "best": 11.6}, "PCC": {"avg": 0.7232, "best": 0.7261}}},
        },
        "ImDy-only": {
            "imdy": {"torque_smpl": {"mPJE": {"avg": 0.6854, "best": 0.5403}}},
        },
        "MiA-only": {
            "mia": {"emg": {"RMSE": {"avg": 13.6, "best": 13.5}, "PCC": {"avg": 0.7500, "best": 0.6421}}},
        },
    }


def test_format_value():
    assert format_value(0.63) == "0.6300"
    assert format_value(11.83) == "11.8"
    assert format_value(1.234) == "1.23"
    assert format_value(1234.5) == "1234"
    assert format_value(9.996) == "10.0"
    assert format_value(None) == "-"
    assert format_value(float("nan")) == "NaN"


def test_markdown_table_cells_dashes_and_bold():
    md = markdown_table(_results(), "Table 1")
    lines = md.splitlines()
    assert lines[0] == "### Table 1"
    header = next(line for line in lines if line.startswith("| Method"))
    cols = [c.strip() for c in header.strip("|").split("|")]
    assert cols[0] == "Method" and len(cols) == 4
    assert "imdy" in cols[1] and "mPJE" in cols[1]
    assert "RMSE" in cols[2] and "PCC" in cols[3]
    rows = {c[0]: c[1:] for c in ([x.strip() for x in line.strip("|").split("|")]
                                  for line in lines if line.startswith("| ") and not line.startswith("| Method"))}
    assert rows["HDyS"] == ["**0.5765**/0.4674", "**11.8**/11.6", "0.7232/0.7261"]
    assert rows["ImDy-only"] == ["0.6854/0.5403", "-", "-"]
    # PCC: higher is better -> MiA-only bold by its avg (0.75) even though HDyS has the better best
    assert rows["MiA-only"] == ["-", "13.6/13.5", "**0.7500**/0.6421"]
    assert sum(line.count("**") for line in lines if line.startswith("| ")) == 6  # exactly 3 bold cells


def test_markdown_table_single_value_rows():
    res = {"baseline": {"imdy": {"torque_smpl": {"mPJE": {"smpl": 0.63}}}},
           "ours": {"imdy": {"torque_smpl": {"mPJE": {"avg": 0.5, "best": 0.45}}}}}
    md = markdown_table(res, "t")
    assert "| baseline | 0.6300 |" in md
    assert "| ours | **0.5000**/0.4500 |" in md


def test_write_report(tmp_path):
    res = _results()
    res["HDyS"]["mia"]["emg"]["PCC"]["smpl"] = float("nan")
    meta = {"title": "Smoke", "command": "hdys eval --budget 5", "corpus": ["mia", "imdy"], "budget_s": 300}
    pj, pm = tmp_path / "out" / "r.json", tmp_path / "out" / "r.md"
    write_report(pj, pm, res, meta)
    data = json.loads(pj.read_text())
    assert data["meta"]["command"] == "hdys eval --budget 5"
    assert data["results"]["HDyS"]["imdy"]["torque_smpl"]["mPJE"]["avg"] == pytest.approx(0.5765)
    assert data["results"]["HDyS"]["mia"]["emg"]["PCC"]["smpl"] is None
    text = pm.read_text()
    assert text.startswith("# Smoke")
    assert "hdys eval --budget 5" in text and "**0.5765**/0.4674" in text


def test_plots_write_png(tmp_path):
    t = np.linspace(0, 2, 40)
    target = np.stack([np.sin(t * k) for k in range(1, 9)], axis=1)
    target[10:12, 0] = np.nan
    pred = target + 0.1
    out = plot_prediction(tmp_path / "p" / "pred.png", t, pred, target, [f"ch{i}" for i in range(8)],
                          "EMG", max_channels=3, unit="N m")
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = plot_training_curve(tmp_path / "curve.png", np.arange(10), np.linspace(2, 0.1, 10), "loss")
    assert out2.stat().st_size > 1000
    out3 = plot_training_curve(tmp_path / "curve2.png", np.arange(5),
                               {"recon": [1, 0.5, 0.3, 0.2, 0.1], "align": [0, -1, -2, -3, -4]}, "losses")
    assert out3.stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_prediction(tmp_path / "bad.png", t, pred, target, ["a"], "x")
