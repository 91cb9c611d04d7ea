"""Predictions as the files OpenSim writes and reads (OpenSim 4 "File formats"; checked against OpenSim
4.6's ``TimeSeriesTable`` in ``benchmarks/opensim_files.py``).

Per trial ``<stem>``:

* ``<stem>_id.sto``: the InverseDynamicsTool's layout, ``<coordinate>_moment`` columns in N·m for the 17
  non-root Rajagopal coordinates (OpenSim also writes the pelvis' six residuals, which HDyS does not
  predict).
* ``<stem>_activations.sto``: the StaticOptimization activation layout, one column per muscle (the
  model's muscle names, which are the OpenSim names of myo-sim's legs and the Rajagopal model).
* ``<stem>_grf.mot`` and ``<stem>_external_loads.xml``: ground forces as OpenSim's ExternalLoads take
  them, y up, the right foot first (``ground_force_r_v{x,y,z}``, ``ground_force_r_p{x,y,z}``,
  ``ground_torque_r_{x,y,z}``, then ``_l``), applied to ``calcn_r`` and ``calcn_l``. HDyS predicts the
  forces, not the centres of pressure: where the input has no CoP, the points are zero and expressed in
  the calcaneus (the force acts at its origin) and the xml says so; the free moments are zero.
* ``<stem>_emg.sto``: the EMG envelopes, one column per channel.

Every table is ``name``, ``version=1``, ``nRows``, ``nColumns`` (time included), ``inDegrees=no``,
``endheader``, a tab-separated column line starting with ``time``, one row per frame.
"""
from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from .schema import RAJAGOPAL_TORQUE_DOFS

Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # (x, y, z) -> (x, z, -y)


def write_table(path: Path, name: str, columns: list[str], time: np.ndarray, data: np.ndarray,
                comments: tuple[str, ...] = ()) -> Path:
    """An OpenSim ``.sto``/``.mot`` table (see the module docstring), written atomically."""
    data = np.asarray(data, np.float64).reshape(len(time), -1)
    if data.shape[1] != len(columns):
        raise ValueError(f"{path.name}: {len(columns)} column names for {data.shape[1]} columns")
    if not np.isfinite(data).all():
        raise ValueError(f"{path.name}: OpenSim tables cannot hold NaN or inf")
    head = [name, "version=1", f"nRows={len(time)}", f"nColumns={len(columns) + 1}", "inDegrees=no", *comments,
            "endheader", "\t".join(["time", *columns])]
    rows = np.concatenate([np.asarray(time, np.float64)[:, None], data], axis=1)
    body = "\n".join("\t".join(f"{v:.8g}" for v in row) for row in rows)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(head) + "\n" + body + "\n")
    os.replace(tmp, path)
    return path


def write_id(path: Path, time: np.ndarray, torque: np.ndarray) -> Path:
    """torque_rajagopal (T, 17) in N·m as an InverseDynamicsTool ``.sto``."""
    return write_table(path, "Inverse Dynamics Generalized Forces", [f"{d}_moment" for d in RAJAGOPAL_TORQUE_DOFS],
                       time, torque, ("predicted by hdys (HDyS); the pelvis residuals are not predicted",))


def write_activations(path: Path, time: np.ndarray, activation: np.ndarray, muscles: list[str]) -> Path:
    """muscle_activation (T, N) as a StaticOptimization activation ``.sto``."""
    return write_table(path, "Static Optimization", list(muscles), time, np.clip(activation, 0.0, 1.0),
                       ("predicted by hdys (HDyS): muscle activations",))


def write_emg(path: Path, time: np.ndarray, emg: np.ndarray, channels: list[str]) -> Path:
    return write_table(path, "EMG envelopes", list(channels), time, np.clip(emg, 0.0, None),
                       ("predicted by hdys (HDyS): sEMG envelopes",))


def write_ground_forces(mot: Path, xml: Path, time: np.ndarray, grf: np.ndarray, cop: np.ndarray | None,
                        moment: np.ndarray | None = None) -> None:
    """grf (T, 2, 3) in N, feet [left, right], z up, and optionally cop (T, 2, 3) in m and each foot's moment
    about it (T, 2, 3) in N m (the free moment: ``ground_torque_*``, else zero), as ``<stem>_grf.mot`` with its
    ExternalLoads ``.xml`` (see the module docstring)."""
    known = cop is not None and np.isfinite(cop).all()
    point = (cop if known else np.zeros_like(grf)) @ (Z_UP_TO_Y_UP.T if known else np.eye(3))
    force = grf @ Z_UP_TO_Y_UP.T
    torque = np.zeros_like(force) if moment is None or not known else np.nan_to_num(moment) @ Z_UP_TO_Y_UP.T
    columns, blocks = [], []
    for foot, side in ((1, "r"), (0, "l")):  # right first
        columns += [f"ground_force_{side}_v{a}" for a in "xyz"] + [f"ground_force_{side}_p{a}" for a in "xyz"] + \
            [f"ground_torque_{side}_{a}" for a in "xyz"]
        blocks += [force[:, foot], point[:, foot], torque[:, foot]]
    write_table(mot, mot.name, columns, time, np.concatenate(blocks, axis=1),
                ("predicted by hdys (HDyS): ground reaction forces, y up" +
                 ("" if known else "; centres of pressure unknown, forces applied at the calcaneus origin"),))
    forces = []
    for side in ("r", "l"):
        frame = "ground" if known else f"calcn_{side}"
        forces.append(f"""      <ExternalForce name="{side}_foot_grf">
        <applied_to_body>calcn_{side}</applied_to_body>
        <force_expressed_in_body>ground</force_expressed_in_body>
        <point_expressed_in_body>{frame}</point_expressed_in_body>
        <force_identifier>ground_force_{side}_v</force_identifier>
        <point_identifier>ground_force_{side}_p</point_identifier>
        <torque_identifier>ground_torque_{side}_</torque_identifier>
        <data_source_name>{escape(mot.name)}</data_source_name>
      </ExternalForce>""")
    text = f"""<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
  <ExternalLoads name="externalloads">
    <objects>
{chr(10).join(forces)}
    </objects>
    <groups />
    <datafile>{escape(mot.name)}</datafile>
  </ExternalLoads>
</OpenSimDocument>
"""
    tmp = xml.with_name(f".{xml.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, xml)
