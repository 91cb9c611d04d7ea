"""``hdys predict``: dynamics and latents for every frame of a sequence."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .checkpoint import load_run
from .data import average_over_representations, predict_sequence
from .schema import SchemaError, Sequence, load_npz

log = logging.getLogger("hdys.predict")


def predict_file(run_dir: str | Path, input_path: str | Path, out: str | Path,
                 representations: list[str] | None = None) -> dict[str, np.ndarray]:
    """Predict from a schema npz and write ``out`` (npz).

    Output keys: ``torque_rajagopal``, ``torque_smpl``, ``grf`` (T, 2, 3), ``muscle_activation`` with
    ``muscle_names``, ``emg`` with ``emg_names``: the average over the input's representations; the same
    with a ``__<representation>`` suffix for each representation's own prediction; ``latent__<rep>``
    (T, D); ``fps``, ``representations``. Torques and GRF are in N·m and N when the input has
    ``mass_kg``, otherwise per kilogram and the keys end in ``_per_kg``.
    """
    model, cfg, norm, vocab = load_run(run_dir)
    seq = load_npz(input_path)
    return write_prediction(predict(model, cfg, norm, vocab, seq, representations, source=str(input_path)), out)


def predict(model, cfg, norm, vocab, seq: Sequence, representations: list[str] | None = None,
            source: str = "input") -> dict[str, np.ndarray]:
    usable = seq.kinematics
    if representations:
        missing = [r for r in representations if r not in usable]
        if missing:
            raise SchemaError(f"{source}: asked for representation(s) {missing}, but the sequence has "
                              f"{usable or 'no kinematics'}")
        usable = list(representations)
    if not usable:
        raise SchemaError(f"{source}: no kinematics representation the model can use; expected at least one of "
                          "markers, keypoints, joint_angles, smpl")
    per_rep = predict_sequence(model, seq, norm, vocab, cfg.train.window, reps=usable)
    latents = per_rep.pop("_latent")
    avg = average_over_representations(per_rep)
    suffix = "" if seq.mass_kg is not None else "_per_kg"
    if seq.mass_kg is None:
        log.warning("%s has no mass_kg: torques and GRF are written per kilogram (keys *_per_kg)", source)
    out: dict[str, np.ndarray] = {"fps": np.float32(seq.fps), "representations": np.asarray(usable)}

    def put(d: str, y: np.ndarray, tag: str) -> None:
        if d == "grf":
            y = y.reshape(len(y), 2, 3)
        name = d + (suffix if d in ("torque_rajagopal", "torque_smpl", "grf") else "")
        out[name + tag] = y.astype(np.float32)

    for d, y in avg.items():
        put(d, y, "")
    for rep, preds in per_rep.items():
        for d, y in preds.items():
            put(d, y, f"__{rep}")
        if rep in latents:
            out[f"latent__{rep}"] = latents[rep]
    if vocab["muscle_activation"]:
        out["muscle_names"] = np.asarray(vocab["muscle_activation"])
    if vocab["emg"]:
        out["emg_names"] = np.asarray(vocab["emg"])
    return out


def write_prediction(out_arrays: dict[str, np.ndarray], out: str | Path) -> dict[str, np.ndarray]:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **out_arrays)
    tmp.replace(out)
    return out_arrays
