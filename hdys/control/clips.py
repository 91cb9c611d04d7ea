"""Reference clips for motion imitation: SMPL motions as states of hdys's SMPL-topology humanoid.

A clip is what the imitation environment tracks: the humanoid's MuJoCo state per frame (root position and
orientation, 23 ball-joint quaternions, their velocities), the subject's size, and optionally the HDyS
latents of the clip's keypoints (the extra observation of Table 6). Clips come from any corpus sequence
with SMPL parameters (the ``sim`` and ``kin`` domains, or an ingested AMASS motion): the parameters are
smoothed and differentiated as ``hdys label`` does (:func:`hdys.label.smpl_kinematics`), and the clip is
lifted so that its lowest sole point over the clip's 5th-percentile frame stands on the floor.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from ..physics.bodies import SmplBody, smpl_body
from ..physics.contact import smpl_feet
from ..physics.inverse import smpl_state
from ..schema import Sequence

log = logging.getLogger("hdys.control")

MIN_FRAMES = 10  # a clip shorter than this is too short to imitate (one observation looks one frame ahead)


@dataclass
class Clip:
    """One reference motion: qpos (T, 99), qvel (T, 75) of the SMPL humanoid of (height_m, mass_kg) at fps."""

    name: str
    fps: float
    height_m: float
    mass_kg: float
    qpos: np.ndarray
    qvel: np.ndarray
    latent: np.ndarray | None = None  # (T, D) HDyS latents of the clip's keypoints, or None

    @property
    def frames(self) -> int:
        return int(self.qpos.shape[0])


@lru_cache(maxsize=64)
def humanoid(height_m: float, mass_kg: float) -> SmplBody:
    """The floor-contact SMPL humanoid of a subject's size (cached: clips of a subject share it)."""
    return smpl_body(round(float(height_m), 3), round(float(mass_kg), 2), floor=True)


def sole_heights(body: SmplBody, qpos: np.ndarray) -> np.ndarray:
    """(T,) height of the lowest sole point per frame (:func:`hdys.physics.contact.smpl_feet`)."""
    feet = smpl_feet(body)
    data = mujoco.MjData(body.model)
    out = np.empty(qpos.shape[0])
    for t, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(body.model, data)
        pts = np.einsum("fpij,fpj->fpi", data.xmat[feet.body].reshape(2, 4, 3, 3), feet.local)
        out[t] = (pts + data.xpos[feet.body])[..., 2].min()
    return out


def clip_from_sequence(seq: Sequence, latent: np.ndarray | None = None) -> Clip:
    """The clip of a sequence with SMPL parameters (T, 75); raises ValueError naming what is missing."""
    from ..label import smpl_kinematics  # the label pipeline's smoothing and differentiation

    if seq.smpl is None:
        raise ValueError(f"sequence {seq.sequence_id!r} has no SMPL parameters: it cannot be a reference clip")
    if seq.num_frames < MIN_FRAMES:
        raise ValueError(f"sequence {seq.sequence_id!r} has {seq.num_frames} frames; a clip needs {MIN_FRAMES}")
    if not np.isfinite(seq.smpl).all():
        raise ValueError(f"sequence {seq.sequence_id!r}: its SMPL parameters hold NaN or inf")
    height = seq.height_m or 1.70
    mass = seq.mass_kg or 70.0
    body = humanoid(height, mass)
    traj = smpl_kinematics(np.asarray(seq.smpl, float), seq.fps, body.pelvis_j0)
    qpos, qvel, _ = smpl_state(body, traj)
    qpos[:, 2] -= np.quantile(sole_heights(body, qpos), 0.05)  # the floor at z = 0
    if latent is not None and latent.shape[0] != seq.num_frames:
        raise ValueError(f"sequence {seq.sequence_id!r}: {latent.shape[0]} latent frames for {seq.num_frames}")
    return Clip(seq.sequence_id, float(seq.fps), float(height), float(mass), qpos, qvel, latent)


def clips_from_corpus(path: str, split: str, datasets: tuple[str, ...] = ("sim", "kin"), limit: int = 0,
                      model=None) -> list[Clip]:
    """Clips of a corpus' ``split`` sequences with SMPL parameters in ``datasets`` (sorted by id; at most
    ``limit`` when > 0). With ``model`` (a loaded HDyS, :func:`hdys.load`), each clip carries the latents
    of its keypoints. A sequence that cannot be a clip is reported and skipped."""
    from ..store import Corpus

    corpus = Corpus(path)
    out: list[Clip] = []
    for e in sorted(corpus.entries(split), key=lambda e: e.sequence_id):
        if e.dataset not in datasets or "smpl" not in e.representations:
            continue
        seq = corpus.read(e.sequence_id)
        latent = None
        if model is not None:
            if seq.keypoints is None:
                log.warning("%s: no keypoints for the HDyS latents; skipped", e.sequence_id)
                continue
            latent = model.predict(seq, representations=["keypoints"]).arrays["latent__keypoints"]
        try:
            out.append(clip_from_sequence(seq, latent))
        except ValueError as err:
            log.warning("%s: %s; skipped", path, err)
        if limit and len(out) >= limit:
            break
    return out
