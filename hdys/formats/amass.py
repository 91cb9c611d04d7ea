"""AMASS (Mahmood et al., ICCV 2019) motion files -> ``smpl`` (T, 75), optionally SMPL joint keypoints.

Two layouts, both ``np.savez`` archives read with ``allow_pickle=False``:

* ``*_poses.npz`` (AMASS release, SMPL+H G): ``poses`` (T, 156) axis-angles = 22 body joints (root
  first) + 2 x 15 hand joints, ``trans`` (T, 3) m, ``betas`` (16,), ``gender``, ``mocap_framerate``.
  ``poses`` (T, 72) is plain SMPL (24 joints) and (T, 165) SMPL-X (22 body, jaw, eyes, hands).
* ``*_stageii.npz`` (MoSh++ SMPL-X): ``mocap_frame_rate``, ``trans``, ``root_orient`` (T, 3),
  ``pose_body`` (T, 63) = 21 joints, ``pose_hand``, ``pose_jaw``, ``pose_eye``, ``poses`` (T, 165),
  ``betas``, ``gender``, ``surface_model_type``.

``smpl`` = [trans (3), root orient (3), joints 1..23 (69)]. SMPL-H and SMPL-X have 21 body joints,
the same as SMPL's joints 1..21; their finger joints are dropped and SMPL's joints 22, 23 (left/right
hand) are set to zero (the report says so). AMASS is z up, as the canonical world; nothing is rotated.
Subject = the sequence's folder name (AMASS folders are subjects). ``shape.npz`` and ``*_stagei.npz``
files (body shape only) are not sequences and are not listed.

Option ``smpl_model`` (a folder with smplx model files): also ``keypoints`` = the body joints of the
posed model (22, or 24 for SMPL) with ``SMPL_JOINT_NAMES`` and ``SMPL_PARENTS``, via ``smplx`` if it is
installed (it is not a dependency; without it the keypoints are skipped and reported).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..schema import SMPL_JOINT_NAMES, SMPL_PARENTS, Sequence
from .base import Context, FormatError, Reader, Unit, note, root_of, walk

HAND_NOTE = "{model} finger joints dropped; SMPL hand joints 22, 23 set to zero"
KEYS = ("poses", "trans", "root_orient", "pose_body", "betas", "gender", "mocap_framerate", "mocap_frame_rate")


def is_motion(p: Path) -> bool:
    return p.suffix == ".npz" and p.name != "shape.npz" and not p.name.endswith("_stagei.npz")


def load(path: Path) -> dict:
    """The AMASS keys of an npz; other keys (possibly pickled objects) are never touched."""
    try:
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in KEYS if k in d.files}
    except ValueError as exc:
        raise FormatError(f"not a readable AMASS npz ({exc})") from None


def smpl_params(raw: dict) -> tuple[np.ndarray, str]:
    """smpl (T, 75) and the model family ('smpl', 'smplh' or 'smplx')."""
    if "trans" not in raw or ("poses" not in raw and "pose_body" not in raw):
        raise FormatError(f"expected keys 'trans' and 'poses' (or 'root_orient' + 'pose_body'), got {sorted(raw)}")
    trans = np.asarray(raw["trans"], np.float64)  # (T, 3)
    if "root_orient" in raw and "pose_body" in raw:
        root, body, model = raw["root_orient"], raw["pose_body"], "smplx"  # (T, 3), (T, 63)
    else:
        poses = np.asarray(raw["poses"], np.float64)
        if poses.ndim != 2 or poses.shape[1] not in (72, 156, 165):
            raise FormatError(f"poses: expected (T, 72|156|165) axis-angles, got {poses.shape}")
        model = {72: "smpl", 156: "smplh", 165: "smplx"}[poses.shape[1]]
        root, body = poses[:, :3], poses[:, 3:72] if model == "smpl" else poses[:, 3:66]
    if body.ndim != 2 or body.shape[1] not in (63, 69) or len(body) != len(trans) or trans.shape[1:] != (3,):
        raise FormatError(f"inconsistent shapes: trans {trans.shape}, root {root.shape}, body {body.shape}")
    if body.shape[1] == 63:
        body = np.concatenate([body, np.zeros((len(body), 6))], axis=1)  # hands 22, 23 = 0
    return np.concatenate([trans, root, body], axis=1), model  # (T, 75)


def frame_rate(raw: dict) -> float:
    for key in ("mocap_framerate", "mocap_frame_rate"):
        if key in raw:
            return float(raw[key])
    raise FormatError("no frame rate (mocap_framerate or mocap_frame_rate)")


def keypoints(raw: dict, smpl: np.ndarray, model: str, model_dir: str) -> np.ndarray:
    """Body joints (T, J, 3) in metres of the posed smplx model; J = 24 for SMPL, else 22."""
    import smplx  # noqa: PLC0415 - optional
    import torch  # noqa: PLC0415

    gender = str(np.asarray(raw.get("gender", "neutral")).astype(str)).strip().lower() or "neutral"
    betas = np.asarray(raw.get("betas", np.zeros(10)), np.float32).reshape(-1)[:16]
    body = smplx.create(model_dir, model_type=model, gender=gender, num_betas=len(betas), use_pca=False,
                        batch_size=1)
    betas = np.pad(betas, (0, max(body.num_betas - len(betas), 0)))[:body.num_betas]  # the model's own count
    n = 24 if model == "smpl" else 22
    body_pose = smpl[:, 6:6 + 3 * (n - 1)] if model == "smpl" else smpl[:, 6:69]
    out = []
    with torch.no_grad():
        for a in range(0, len(smpl), 1024):
            b = slice(a, a + 1024)
            m = len(smpl[b])
            kw = dict(betas=torch.as_tensor(betas)[None].expand(m, -1),
                      global_orient=torch.as_tensor(smpl[b, 3:6], dtype=torch.float32),
                      body_pose=torch.as_tensor(body_pose[b], dtype=torch.float32),
                      transl=torch.as_tensor(smpl[b, :3], dtype=torch.float32))
            out.append(body(**kw).joints[:, :n].numpy())  # (m, J, 3)
    return np.concatenate(out)


def find(src: Path) -> list[Unit]:
    return [Unit(path=p, files=(p,), root=root_of(src)) for p in walk(src, is_motion)]


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    raw = load(unit.path)
    smpl, model = smpl_params(raw)
    seq = Sequence(fps=frame_rate(raw), sequence_id=f"{unit.root.name}/{unit.rel}", subject=unit.path.parent.name,
                   smpl=smpl)
    took, dropped = ["smpl"], []
    if model != "smpl":
        dropped.append(HAND_NOTE.format(model=model.upper().replace("SMPL", "SMPL-")))
    model_dir = ctx.get("smpl_model")
    if model_dir is not None:
        try:
            kp = keypoints(raw, smpl, model, str(model_dir))
        except ImportError:
            dropped.append("smpl_model given but smplx is not installed; keypoints skipped")
        except (OSError, ValueError, RuntimeError, KeyError, AssertionError) as exc:
            dropped.append(f"keypoints skipped: smplx could not pose the model ({type(exc).__name__}: {exc})")
        else:
            seq.keypoints, seq.keypoint_names = kp, list(SMPL_JOINT_NAMES[:kp.shape[1]])
            seq.keypoint_parents = np.asarray(SMPL_PARENTS[:kp.shape[1]])
            took.append("keypoints")
    yield note(seq, {unit.path: took}, {"": "; ".join(dropped)} if dropped else None)


READER = Reader(name="amass", find=find, read=read, options=("smpl_model",),
                summary="AMASS *_poses.npz / *_stageii.npz -> smpl (T, 75); keypoints with smplx")
