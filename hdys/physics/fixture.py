"""The physics fixture: five small domains of canonical ``Sequence`` records with exact labels.

| domain | body | fps | kinematics | dynamics |
|---|---|---|---|---|
| lab | Rajagopal | 100 | markers, keypoints, joint_angles | torque_rajagopal, grf (+ cop, cop_moment, contact) |
| sim | SMPL | 30 | markers, keypoints, smpl (jittered motion) | torque_smpl, grf (+ cop, cop_moment, contact) |
| muscle | Rajagopal + myolegs muscles | 50 | markers, keypoints | muscle_activation (80 myolegs muscles) |
| emg | Rajagopal with arms + myolegs and myofullbody arm muscles | 30 | markers, noisy keypoints | emg (the 8 channels of Muscles in Action) |
| kin | SMPL | 30 | markers, keypoints, smpl | none |
| grf | SMPL | 30 | markers, keypoints, smpl | grf (+ cop, cop_moment, contact) only |

``grf`` mirrors GroundLink (Han et al. 2023): 7 subjects on level force plates, motions with the feet on the
ground (no step-ups, no supported free motion), mocap-clean (no simulator jitter), subject 7 the test split
and 1-6 train (the HDyS protocol, as ``hdys.formats.groundlink`` assigns real trials). It is a fine-tuning
target, never pretraining data: only the ``grf`` preset generates it (``hdys synth --preset grf``), and the
other presets only the first five domains.

Markers are the body's lab marker set (:mod:`hdys.physics.bodies`); the keypoint tree follows the dataset
each domain mirrors (``KEYPOINT_TREE``): Rajagopal joint centres for ``lab``, SMPL-24 for ``sim`` and ``kin``,
COCO-17 for ``muscle`` (less the elbows and wrists the armless body lacks) and BODY_25 for ``emg``, whose body
has arms (:func:`hdys.physics.arm_motions.rajagopal_arms`; curls and arm raises with a dumbbell,
``HAND_LOAD_KG``); their torques go through static optimisation with myofullbody's 24 muscles per arm
(:func:`hdys.physics.static_opt.arm_static_optimization`) to the biceps channels.

All positions are exported in a z-up world (Rajagopal's y-up OpenSim frame is rotated by
``(x, y, z) -> (x, -z, y)``). Labels are exact for the exported kinematics, in two kinds (``extra["ground_contact"]``):

* motions on the ground (``GROUND_CONTACT``: walking straight or along a curve, running (2.0-3.1 m/s, with
  flight phases), hopping in place, jumping jacks and countermovement jumps (flight phases), kicks and
  lunges (single support), step-ups onto a platform and back down (its box in ``extra["terrain"]``, which
  the corpus store keeps), squat, sit-to-stand, standing, arm raises and biceps curls):
  kinematics from a foot plan, a balanced (zero-moment-point) centre-of-mass plan and leg inverse kinematics
  (:mod:`hdys.physics.locomotion`): stance feet do not slide, the generator's joint angles regularise the
  legs; labels come from contact-aware inverse dynamics (:mod:`hdys.physics.contact`): ground reaction
  forces inside friction cones explain the root wrench, torques (and, through static optimisation,
  activations and EMG) are computed with them; ``grf``, ``cop``, ``contact`` are exported;
* SMPL's free motion: the pelvis is externally supported (no ground model; the root carries the
  residual, ``extra["root_residual_generalized"]``), no GRF: its arbitrary poses are not planned on the
  feet.

``Sequence.extra`` keeps the quality figures and the state for :mod:`hdys.physics.validation`
(``root_residual``, ``contact_residual``, ``contact_point_force``, ``mj_qpos``/``mj_qvel``, ``motion``).
Every subject draws from its own generator seeded by ``(seed, domain, subject)``: the output is
deterministic for a seed. ``split`` is left empty.
"""
from __future__ import annotations

import mujoco
import numpy as np

from hdys.frames import Y_UP_TO_Z_UP
from hdys.physics import emg as emg_model
from hdys.physics.bodies import RajagopalBody, SmplBody, rajagopal_body, smpl_body
from hdys.physics.contact import ContactDynamics, rajagopal_contact_dynamics, smpl_contact_dynamics
from hdys.physics.inverse import rajagopal_inverse, rajagopal_state, smpl_inverse, smpl_state
from hdys.physics.locomotion import ground_rajagopal, ground_smpl
from hdys.physics.motions import ARM_KINDS, HAND_LOAD_KG, RAJAGOPAL_KINDS, rajagopal_arms, rajagopal_motion
from hdys.physics.smpl_motions import SMPL_KINDS, smpl_motion, smpl_trajectory
from hdys.physics.rotations import SmplTrajectory
from hdys.presets import PRESETS, preset_subjects
from hdys.physics.static_opt import arm_static_optimization, static_optimization
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES, Sequence, validate

DOMAINS = ("lab", "sim", "muscle", "emg", "kin")  # the pretraining domains
ALL_DOMAINS = DOMAINS + ("grf",)  # their order seeds each subject's generator: append only
# The labels' version, recorded by ``hdys synth`` in a corpus's manifest: a re-run does not add subjects of another
# version to a corpus. Bump it with every change that moves labels by more than float rounding.
# 1: up to 2026-12-07; 2: myofullbody's elbow wrapping surfaces at the elbow (``emg`` arm activations, biceps EMG).
GENERATOR_VERSION = 2
FPS = {"lab": 100.0, "sim": 30.0, "muscle": 50.0, "emg": 30.0, "kin": 30.0, "grf": 30.0}
# keypoint tree per domain, as in the datasets mirrored (``schema.KEYPOINT_TREES``; on the armless Rajagopal
# body, COCO-17 keeps the points it has, parents re-linked over the missing elbows and wrists)
KEYPOINT_TREE = {"lab": "rajagopal", "sim": "smpl24", "muscle": "coco17", "emg": "body25", "kin": "smpl24",
                 "grf": "smpl24"}
# GroundLink's kind of movement: on level force plates, the feet on the ground
GRF_KINDS = ("walk", "turn", "run", "squat", "jump", "cmj", "jumping_jack", "kick", "lunge", "arm_raise")
GRF_TEST_SUBJECT = 6  # subject 7 is the test split


def preset_domains(preset: str) -> tuple[str, ...]:
    """The domains a preset generates: the five pretraining domains, or the ``grf`` preset's own."""
    return tuple(PRESETS[preset].get("domains", DOMAINS))


def make_fixture(preset: str = "tiny", seed: int = 0, progress: bool = False,
                 domains: tuple[str, ...] | None = None) -> list[Sequence]:
    """Generate the fixture corpus (optionally only some ``domains``; default the preset's); every returned
    sequence has passed ``schema.validate``."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    domains = preset_domains(preset) if domains is None else domains
    unknown = sorted(set(domains) - set(ALL_DOMAINS))
    if unknown:
        raise ValueError(f"unknown domain(s) {unknown}; expected some of {list(ALL_DOMAINS)}")
    cfg = PRESETS[preset]
    jobs = subject_jobs(preset, domains)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs) * cfg["sequences"], desc="physics fixture", unit="seq")
    out: list[Sequence] = []
    for domain, subj in jobs:
        for seq in generate_subject(preset, seed, domain, subj):
            out.append(seq)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return out


def subject_jobs(preset: str, domains: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    """The (domain, subject index) units of work of a preset (default: its domains), in generation order."""
    domains = preset_domains(preset) if domains is None else domains
    return [(d, s) for d in ALL_DOMAINS if d in domains for s in range(preset_subjects(preset, d))]


def subject_id(domain: str, subj: int) -> str:
    return f"{domain}-s{subj + 1:02d}"


def generate_subject(preset: str, seed: int, domain: str, subj: int) -> list[Sequence]:
    """All sequences of one subject; depends only on its arguments (any worker, any order)."""
    rng = np.random.default_rng([seed, ALL_DOMAINS.index(domain), subj])
    return [validate(seq, source=f"physics fixture ({domain})")
            for seq in _subject(domain, subj, PRESETS[preset], rng, seed)]


def motion_plan(seed: int, domain: str, subj: int, sequences: int, kinds: tuple[str, ...]) -> list[str]:
    """The motion kinds of one subject's sequences: the domain's sequences, subject after subject, walk through
    rounds of every kind in a shuffled order, so each kind appears equally often (to one) in a corpus and a
    subject's sequences spread over the kinds (drawn independently, a 10-sequence test subject once held two
    runs, two lunges and no walk). Depends only on the arguments, like :func:`generate_subject`."""
    out = []
    for p in range(subj * sequences, (subj + 1) * sequences):
        rnd, i = divmod(p, len(kinds))
        order = np.random.default_rng([seed, ALL_DOMAINS.index(domain), rnd, 1]).permutation(len(kinds))
        out.append(kinds[order[i]])
    return out


def sample_subject(rng: np.random.Generator) -> tuple[float, float]:
    """(height m, mass kg): height ~ N(1.72, 0.08) in [1.50, 1.95], BMI ~ N(24, 3) in [18, 33]."""
    h = float(np.clip(rng.normal(1.72, 0.08), 1.50, 1.95))
    bmi = float(np.clip(rng.normal(24.0, 3.0), 18.0, 33.0))
    return round(h, 3), round(bmi * h * h, 1)


def _subject(domain: str, subj: int, cfg: dict, rng: np.random.Generator, seed: int):
    height, mass = sample_subject(rng)
    subject = subject_id(domain, subj)
    fps = FPS[domain]
    smpl = domain in ("sim", "kin", "grf")
    if smpl:
        body = smpl_body(height, mass, marker_noise_m=0.01, rng=rng)
    else:
        body = rajagopal_body(height, mass, marker_noise_m=0.01, rng=rng, arms=domain == "emg")
    emg_params = emg_model.sample_emg_params(rng, len(emg_model.ARM_CHANNELS)) if domain == "emg" else None
    lo, hi = cfg["so_duration"] if domain in ("muscle", "emg") else cfg["duration"]
    kinds = (GRF_KINDS if domain == "grf" else SMPL_KINDS if smpl else RAJAGOPAL_KINDS + ARM_KINDS if domain == "emg"
             else RAJAGOPAL_KINDS)
    for j, kind in enumerate(motion_plan(seed, domain, subj, cfg["sequences"], kinds)):
        n = max(2, int(round(rng.uniform(lo, hi) * fps)))
        t = np.arange(n) / fps
        seq = Sequence(fps=fps, sequence_id=f"{subject}-{kind.replace('_', '')}-{j + 1:02d}", dataset=domain,
                       subject=subject, mass_kg=mass, height_m=height,
                       extra={"generator": "hdys.physics.fixture", "motion": kind})
        if domain == "grf":
            seq.split = "test" if subj == GRF_TEST_SUBJECT else "train"
        if smpl:
            _fill_smpl(seq, body, kind, t, rng, with_torque=domain in ("sim", "grf"), jitter=domain == "sim")
            if domain == "grf":
                seq.torque_smpl = None  # force plates measure forces, not torques
        else:
            _fill_rajagopal(seq, body, domain, kind, t, rng, emg_params)
        yield seq


# ---------------------------------------------------------------------------------------------------


def _fill_rajagopal(seq: Sequence, body: RajagopalBody, domain: str, kind: str, t: np.ndarray,
                    rng: np.random.Generator, emg_params) -> None:
    motion = rajagopal_motion(kind, rng, body.coord_range, standing_pelvis_height(body))
    delay = emg_params.delay_s if domain == "emg" else 0.0
    ground = kind in GROUND_CONTACT
    if body.arm_qpos is not None:  # this sequence's dumbbells (none but in curls and raises), before planning
        seq.extra["hand_load_kg"] = HAND_LOAD_KG.get(kind, 0.0)
        body.set_hand_load(seq.extra["hand_load_kg"])
    # the arms move with the legs' motion, and the plan balances the body with them
    arms = rajagopal_arms(kind, rng, motion, body.arm_range) if body.arm_qpos is not None else None
    if ground:
        kin = ground_rajagopal(body, motion, float(t[0]), float(t[-1]) + delay, arms)
    else:
        kin = motion if arms is None else _with_arms(motion, arms)
    terrain = kin.plan.terrain if ground else None
    if terrain is not None:
        seq.extra["terrain"] = terrain.to_json()
    q, qd, qdd = kin(t)

    def labels(q, qd, qdd):
        """(torques, ContactDynamics) on the floor, or (torques, root residual) with the pelvis supported."""
        return (rajagopal_contact_dynamics(body, q, qd, qdd, terrain=terrain) if ground
                else rajagopal_inverse(body, q, qd, qdd))

    tree = KEYPOINT_TREE[domain]
    markers, keypoints = rajagopal_points(body, q, tree)
    seq.markers, seq.marker_names = markers, list(body.marker_names)
    seq.keypoints, seq.keypoint_names = keypoints, list(body.keypoints[tree].names)
    seq.keypoint_parents = body.keypoints[tree].parents.copy()
    seq.extra["ground_contact"] = ground
    if domain == "lab":
        tau, res = labels(q, qd, qdd)
        seq.joint_angles, seq.joint_angle_names = q, list(RAJAGOPAL_COORDINATES)
        seq.torque_rajagopal = tau
        _store_labels(seq, res, *rajagopal_state(body, q, qd))
        _occlude(seq.markers, rng)
    elif domain == "muscle":
        tau, res = labels(q, qd, qdd)
        so = static_optimization(body, q, qd, tau)
        seq.muscle_activation, seq.muscle_names = so.activation, so.muscle_names
        _store_labels(seq, res, *rajagopal_state(body, q, qd), grf=False)
        seq.extra.update(reserve=so.reserve, torque_rajagopal=tau)
    elif domain == "emg":
        # EMG leads force by the electromechanical delay: the activations behind the EMG at time t are
        # those that static optimisation gives for the (exact) kinematics at t + delay.
        # The arms' 48 myofullbody muscles join the legs' 80 (static optimisation of each set on its own DoFs).
        qs, qds, qdds = kin(t + emg_params.delay_s)
        tau_s, res = labels(qs, qds, qdds)
        so = static_optimization(body, qs[:, :23], qds[:, :23], tau_s)
        arm_so = arm_static_optimization(body.height_m, body.mass_kg, qs[:, 23:], qds[:, 23:],
                                         res.joint[:, body.arm_qpos])
        activation = np.concatenate([so.activation, arm_so.activation], axis=1)
        seq.emg, seq.emg_names = emg_model.emg_from_activation(activation, so.muscle_names + arm_so.muscle_names,
                                                               seq.fps, emg_params, rng, already_delayed=True)
        seq.keypoints = keypoints + rng.normal(0.0, 0.015, keypoints.shape)  # video-like 2D-lifted noise
        _store_labels(seq, res, *rajagopal_state(body, qs, qds), grf=False)  # at t + delay
        seq.extra.update(emg_delay_s=emg_params.delay_s, emg_tau_s=emg_params.tau_s, torque_rajagopal=tau_s,
                         arm_reserve=arm_so.reserve)


def _with_arms(kin, arms):
    """``t -> (q, qd, qdd)`` of ``kin`` (T, 23) with the arm coordinates of the Fourier ``arms`` appended (T, 31)."""
    def evaluate(t: np.ndarray):
        return tuple(np.concatenate([a, b], axis=1) for a, b in zip(kin(t), arms(t)))
    return evaluate


# Motions labelled with ground contact (the foot planner of hdys.physics.locomotion): every Rajagopal motion
# (RAJAGOPAL_KINDS, ARM_KINDS) and every SMPL one but "free", which keeps supported-pelvis labels (exact inverse
# dynamics, no GRF).
GROUND_CONTACT = tuple(k for k in dict.fromkeys(RAJAGOPAL_KINDS + ARM_KINDS + SMPL_KINDS) if k != "free")


def _store_labels(seq: Sequence, res, qpos: np.ndarray, qvel: np.ndarray, grf: bool = True) -> None:
    """GRF, CoP and contact labels (if ``grf`` and the motion is on the ground) and the quality figures and
    states in ``extra``; for a supported-pelvis motion ``res`` is the root residual (T, 6) only."""
    if not isinstance(res, ContactDynamics):
        seq.extra["root_residual_generalized"] = res
        return
    if grf:
        seq.grf, seq.cop, seq.cop_moment, seq.contact = res.grf, res.cop, res.cop_moment, res.contact
    seq.extra.update(root_residual=res.root_residual, contact_residual=res.solver_residual,
                     contact_point_force=res.point_force, mj_qpos=qpos, mj_qvel=qvel)


def standing_pelvis_height(body: RajagopalBody) -> float:
    """pelvis_ty (m) that puts the soles on y = 0 in the neutral pose."""
    data = mujoco.MjData(body.model)
    mujoco.mj_kinematics(body.model, data)
    calcn = body.model.body("calcn_r").id
    return float(-data.xpos[calcn, 1] + 0.03 * body.height_m / 1.741)


def rajagopal_points(body: RajagopalBody, q: np.ndarray, tree: str = "rajagopal") -> tuple[np.ndarray, np.ndarray]:
    """Markers (T, M, 3) and the keypoints of ``body.keypoints[tree]`` (T, K, 3) in the z-up world for
    coordinates q (T, 23)."""
    markers, keypoints = _site_tracks(body.model, rajagopal_state(body, q), body.marker_site,
                                      body.keypoints[tree].site)
    return markers @ Y_UP_TO_Z_UP.T, keypoints @ Y_UP_TO_Z_UP.T


def _site_tracks(model: mujoco.MjModel, qpos: np.ndarray, *sites: np.ndarray) -> list[np.ndarray]:
    """World positions (T, len(ids), 3) of each group of site ids over the states qpos (T, nq)."""
    data = mujoco.MjData(model)
    out = [np.empty((qpos.shape[0], len(ids), 3)) for ids in sites]
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        for track, ids in zip(out, sites):
            track[i] = data.site_xpos[ids]
    return out


def _occlude(markers: np.ndarray, rng: np.random.Generator, p: float = 0.3) -> None:
    """With probability ``p`` blank one marker for 5-15 frames (NaN = occluded), in place."""
    if rng.uniform() < p and markers.shape[0] > 20:
        m = int(rng.integers(markers.shape[1]))
        length = int(rng.integers(5, 16))
        start = int(rng.integers(0, markers.shape[0] - length))
        markers[start:start + length, m] = np.nan


# ---------------------------------------------------------------------------------------------------


def smpl_standing_height(body: SmplBody) -> float:
    """Pelvis height (m) above the soles in the rest pose."""
    data = mujoco.MjData(body.model)
    data.qpos[3:7] = (np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0)  # +90 deg about x: upright
    mujoco.mj_kinematics(body.model, data)
    foot = body.body[SMPL_JOINT_NAMES.index("left_foot")]
    return float(-data.xpos[foot, 2] + 0.03 * body.height_m / 1.70)


def smpl_points(body: SmplBody, traj: SmplTrajectory, tree: str = "smpl24") -> tuple[np.ndarray, np.ndarray]:
    """Markers (T, M, 3) and the keypoints of ``body.keypoints[tree]`` (T, K, 3; for smpl24 the 24 joint
    positions), world z up."""
    qpos, _, _ = smpl_state(body, traj)
    markers, keypoints = _site_tracks(body.model, qpos, body.marker_site, body.keypoints[tree].site)
    return markers, keypoints


def _fill_smpl(seq: Sequence, body: SmplBody, kind: str, t: np.ndarray, rng: np.random.Generator,
               with_torque: bool, jitter: bool = True) -> None:
    motion = smpl_motion(kind, rng, smpl_standing_height(body))
    if with_torque and jitter:  # simulator-like jitter in the motion itself, so labels still match the kinematics
        amp = np.concatenate([np.full(3, 0.002), np.full(72, 0.005)])
        motion = motion.with_jitter(rng, amp, fmin=3.0, fmax=8.0)
    ground = kind in GROUND_CONTACT
    seq.extra["ground_contact"] = ground
    on_ground = ground_smpl(body, motion, float(t[0]), float(t[-1])) if ground else None
    traj = on_ground(t) if ground else smpl_trajectory(motion, t)
    terrain = on_ground.ground.plan.terrain if ground else None
    if terrain is not None:
        seq.extra["terrain"] = terrain.to_json()
    tree = KEYPOINT_TREE[seq.dataset]
    markers, keypoints = smpl_points(body, traj, tree)
    seq.markers, seq.marker_names = markers, list(body.marker_names)
    seq.keypoints, seq.keypoint_names = keypoints, list(body.keypoints[tree].names)
    seq.keypoint_parents = body.keypoints[tree].parents.copy()
    seq.smpl = traj.smpl_params(body.pelvis_j0)
    seq.extra["smpl_transl_origin"] = body.pelvis_j0.copy()
    if with_torque:
        tau, res = smpl_contact_dynamics(body, traj, terrain=terrain) if ground else smpl_inverse(body, traj)[:2]
        seq.torque_smpl = tau
        qpos, qvel, _ = smpl_state(body, traj)
        _store_labels(seq, res, qpos, qvel)
