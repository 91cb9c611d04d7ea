"""Reference clips for motion imitation: SMPL motions as states of hdys's SMPL-topology humanoid.

A clip is what the imitation environment tracks: the humanoid's MuJoCo state per frame (root position and
orientation, 23 ball-joint quaternions, their velocities), the subject's size, and optionally the HDyS
latents of the clip's keypoints (the extra observation of Table 6). Clips come from any corpus sequence
with SMPL parameters (the ``sim`` and ``kin`` domains, or an ingested AMASS motion): the parameters are
smoothed and differentiated as ``hdys label`` does (:func:`hdys.label.smpl_kinematics`), and the clip is
moved so that its lowest sole point stands on its support (the floor, or the platforms a step-up stands on,
kept with the clip) at the clip's 5th-percentile frame. Motions that do not stand on anything are refused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..physics.bodies import SmplBody, smpl_body
from ..physics.contact import Terrain, contact_inverse_dynamics, smpl_feet
from ..physics.floor import MAX_PLATFORMS
from ..physics.inverse import smpl_state
from ..physics.rig import sole_points
from ..schema import Sequence

log = logging.getLogger("hdys.control")

DEFAULT_HEIGHT_M, DEFAULT_MASS_KG = 1.70, 70.0  # the body of a clip without a subject size (as hdys label)
MIN_FRAMES = 10  # a clip shorter than this is too short to imitate (one observation looks one frame ahead)
# A clip whose lowest sole is this far above its support in more than this fraction of its frames is not
# standing on anything (the generator's `free` motions hold the pelvis up); jumps' flights are shorter.
UNSUPPORTED_M = 0.05
UNSUPPORTED_FRACTION = 0.5


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
    terrain: np.ndarray | None = None  # (N, 6) platforms (``contact.Terrain`` rows) the clip stands on, or None
    torque: np.ndarray | None = None  # (T, 75) contact-aware inverse dynamics' joint forces (root rows 0), or None

    @property
    def frames(self) -> int:
        return int(self.qpos.shape[0])

    @cached_property
    def states(self) -> tuple[np.ndarray, ...]:
        """The reference's body positions, rotations, velocities and angular velocities per frame
        (:func:`hdys.control.env.reference_states`), computed once for every environment that tracks it."""
        from .env import reference_states
        return reference_states(self)


@lru_cache(maxsize=64)
def humanoid(height_m: float, mass_kg: float) -> SmplBody:
    """The floor-contact SMPL humanoid of a subject's size (cached: clips of a subject share it)."""
    return smpl_body(round(float(height_m), 3), round(float(mass_kg), 2), floor=True)


def sole_heights(body: SmplBody, qpos: np.ndarray, terrain: np.ndarray | None = None) -> np.ndarray:
    """(T,) height of the lowest sole point per frame (:func:`hdys.physics.contact.smpl_feet`) above its
    support: the floor, or the platform of ``terrain`` (:class:`hdys.physics.contact.Terrain` rows) under it."""
    pts = sole_points(body.model, smpl_feet(body), qpos).reshape(qpos.shape[0], -1, 3)
    support = Terrain(np.asarray(terrain, float).reshape(-1, 6)).height(pts[..., :2]) if terrain is not None else 0.0
    return (pts[..., 2] - support).min(axis=1)


def clip_from_sequence(seq: Sequence, latent: np.ndarray | None = None) -> Clip:
    """The clip of a sequence with SMPL parameters (T, 75); raises ValueError naming what is missing."""
    from ..label import smpl_kinematics  # the label pipeline's smoothing and differentiation

    if seq.smpl is None:
        raise ValueError(f"sequence {seq.sequence_id!r} has no SMPL parameters: it cannot be a reference clip")
    if seq.num_frames < MIN_FRAMES:
        raise ValueError(f"sequence {seq.sequence_id!r} has {seq.num_frames} frames; a clip needs {MIN_FRAMES}")
    if not np.isfinite(seq.smpl).all():
        raise ValueError(f"sequence {seq.sequence_id!r}: its SMPL parameters hold NaN or inf")
    height, mass = seq.height_m or DEFAULT_HEIGHT_M, seq.mass_kg or DEFAULT_MASS_KG
    if seq.height_m is None or seq.mass_kg is None:
        log.warning("%s: no %s; the humanoid is built at %.2f m, %.0f kg", seq.sequence_id,
                    " and ".join(k for k in ("height_m", "mass_kg") if getattr(seq, k) is None), height, mass)
    body = humanoid(height, mass)
    traj = smpl_kinematics(np.asarray(seq.smpl, float), seq.fps, body.pelvis_j0)
    qpos, qvel, qacc = smpl_state(body, traj)
    raw = seq.extra.get("terrain")
    terrain = np.asarray(raw, float).reshape(-1, 6) if raw is not None and len(raw) else None
    if terrain is not None and len(terrain) > MAX_PLATFORMS:
        raise ValueError(f"sequence {seq.sequence_id!r} stands on {len(terrain)} platforms; the humanoid's world "
                         f"has {MAX_PLATFORMS}")
    clearance = sole_heights(body, qpos, terrain)
    shift = np.quantile(clearance, 0.05)  # the body onto its support (platform tops are heights above the floor)
    qpos[:, 2] -= shift
    off = float(np.mean(clearance - shift > UNSUPPORTED_M))
    if off > UNSUPPORTED_FRACTION:
        raise ValueError(f"sequence {seq.sequence_id!r}: its soles are more than {UNSUPPORTED_M * 100:g} cm above "
                         f"any support in {off:.0%} of its frames, a supported or floating motion that no "
                         "simulated humanoid can imitate")
    res = contact_inverse_dynamics(body.model, smpl_feet(body), qpos, qvel, qacc, mass,
                                   terrain=Terrain(terrain) if terrain is not None else None)
    torque = res.joint.copy()
    torque[:, :6] = 0.0  # the root is unactuated: what the contacts do not explain is not applied
    if latent is not None and latent.shape[0] != seq.num_frames:
        raise ValueError(f"sequence {seq.sequence_id!r}: {latent.shape[0]} latent frames for {seq.num_frames}")
    return Clip(seq.sequence_id, float(seq.fps), float(height), float(mass), qpos, qvel, latent, terrain, torque)


def clips_from_corpus(path: str, split: str, datasets: tuple[str, ...] = ("sim", "kin"), limit: int = 0,
                      model=None) -> list[Clip]:
    """Clips of a corpus' ``split`` sequences with SMPL parameters in ``datasets`` (sorted by id; at most
    ``limit`` when > 0). With ``model`` (a loaded HDyS, :func:`hdys.load`), each clip carries the latents
    of its keypoints. A sequence that cannot be a clip is reported and skipped."""
    from ..store import Corpus

    out: list[Clip] = []
    with Corpus(path) as corpus:
        for e in sorted(corpus.entries(split), key=lambda e: e.sequence_id):
            if e.dataset not in datasets or "smpl" not in e.representations:
                continue
            seq = corpus.read(e.sequence_id)
            try:
                clip = clip_from_sequence(seq)
            except ValueError as err:
                log.warning("%s: %s; skipped", path, err)
                continue
            if model is not None:
                if seq.keypoints is None:
                    log.warning("%s: no keypoints for the HDyS latents; skipped", e.sequence_id)
                    continue
                clip.latent = model.predict(seq, representations=["keypoints"]).arrays["latent__keypoints"]
            out.append(clip)
            if limit and len(out) >= limit:
                break
    return out
