"""``hdys predict`` and ``hdys.load``: dynamics from a trained run, for any recording hdys reads.

The run directory is the model's contract: ``config.json`` (architecture, window, the muscle and EMG
channel vocabularies), ``normalizer.json`` (the feature and target statistics of its training data) and
``checkpoints/`` (weights, safetensors). Nothing else is read to predict.

    >>> import hdys
    >>> model = hdys.load("quickstart/run")
    >>> model.outputs["torque_rajagopal"]["unit"]
    'N m'
    >>> (pred,) = model.predict("walk.c3d", mass_kg=72)   # any file or folder `hdys ingest` reads
    >>> pred.arrays["torque_rajagopal"].shape              # (T, 17)

Inputs: a ``Sequence``, or paths whose format is detected from the file (``fmt`` forces one); the
readers are those of ``hdys ingest`` (``hdys.formats``). Outputs per sequence (``Prediction.arrays``):
each dynamics type averaged over the input's kinematics representations, the same per representation
(``<key>__<representation>``), the latents (``latent__<representation>``), ``fps``. Torques and GRF are
in N·m and N with a body mass, else per kilogram (keys ending in ``_per_kg``).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .checkpoint import load_run
from .data import average_over_representations, predict_sequence
from .schema import (RAJAGOPAL_TORQUE_DOFS, SMPL_TORQUE_NAMES, SchemaError, Sequence, load_npz)

log = logging.getLogger("hdys.predict")

UNITS = {"torque_rajagopal": "N m", "torque_smpl": "N m", "grf": "N", "muscle_activation": "1 (0-1)",
         "emg": "envelope units"}
GRF_CHANNELS = [f"{foot}_{a}" for foot in ("left", "right") for a in "xyz"]
PER_KG = ("torque_rajagopal", "torque_smpl", "grf")
# the format of a file, from its suffix (npz files are told apart by their keys)
SUFFIX_FORMATS = {".c3d": "c3d", ".trc": "opensim", ".mot": "opensim", ".sto": "opensim", ".b3d": "addbiomechanics",
                  ".pth": "groundlink", ".pkl": "imdy"}


@dataclass
class Prediction:
    """What the model predicts for one sequence: ``arrays`` (see the module docstring) and ``source``,
    the input sequence (its kinematics, and any reference dynamics it came with)."""

    sequence_id: str
    fps: float
    arrays: dict[str, np.ndarray]
    source: Sequence

    @property
    def time(self) -> np.ndarray:
        return np.arange(self.source.num_frames) / self.fps

    def to_npz(self, path: str | Path) -> Path:
        write_prediction(self.arrays, path)
        return Path(path)


class Predictor:
    """A trained run, ready to predict (``hdys.load``)."""

    def __init__(self, run_dir: str | Path, device: str = "cpu"):
        self.run_dir = Path(run_dir)
        self.model, self.cfg, self.norm, self.vocab = load_run(self.run_dir, device)

    @property
    def outputs(self) -> dict[str, dict]:
        """Every output with its unit and channel names (torques and GRF: per kg when no mass is known)."""
        names = {"torque_rajagopal": list(RAJAGOPAL_TORQUE_DOFS), "torque_smpl": list(SMPL_TORQUE_NAMES),
                 "grf": GRF_CHANNELS, "muscle_activation": list(self.vocab["muscle_activation"]),
                 "emg": list(self.vocab["emg"])}
        return {k: {"unit": UNITS[k], "channels": v} for k, v in names.items() if v}

    def predict(self, x: Sequence | str | Path | Iterable[str | Path], *, representations: list[str] | None = None,
                fmt: str | None = None, mass_kg: float | None = None, height_m: float | None = None,
                progress: bool = False) -> Prediction | list[Prediction]:
        """A ``Prediction`` for a ``Sequence``; for paths, one per sequence read from them (files that
        cannot be read are reported and skipped, see ``read_inputs``)."""
        if isinstance(x, Sequence):
            return self._one(x, representations, "input", mass_kg)
        paths = [x] if isinstance(x, (str, Path)) else list(x)
        return [self._one(seq, representations, seq.extra.get("source", seq.sequence_id), mass_kg)
                for seq in read_inputs(paths, fmt, mass_kg=mass_kg, height_m=height_m, progress=progress)]

    def _one(self, seq: Sequence, representations, source: str, mass_kg: float | None) -> Prediction:
        if seq.mass_kg is None and mass_kg is not None:
            seq.mass_kg = float(mass_kg)
        arrays = predict(self.model, self.cfg, self.norm, self.vocab, seq, representations, source=source)
        return Prediction(seq.sequence_id or Path(source).stem, float(seq.fps), arrays, seq)


def load(run_dir: str | Path, device: str = "cpu") -> Predictor:
    """The trained model of a run directory (see the module docstring)."""
    return Predictor(run_dir, device)


def detect_format(path: Path) -> str:
    """The ``hdys ingest`` format of a file, or of the first recognised file in a folder."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        suffix = p.suffix.lower()
        if suffix in SUFFIX_FORMATS:
            return SUFFIX_FORMATS[suffix]
        if suffix == ".npz":
            try:
                with np.load(p, allow_pickle=False) as z:
                    keys = set(z.files)
            except (OSError, ValueError, EOFError) as exc:
                raise SchemaError(f"{p}: not a readable npz archive (truncated or corrupt?): {exc}") from None
            if {"poses", "mocap_framerate"} & keys or {"pose_body", "mocap_frame_rate"} & keys:
                return "amass"
            return "npz"
        if p.name == "emgvalues.npy":
            return "mia"
    why = "no recognised file in it" if path.is_dir() else f"suffix {path.suffix!r}"
    known = sorted(set(SUFFIX_FORMATS.values()) | {"npz", "amass", "mia", "mint"})
    raise ValueError(f"{path}: cannot tell its format ({why}); pass --format (one of {', '.join(known)})")


def read_inputs(paths: Iterable[str | Path], fmt: str | None = None, *, mass_kg: float | None = None,
                height_m: float | None = None, progress: bool = False) -> Iterable[Sequence]:
    """Sequences of every path (file or folder), each read by its format's reader with the options it
    takes (``mass_kg`` where the file has none, ``height_m``); unreadable files are logged and skipped."""
    from tqdm import tqdm

    from .formats import READERS, read_source
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or directory")
    for p in tqdm(paths, disable=not progress or len(paths) < 2, unit="input", desc="predicting"):
        try:
            f = fmt or detect_format(p)
        except (ValueError, SchemaError) as exc:
            if len(paths) == 1:
                raise
            log.warning("skipping %s", exc)  # one unknown file among many does not stop the others
            continue
        reader = READERS.get(f)
        if reader is None:
            raise ValueError(f"unknown format {f!r}; known formats: {', '.join(sorted(READERS))}")
        options = {k: v for k, v in (("mass_kg", mass_kg), ("height_m", height_m))
                   if v is not None and k in reader.options}
        report: list[dict] = []
        n = 0
        for seq in read_source(f, p, report=report, **options):
            n += 1
            if height_m is not None and seq.height_m is None:
                seq.height_m = float(height_m)
            yield seq
        if not n:
            reasons = "; ".join(r["reason"] for r in report if r["status"] == "skipped") or "no sequence in it"
            log.warning("%s: nothing to predict from (%s)", p, reasons)


def osim_mass(path: str | Path) -> float:
    """Total body mass of an OpenSim model file: the sum of its bodies' ``<mass>``."""
    import xml.etree.ElementTree as ET
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .osim model ({exc})") from None
    masses = [float(m.text) for body in root.iter("Body") for m in body.findall("mass") if m.text]
    if not masses:
        raise ValueError(f"{path}: no <Body><mass> elements (not an OpenSim model?)")
    return float(sum(masses))


def _informative(seq: Sequence, reps: list[str], source: str) -> list[str]:
    """The representations that carry information: an array that is all NaN (every marker occluded)
    is left out with a warning, and an input left with none is refused."""
    keep = []
    for r in reps:
        a = np.asarray(getattr(seq, r), np.float64)
        finite = float(np.isfinite(a).mean()) if a.size else 0.0
        if finite == 0.0 or (np.nanstd(a) == 0.0 if finite else True):
            log.warning("%s: %s carries no information (%s); not used", source, r,
                        "all NaN" if finite == 0.0 else "constant")
            continue
        if finite < 0.5:
            log.warning("%s: %s is %.0f %% missing; predictions from it are uncertain", source, r, 100 * (1 - finite))
        keep.append(r)
    if not keep:
        raise SchemaError(f"{source}: none of its kinematics ({', '.join(reps)}) carries information "
                          "(all NaN or constant); nothing to predict from")
    return keep


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
    usable = _informative(seq, usable, source)
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
        name = d + (suffix if d in PER_KG else "")
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


# --------------------------------------------------------------------------------------------------
# writing


def trial_name(pred: Prediction) -> str:
    """A file-name stem for a prediction: its sequence id with path separators and odd characters as _."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", pred.sequence_id.replace("/", "__")).strip("_") or "sequence"


def write_opensim(pred: Prediction, out_dir: Path) -> list[Path]:
    """The OpenSim files of a prediction (``hdys.opensim_files``); SMPL torques stay in the npz."""
    from . import opensim_files as osf
    a, t, stem = pred.arrays, pred.time, trial_name(pred)
    if "torque_rajagopal" not in a and "torque_rajagopal_per_kg" in a:
        log.warning("%s: no body mass, OpenSim files need N m and N: only activations and EMG written", stem)
    written = []
    if "torque_rajagopal" in a:
        written.append(osf.write_id(out_dir / f"{stem}_id.sto", t, a["torque_rajagopal"]))
    if "muscle_activation" in a:
        written.append(osf.write_activations(out_dir / f"{stem}_activations.sto", t, a["muscle_activation"],
                                             [str(n) for n in a["muscle_names"]]))
    if "grf" in a:
        cop = pred.source.cop
        osf.write_ground_forces(out_dir / f"{stem}_grf.mot", out_dir / f"{stem}_external_loads.xml", t, a["grf"], cop)
        written += [out_dir / f"{stem}_grf.mot", out_dir / f"{stem}_external_loads.xml"]
    if "emg" in a:
        written.append(osf.write_emg(out_dir / f"{stem}_emg.sto", t, a["emg"], [str(n) for n in a["emg_names"]]))
    return written


def write_plots(pred: Prediction, out_dir: Path) -> list[Path]:
    """PNGs of every predicted dynamics type over time, against the input's own labels where it has them."""
    from .plots import plot_dynamics
    a, stem, written = pred.arrays, trial_name(pred), []
    names = {"torque_rajagopal": list(RAJAGOPAL_TORQUE_DOFS), "torque_smpl": list(SMPL_TORQUE_NAMES),
             "grf": GRF_CHANNELS, "muscle_activation": [str(n) for n in a.get("muscle_names", [])],
             "emg": [str(n) for n in a.get("emg_names", [])]}
    for key, channels in names.items():
        for k in (key, key + "_per_kg"):
            if k not in a or not channels:
                continue
            ref = getattr(pred.source, key) if k == key else None
            ref = _aligned(ref, channels, pred.source, key)
            unit = UNITS[key] + ("/kg" if k.endswith("_per_kg") else "")
            written += plot_dynamics(out_dir / f"{stem}_{k}.png", pred.time, a[k], channels, f"{stem}: {k}", unit,
                                     reference=ref)
    return written


def _aligned(ref, channels: list[str], seq: Sequence, key: str):
    """The input's own labels in the prediction's channel order (None where they cannot be aligned)."""
    if ref is None:
        return None
    ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
    own = {"muscle_activation": seq.muscle_names, "emg": seq.emg_names}.get(key)
    if own is None:
        return ref if ref.shape[1] == len(channels) else None
    index = {n: i for i, n in enumerate(own)}
    out = np.full((len(ref), len(channels)), np.nan)
    for j, n in enumerate(channels):
        if n in index:
            out[:, j] = ref[:, index[n]]
    return out if np.isfinite(out).any() else None


def predict_paths(run_dir: str | Path, inputs: list[str | Path], out_dir: str | Path, *, fmt: str | None = None,
                  outputs: Iterable[str] = ("npz", "plots"), representations: list[str] | None = None,
                  mass_kg: float | None = None, height_m: float | None = None, progress: bool = True) -> list[Path]:
    """``hdys predict``: every sequence of ``inputs`` predicted and written to ``out_dir`` as
    ``<trial>.npz``, OpenSim files and plots (``outputs``); returns the files written."""
    outputs = set(outputs)
    unknown = outputs - {"npz", "opensim", "plots"}
    if unknown:
        raise ValueError(f"--output: unknown kind(s) {sorted(unknown)}; expected npz, opensim, plots")
    model = load(run_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for seq in read_inputs(inputs, fmt, mass_kg=mass_kg, height_m=height_m, progress=progress):
        pred = model._one(seq, representations, seq.extra.get("source", seq.sequence_id), mass_kg)
        if "npz" in outputs:
            written.append(pred.to_npz(out_dir / f"{trial_name(pred)}.npz"))
        if "opensim" in outputs:
            written += write_opensim(pred, out_dir)
        if "plots" in outputs:
            written += write_plots(pred, out_dir / "plots")
    return written


def predict_file(run_dir: str | Path, input_path: str | Path, out: str | Path,
                 representations: list[str] | None = None) -> dict[str, np.ndarray]:
    """Predict from a schema npz and write ``out`` (npz): the single-file form of ``hdys predict``."""
    model = load(run_dir)
    seq = load_npz(input_path)
    pred = model._one(seq, representations, str(input_path), None)
    return write_prediction(pred.arrays, out)
