"""MuJoCo bodies: the Rajagopal 2015 full-body model read from its ``.osim`` and an SMPL-topology humanoid.

Rajagopal: the skeleton of Rajagopal et al. (2016), "Full-body musculoskeletal model for muscle-driven
simulation of human gait", IEEE TBME 63(10):2068-2079, read from the ``Rajagopal2015.osim`` in the
nimblephysics wheel (:func:`rajagopal_2015`, :mod:`hdys.physics.osim_model`): joint frames and axes, the walker
knee's spline-driven tibial rotation and translations, the patellae, segment masses and inertias; scaled to
the subject with one factor (stature / ``RAJAGOPAL_STATURE``) and the mass distribution kept, as OpenSim's
ScaleTool does with uniform factors. OpenSim's frame: y up, gravity (0, -9.80665, 0), x forward, z to the
right. The pelvis carries slides then hinges (``pelvis_tx, ty, tz`` translate in the ground frame as in
OpenSim's pelvis CustomJoint, then ``tilt(z) list(x) rotation(y)`` rotate about body-fixed axes).
``RajagopalBody.coord_qpos`` maps the canonical ``RAJAGOPAL_COORDINATES`` onto qpos (there is no free joint,
so qpos and qvel addresses agree); the knees' coupled joints follow their knees (``RajagopalBody.state``), and
generalized forces map back onto the coordinates by virtual work (``RajagopalBody.coordinate_forces``), so a
knee torque is OpenSim's ``knee_angle_r_moment``.

Segment inertial parameters of the SMPL humanoid come from de Leva P. (1996), "Adjustments to
Zatsiorsky-Seluyanov's segment inertia parameters", J Biomech 29(9):1223-1230, Table 4 (male column;
reference stature 1741 mm): mass as % of body mass, CoM position as % of segment length from the proximal end
(from the vertex for the head), radii of gyration (sagittal = about the antero-posterior axis, transverse =
about the medio-lateral axis, longitudinal) as % of segment length. Lengths scale with ``height / 1.741``,
masses with body mass, inertias as ``m (r L)^2``. Where a model segment does not exist in de Leva (SMPL spine
pieces, feet) a de Leva segment is split by fixed fractions (documented).

SMPL: z-up world, gravity (0, 0, -9.81); bodies are laid out in the SMPL rest frame (y up, x to the
person's left, z forward) and the root's free joint carries the global orientation (an upright pose
therefore has a root rotation of +90 deg about x, as in AMASS). Ball-joint velocities are MuJoCo's:
angular velocity of the child in the child frame.

Markers and keypoints are MuJoCo sites fixed to bodies, positions scaled with the body. Markers are a
named lab set, Vicon Plug-in Gait names extended with the CGM2.3/2.4 and Oxford-foot-model markers
(45 on the armless Rajagopal body, 57 with its optional arms, 49 on the SMPL humanoid; these two also
carry the Plug-in Gait arm markers); each subject draws its own placement offsets (``marker_noise_m``),
so markers are rigid on their bodies but differ between subjects. Keypoints are landmark sites (joint
centres, eyes, ears, nose, toe tips, heels) read in the trees of ``schema.KEYPOINT_TREES``: each body
offers its own tree (Rajagopal joint centres, SMPL-24 joints) plus COCO-17 and BODY_25
(``RajagopalBody.keypoints``, ``SmplBody.keypoints``); on the armless Rajagopal body these keep the points
it has (no elbows or wrists; shoulders are the glenohumeral centres, the origins of its humeri, which
are welded to the torso when the arms are not articulated). Keypoints carry no placement noise.
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mujoco
import numpy as np

from hdys.physics.floor import ground_xml, options_xml, sole_geoms_xml
from hdys.physics.osim_model import Couplings, OsimModel, mujoco_bodies, read_osim
from hdys.schema import KEYPOINT_TREES, RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES, SMPL_PARENTS, keypoint_subtree

DE_LEVA_STATURE = 1.741  # m, male reference stature of de Leva 1996
# name: (mass %, CoM % from proximal end, r_sagittal %, r_transverse %, r_longitudinal %, length m)
DE_LEVA_MALE = {
    "head": (6.94, 59.76, 36.2, 37.6, 31.2, 0.2429),  # vertex -> C7, CoM from vertex
    "upper_trunk": (15.96, 29.99, 71.6, 45.4, 65.9, 0.2421),  # C7 -> xiphoid
    "mid_trunk": (16.33, 45.02, 48.2, 38.3, 46.8, 0.2155),  # xiphoid -> omphalion
    "lower_trunk": (11.17, 61.15, 61.5, 55.1, 58.7, 0.1457),  # omphalion -> mid-hip
    "upper_arm": (2.71, 57.72, 28.5, 26.9, 15.8, 0.2817),
    "forearm": (1.62, 45.74, 27.6, 26.5, 12.1, 0.2689),
    "hand": (0.61, 79.00, 62.8, 51.3, 40.1, 0.0862),
    "thigh": (14.16, 40.95, 32.9, 32.9, 14.9, 0.4222),
    "shank": (4.33, 44.59, 25.5, 24.9, 10.3, 0.4340),
    "foot": (1.37, 44.15, 25.7, 24.5, 12.4, 0.2581),  # heel -> toe tip
}


def _inertia(mass: float, length: float, r_sag: float, r_trans: float, r_long: float,
             long_axis, ap_axis) -> np.ndarray:
    """(3,3) inertia about the CoM for radii of gyration (fractions) and the segment's axes."""
    u = np.asarray(long_axis, float)
    u = u / np.linalg.norm(u)
    a = np.asarray(ap_axis, float) - np.dot(ap_axis, u) * u
    a = a / np.linalg.norm(a)
    b = np.cross(u, a)
    i_long, i_ap, i_ml = (mass * (r * length) ** 2 for r in (r_long, r_sag, r_trans))
    return i_long * np.outer(u, u) + i_ap * np.outer(a, a) + i_ml * np.outer(b, b)


def _inertial_xml(mass: float, com, inertia: np.ndarray) -> str:
    i = inertia
    return (f'<inertial pos="{_v(com)}" mass="{mass:.6g}" fullinertia="{i[0, 0]:.6g} {i[1, 1]:.6g} '
            f'{i[2, 2]:.6g} {i[0, 1]:.6g} {i[0, 2]:.6g} {i[1, 2]:.6g}"/>')


def _v(x) -> str:
    return " ".join(f"{float(c):.6g}" for c in x)


def mirror_axis(axis) -> tuple[float, float, float]:
    """Right-leg rotation axis -> left leg (reflection z -> -z of a pseudovector)."""
    return (-axis[0], -axis[1], axis[2])


# ---------------------------------------------------------------------------------------------------
# Markers and keypoints (shared by both bodies)

Points = dict[str, tuple[str, tuple[float, float, float]]]  # name -> (body, position in the body, reference size)


def _mirrored(points: Points, rename_point, rename_body, axis: int) -> Points:
    """``points`` (one side) and their mirror images: point and body renamed, coordinate ``axis`` negated."""
    out = dict(points)
    for name, (body, pos) in points.items():
        p = list(pos)
        p[axis] = -p[axis]
        out[rename_point(name)] = (rename_body(body), tuple(p))
    return out


def _sites_xml(points: Points, body: str, scale: float, prefix: str = "", noise_m: float = 0.0,
               rng: np.random.Generator | None = None) -> str:
    """``<site>`` elements for the ``points`` on ``body``, positions scaled, plus N(0, noise_m) offsets."""
    out = []
    for name, (b, pos) in points.items():
        if b == body:
            p = np.asarray(pos) * scale + (noise_m * rng.standard_normal(3) if noise_m else 0.0)
            out.append(f'<site name="{prefix}{name}" pos="{_v(p)}" size="0.008"/>')
    return "".join(out)


def landmark_of(tree: str, name: str) -> str:
    """The body landmark a keypoint of ``KEYPOINT_TREES[tree]`` stands for, in the SMPL/COCO vocabulary
    (``left_knee``, ``nose``, ``mid_hip``, ...): Rajagopal ``knee_l`` and BODY_25 ``LKnee`` -> ``left_knee``."""
    if tree == "rajagopal":
        base, _, side = name.partition("_")
        return f"{'right' if side == 'r' else 'left'}_{base}" if side else name
    if tree == "body25":
        if name in ("Nose", "Neck", "MidHip"):
            return {"Nose": "nose", "Neck": "neck", "MidHip": "mid_hip"}[name]
        part = re.sub(r"(?<!^)([A-Z])", r"_\1", name[1:]).lower()  # BigToe -> big_toe
        return f"{'right' if name[0] == 'R' else 'left'}_{part}"
    return name  # smpl24 and coco17 use the vocabulary


@dataclass(frozen=True)
class KeypointTree:
    """One keypoint convention on a body: the names the body has (tree order), parents among them, sites."""

    names: list[str]
    parents: np.ndarray  # (K,) index into names, -1 = root
    site: np.ndarray  # (K,) MuJoCo site ids (landmark sites named "kp_<landmark>")


def _keypoint_trees(model: mujoco.MjModel, trees: tuple[str, ...], landmarks: Points) -> dict[str, KeypointTree]:
    """Each tree restricted to the landmarks the body has (a missing parent -> its nearest kept ancestor)."""
    out = {}
    for tree in trees:
        have = [n for n in KEYPOINT_TREES[tree][0] if landmark_of(tree, n) in landmarks]
        names, parents = keypoint_subtree(tree, have)
        out[tree] = KeypointTree(names=names, parents=np.array(parents),
                                 site=np.array([model.site("kp_" + landmark_of(tree, n)).id for n in names]))
    return out


# ---------------------------------------------------------------------------------------------------
# Rajagopal lower body

# Joint ranges (rad); pelvis translations in m. Close to the Rajagopal 2015 model's coordinate ranges.
RAJAGOPAL_RANGES = {
    "pelvis_tilt": (-1.57, 1.57), "pelvis_list": (-1.57, 1.57), "pelvis_rotation": (-3.14, 3.14),
    "pelvis_tx": (-1e3, 1e3), "pelvis_ty": (-1.0, 3.0), "pelvis_tz": (-1e3, 1e3),
    "hip_flexion": (-0.524, 2.094), "hip_adduction": (-0.873, 0.524), "hip_rotation": (-0.698, 0.698),
    "knee_angle": (0.0, 2.094), "ankle_angle": (-0.698, 0.524), "subtalar_angle": (-0.349, 0.349),
    "mtp_angle": (-0.524, 0.524),
    "lumbar_extension": (-1.571, 1.571), "lumbar_bending": (-1.571, 1.571), "lumbar_rotation": (-1.571, 1.571),
}
# Reference geometry (m, for a 1.741 m subject) of the markers and landmarks below.
_HIP = (-0.056, -0.080, 0.080)  # hip centre in the pelvis, right side
_VERTEX_ABOVE_LUMBAR = 0.655  # stature - standing pelvis height (~1.006) - lumbar height

# Lab markers (positions at reference size). Names: Vicon Plug-in Gait (full body less the arms, which this
# model lacks: head FHD/BHD, trunk C7 T10 CLAV STRN RBAK, acromion SHO, pelvis ASI/PSI, legs THI KNE TIB ANK
# HEE TOE with TOE on the 2nd metatarsal head) extended as in the Conventional Gait Model 2.3/2.4 (Leboeuf
# et al. 2019, Gait & Posture 69; pyCGM2): anterior thigh/tibia THAP THAD TIAP TIAD, medial epicondyle KNM,
# medial malleolus MED, 1st/5th metatarsal heads FMH VMH; and the hallux HLX of the Oxford foot model.
# Positions are own estimates on the segment surfaces. "R" entries mirror to "L" (z -> -z).
_RAJAGOPAL_MARKERS = {
    "RASI": ("pelvis", (0.005, 0.005, 0.125)), "RPSI": ("pelvis", (-0.155, 0.020, 0.045)),
    "RSHO": ("torso", (0.0, 0.415, 0.175)),
    "RFHD": ("torso", (0.080, 0.610, 0.050)), "RBHD": ("torso", (-0.080, 0.590, 0.050)),
    "RTHI": ("femur_r", (0.010, -0.250, 0.075)), "RTHAP": ("femur_r", (0.070, -0.120, 0.035)),
    "RTHAD": ("femur_r", (0.065, -0.320, 0.025)),
    "RKNE": ("femur_r", (0.000, -0.417, 0.050)), "RKNM": ("femur_r", (0.000, -0.417, -0.050)),
    "RTIB": ("tibia_r", (0.015, -0.250, 0.050)), "RTIAP": ("tibia_r", (0.045, -0.100, 0.010)),
    "RTIAD": ("tibia_r", (0.035, -0.300, 0.005)),
    "RANK": ("tibia_r", (-0.005, -0.430, 0.040)), "RMED": ("tibia_r", (0.005, -0.425, -0.035)),
    "RHEE": ("calcn_r", (-0.035, 0.010, 0.000)), "RTOE": ("calcn_r", (0.170, 0.012, -0.010)),
    "RFMH": ("calcn_r", (0.165, -0.005, -0.040)), "RVMH": ("calcn_r", (0.140, -0.005, 0.045)),
    "RHLX": ("toes_r", (0.040, 0.005, -0.025)),
}
_RAJAGOPAL_MIDLINE_MARKERS = {  # RBAK (right scapula) is one-sided on purpose, as in Plug-in Gait
    "C7": ("torso", (-0.080, 0.410, 0.0)), "T10": ("torso", (-0.120, 0.190, 0.0)),
    "CLAV": ("torso", (0.050, 0.345, 0.0)), "STRN": ("torso", (0.095, 0.190, 0.0)),
    "RBAK": ("torso", (-0.110, 0.290, 0.090)),
}
_NECK_Y = _VERTEX_ABOVE_LUMBAR - DE_LEVA_MALE["head"][5]  # C7 level, in the torso (lumbar) frame
_HEAD_Y = _VERTEX_ABOVE_LUMBAR - 0.5 * DE_LEVA_MALE["head"][5]  # head centre
# Keypoint landmarks: joint centres at body origins (the glenohumeral centre: the humerus'), face points around
# the head centre, heel and toe tips; "right_" entries mirror to "left_".
_RAJAGOPAL_LANDMARKS = {
    "right_hip": ("femur_r", (0, 0, 0)), "right_knee": ("tibia_r", (0, 0, 0)), "right_ankle": ("talus_r", (0, 0, 0)),
    "right_subtalar": ("calcn_r", (0, 0, 0)), "right_mtp": ("toes_r", (0, 0, 0)),
    "right_heel": ("calcn_r", (-0.030, -0.020, 0.0)), "right_big_toe": ("toes_r", (0.060, -0.010, -0.025)),
    "right_small_toe": ("toes_r", (0.030, -0.012, 0.035)), "right_shoulder": ("humerus_r", (0, 0, 0)),
    "right_eye": ("torso", (0.085, _HEAD_Y, 0.032)), "right_ear": ("torso", (-0.005, _HEAD_Y - 0.010, 0.072)),
}
_RAJAGOPAL_MIDLINE_LANDMARKS = {
    "pelvis": ("pelvis", (0, 0, 0)), "mid_hip": ("pelvis", (_HIP[0], _HIP[1], 0.0)), "lumbar": ("torso", (0, 0, 0)),
    "neck": ("torso", (0.0, _NECK_Y, 0.0)), "head": ("torso", (0.0, _HEAD_Y, 0.0)),
    "nose": ("torso", (0.110, _HEAD_Y - 0.035, 0.0)),
}
RAJAGOPAL_TREES = ("rajagopal", "coco17", "body25")  # keypoint trees built on the Rajagopal body

# Optional arms (``rajagopal_body(..., arms=True)``), as in the full Rajagopal 2015 model but with the forearm
# and hand rigid (no pro_sup or wrist coordinates): per side arm_flex, arm_add, arm_rot at the glenohumeral
# centre (applied in that order, parent to child; arm_flex about the torso's lateral axis, positive = forward,
# arm_add positive = towards the midline) and elbow_flex (positive = flexion); the zero pose hangs the arms
# straight down (``RajagopalBody.arm_qpos``: their qpos addresses).
ARM_COORDINATES = tuple(f"{n}_{s}" for s in ("r", "l") for n in ("arm_flex", "arm_add", "arm_rot", "elbow_flex"))
ARM_RANGES = {"arm_flex": (-1.0, 3.0), "arm_add": (-2.8, 0.5), "arm_rot": (-1.5, 1.5), "elbow_flex": (0.0, 2.5)}
# the shoulder's axes in the torso, right side, applied in this order (the model's acromial joint)
ARM_AXES = {"arm_flex": (0, 0, 1), "arm_add": (1, 0, 0), "arm_rot": (0, 1, 0)}
# Plug-in Gait arm markers (own positions at reference size, hanging arm, palm facing the thigh): upper arm
# UPA, lateral epicondyle ELB, forearm FRM, radial and ulnar styloids WRA WRB, 2nd metacarpal head FIN.
_RAJAGOPAL_ARM_MARKERS = {
    "RUPA": ("humerus_r", (-0.030, -0.150, 0.045)), "RELB": ("humerus_r", (0.0, -0.2817, 0.040)),
    "RFRM": ("ulna_r", (-0.010, -0.130, 0.035)), "RWRA": ("ulna_r", (0.025, -0.250, 0.040)),
    "RWRB": ("ulna_r", (-0.030, -0.250, 0.030)), "RFIN": ("hand_r", (0.020, -0.075, 0.010)),
}
_RAJAGOPAL_ARM_LANDMARKS = {"right_elbow": ("ulna_r", (0, 0, 0)), "right_wrist": ("hand_r", (0, 0, 0))}


def _left_body(body: str) -> str:
    return body[:-2] + "_l" if body.endswith("_r") else body



RAJAGOPAL_STATURE = 1.70  # m: the subject of the generic Rajagopal 2015 model (75.337 kg)


def rajagopal_osim_path() -> Path:
    """``Rajagopal2015.osim`` as shipped in the nimblephysics wheel (a dependency: AddBiomechanics' engine)."""
    spec = importlib.util.find_spec("nimblephysics")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Rajagopal 2015 model comes with nimblephysics, which is not installed "
                                "(pip install nimblephysics)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "rajagopal_data" / "Rajagopal2015.osim"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the Rajagopal 2015 model is missing from the nimblephysics install")
    return path


@lru_cache(maxsize=1)
def rajagopal_2015() -> OsimModel:
    """The generic Rajagopal et al. (2016) full-body model's skeleton (IEEE TBME 63(10):2068-2079)."""
    return read_osim(rajagopal_osim_path())


@dataclass
class RajagopalBody:
    """A built Rajagopal model with index maps (all addresses into MuJoCo arrays).

    The model has no free joint, so qpos and qvel addresses agree. Its coordinates are the 23
    ``RAJAGOPAL_COORDINATES`` (then the 8 ``ARM_COORDINATES`` on a body with arms); ``couplings`` sets the
    other MuJoCo joints (the walker knees' secondary rotations and translations, the patellae) from them:
    use :meth:`state` and :meth:`coordinate_forces` rather than indexing qpos."""

    model: mujoco.MjModel
    height_m: float
    mass_kg: float
    coord_qpos: np.ndarray  # (23,) qpos (= qvel) address of each RAJAGOPAL_COORDINATES entry
    coord_range: np.ndarray  # (23, 2) joint range per coordinate
    marker_names: list[str]
    marker_site: np.ndarray  # (M,) site ids
    keypoints: dict[str, KeypointTree]  # RAJAGOPAL_TREES, each with the points this body has
    couplings: Couplings
    coupled_qpos: np.ndarray  # (D,) qpos (= qvel) address of each coupled joint
    arm_qpos: np.ndarray | None = None  # (8,) qpos address of each ARM_COORDINATES entry (bodies with arms)
    arm_range: np.ndarray | None = None  # (8, 2)

    @property
    def coordinate_qpos(self) -> np.ndarray:
        """qpos addresses of all coordinates: the 23, then the arms' where the body has them."""
        return self.coord_qpos if self.arm_qpos is None else np.concatenate([self.coord_qpos, self.arm_qpos])

    def state(self, q: np.ndarray, qd: np.ndarray | None = None, qdd: np.ndarray | None = None):
        """MuJoCo qpos (T, nq) for coordinates ``q`` (T, C); with ``qd`` also qvel, with ``qdd`` also qacc.

        C is 23 (``RAJAGOPAL_COORDINATES``), or 31 on a body with arms (the ``ARM_COORDINATES`` after the 23;
        with 23 the arms hang straight)."""
        q = self._full(q)
        qd = None if qd is None else self._full(qd)
        qdd = None if qdd is None or qd is None else self._full(qdd)
        pos, vel, acc, _ = self.couplings.values(q, qd, qdd)
        out = [self._place(q, pos)]
        if qd is not None:
            out.append(self._place(qd, vel))
        if qdd is not None:
            out.append(self._place(qdd, acc))
        return out[0] if len(out) == 1 else tuple(out)

    def coordinate_forces(self, q: np.ndarray, gen: np.ndarray) -> np.ndarray:
        """Generalized forces (T, nv) -> the forces on all coordinates (T, 23 or 31) by virtual work: a
        coordinate's own joint's force plus each coupled joint's force times the coupling's derivative."""
        q = self._full(q)
        out = gen[:, self.coordinate_qpos].copy()
        moving = self.couplings.driver >= 0
        slope = self.couplings.values(q)[3][:, moving]  # (T, D'), each row its own frame's
        np.add.at(out.T, self.couplings.driver[moving], (slope * gen[:, self.coupled_qpos[moving]]).T)
        return out

    def coordinate_jacobian(self, q: np.ndarray, jac: np.ndarray) -> np.ndarray:
        """A Jacobian over MuJoCo's DoFs (R, nv) at coordinates ``q`` (C,) -> over the coordinates (R, C): the
        projection of :meth:`coordinate_forces`, every row at the same state."""
        q = np.asarray(q, float)
        return self.coordinate_forces(np.broadcast_to(q, (len(jac), len(q))), jac)[:, :len(q)]

    def _full(self, q: np.ndarray) -> np.ndarray:
        """Coordinates (T, 23) or (T, 31) -> (T, all coordinates of this body), arms zero where not given."""
        q = np.asarray(q, float)
        n, c = len(self.coord_qpos), len(self.coordinate_qpos)
        if q.ndim != 2 or q.shape[1] not in {n, c}:
            raise ValueError(f"Rajagopal coordinates must be (T, D) with D in {tuple(sorted({n, c}))} (arms after "
                             f"the {n} RAJAGOPAL_COORDINATES), got shape {q.shape}")
        return q if q.shape[1] == c else np.concatenate([q, np.zeros((q.shape[0], c - n))], axis=1)

    def _place(self, q: np.ndarray, coupled: np.ndarray) -> np.ndarray:
        out = np.zeros((q.shape[0], self.model.nq))
        out[:, self.coordinate_qpos] = q
        out[:, self.coupled_qpos] = coupled
        return out

    def set_hand_load(self, kg: float) -> None:
        """Put a load of ``kg`` in each hand (a dumbbell: a point-like mass with 3 cm radius of gyration at
        the hand's mass centre); 0 removes it. Changes ``model`` in place (mass and inertia are read at every
        step)."""
        if self.arm_qpos is None:
            raise ValueError("this Rajagopal body has no arms to hold a load")
        if not kg >= 0:
            raise ValueError(f"hand load must be >= 0 kg, got {kg}")
        for side in ("r", "l"):
            i = self.model.body(f"load_{side}").id
            self.model.body_mass[i] = kg
            self.model.body_inertia[i] = kg * (0.03 * self.height_m / DE_LEVA_STATURE) ** 2


def _segment_geoms(osim: OsimModel) -> dict[str, str]:
    """Display capsules from each body's origin to its children's joint centres (no contact, no mass)."""
    out: dict[str, str] = {}
    r = {"pelvis": 0.06, "torso": 0.1, "femur": 0.05, "tibia": 0.04, "humerus": 0.03}
    for j in osim.joints:
        if j.parent == "ground":
            continue
        size = next((v for k, v in r.items() if j.parent.startswith(k)), 0.02)
        end = j.parent_pos
        if np.linalg.norm(end) > 1e-3:
            out[j.parent] = out.get(j.parent, "") + f'<geom type="capsule" fromto="0 0 0 {_v(end)}" size="{size:.3g}"/>'
    out["torso"] = out.get("torso", "") + '<geom type="sphere" pos="0 0.6 0" size="0.1"/>'
    return out


def rajagopal_body(height_m: float, mass_kg: float, marker_noise_m: float = 0.0,
                   rng: np.random.Generator | None = None, arms: bool = False) -> RajagopalBody:
    """The Rajagopal 2015 model (:func:`rajagopal_2015`) scaled to a subject, in MuJoCo.

    Scaling is OpenSim's with one factor ``height_m / RAJAGOPAL_STATURE`` for every segment and the mass
    distribution kept (:meth:`OsimModel.scaled`): joint centres, axes, the walker knee's coupled motion,
    segment masses and inertias are the model's. The model's other coordinates (forearm pronation, wrist)
    are held at their defaults; without ``arms`` the arms hang straight, welded to the torso (their mass
    stays in the body, as in the model with locked arms). ``marker_noise_m``: standard deviation of
    subject-specific marker placement offsets (drawn from ``rng``). The body has no muscles: static
    optimisation uses myo-sim's ``myolegs`` (:mod:`hdys.physics.myolegs`). ``arms``: ``ARM_COORDINATES``
    as joints, the Plug-in Gait arm markers, elbow and wrist keypoints and a hand load
    (:meth:`RajagopalBody.set_hand_load`).
    """
    s = height_m / RAJAGOPAL_STATURE
    k = height_m / DE_LEVA_STATURE  # markers, landmarks and soles: own positions given at that stature
    rng = rng if rng is not None else np.random.default_rng(0)
    side_markers = {**_RAJAGOPAL_MARKERS, **(_RAJAGOPAL_ARM_MARKERS if arms else {})}
    side_landmarks = {**_RAJAGOPAL_LANDMARKS, **(_RAJAGOPAL_ARM_LANDMARKS if arms else {})}
    markers = {**_RAJAGOPAL_MIDLINE_MARKERS, **_mirrored(side_markers, lambda n: "L" + n[1:], _left_body, 2)}
    landmarks = {**_RAJAGOPAL_MIDLINE_LANDMARKS,
                 **_mirrored(side_landmarks, lambda n: n.replace("right_", "left_"), _left_body, 2)}
    osim = rajagopal_2015().scaled(s, mass_kg)
    extra = _segment_geoms(osim)
    for b in osim.bodies:
        extra[b] = (extra.get(b, "") + _sites_xml(markers, b, k, noise_m=marker_noise_m, rng=rng)
                    + _sites_xml(landmarks, b, k, prefix="kp_"))
    for side in ("r", "l"):
        grip = osim.bodies[f"hand_{side}"].com
        extra[f"hand_{side}"] += (f'<body name="load_{side}" pos="{_v(grip)}">'
                                  '<inertial pos="0 0 0" mass="0" diaginertia="0 0 0"/></body>')
    kept = list(RAJAGOPAL_COORDINATES) + (list(ARM_COORDINATES) if arms else [])
    ranges = {n: RAJAGOPAL_RANGES[n.removesuffix("_r").removesuffix("_l")] for n in RAJAGOPAL_COORDINATES}
    ranges.update({n: ARM_RANGES[n[:-2]] for n in ARM_COORDINATES})
    bodies, couplings = mujoco_bodies(osim, kept, extra, ranges)
    gravity = np.asarray(osim.gravity, float)
    xml = (
        # balanceinertia: the model's toes (0.0001, 0.0002, 0.001 kg m^2) break the triangle inequality MuJoCo
        # requires; it replaces them by their mean (the mtp moments change by < 0.001 N m/kg)
        '<mujoco model="rajagopal2015"><compiler angle="radian" inertiafromgeom="false" autolimits="true" '
        'balanceinertia="true"/>'
        f'<option gravity="{_v(gravity)}" timestep="0.002"><flag contact="disable"/></option>'
        '<default><geom contype="0" conaffinity="0" rgba="0.8 0.7 0.6 1" mass="0"/>'
        '<joint armature="0" damping="0"/></default>'
        f'<worldbody>{bodies}</worldbody></mujoco>'
    )
    model = mujoco.MjModel.from_xml_string(xml)
    addr = lambda names: np.array([model.jnt_qposadr[model.joint(n).id] for n in names], dtype=int)  # noqa: E731
    coord_range = np.array([RAJAGOPAL_RANGES[n.removesuffix("_r").removesuffix("_l")] for n in RAJAGOPAL_COORDINATES])
    names = list(markers)
    return RajagopalBody(
        model=model, height_m=height_m, mass_kg=mass_kg, coord_qpos=addr(RAJAGOPAL_COORDINATES),
        coord_range=coord_range, marker_names=names, marker_site=np.array([model.site(n).id for n in names]),
        keypoints=_keypoint_trees(model, RAJAGOPAL_TREES, landmarks), couplings=couplings,
        coupled_qpos=addr(couplings.name),
        arm_qpos=addr(ARM_COORDINATES) if arms else None,
        arm_range=np.array([ARM_RANGES[n[:-2]] for n in ARM_COORDINATES]) if arms else None)


# ---------------------------------------------------------------------------------------------------
# SMPL-topology humanoid

SMPL_REFERENCE_HEIGHT = 1.70  # m; the offsets below are for this stature
# Own approximate joint offsets (child minus parent) of an SMPL-like neutral template, rest frame
# (y up, x to the person's left, z forward); right side mirrors x.
_SMPL_LEFT_OFFSETS = {
    "hip": (0.060, -0.090, 0.000), "knee": (0.040, -0.380, 0.005), "ankle": (-0.010, -0.410, -0.035),
    "foot": (0.025, -0.060, 0.120), "collar": (0.075, 0.115, -0.020), "shoulder": (0.115, 0.045, -0.015),
    "elbow": (0.255, -0.015, -0.025), "wrist": (0.255, 0.010, -0.005), "hand": (0.085, -0.010, -0.015),
}
_SMPL_CENTRE_OFFSETS = {
    "spine1": (0.0, 0.110, -0.020), "spine2": (0.0, 0.135, 0.020), "spine3": (0.0, 0.055, 0.002),
    "neck": (0.0, 0.215, -0.030), "head": (0.0, 0.090, 0.050),
}
SMPL_PELVIS_J0 = (0.0, -0.23, 0.025)  # template pelvis joint at reference height (SMPL transl origin)
# body -> (de Leva segment, mass fraction of it, segment end (point or child joint), CoM fraction or None)
_SMPL_SEGMENTS = {
    "hip": ("thigh", 1.0, "knee"), "knee": ("shank", 1.0, "ankle"), "ankle": ("foot", 0.8, None),
    "foot": ("foot", 0.2, (0.0, -0.01, 0.06)), "spine1": ("mid_trunk", 0.5, "spine2"),
    "spine2": ("mid_trunk", 0.5, "spine3"), "spine3": ("upper_trunk", 0.92, "neck"),
    "neck": ("head", 0.2, "head"), "head": ("head", 0.8, (0.0, 0.20, 0.03)),
    "collar": ("upper_trunk", 0.04, "shoulder"), "shoulder": ("upper_arm", 1.0, "elbow"),
    "elbow": ("forearm", 1.0, "wrist"), "wrist": ("hand", 0.6, "hand"), "hand": ("hand", 0.4, (0.08, -0.01, 0.0)),
}
# Lab markers in the body's rest frame at reference height: the full Vicon Plug-in Gait set (head, trunk,
# arms UPA ELB FRM WRA WRB FIN, pelvis, legs) with the CGM2 medial and forefoot additions and the hallux as
# on the Rajagopal body (see there). Own positions; the knee epicondyles ride on the thigh and the malleoli
# on the shank. "L" entries (x > 0) mirror to "R".
_SMPL_MARKERS = {
    "LFHD": ("head", (0.070, 0.070, 0.080)), "LBHD": ("head", (0.070, 0.070, -0.080)),
    "LSHO": ("left_collar", (0.110, 0.070, -0.010)), "LUPA": ("left_shoulder", (0.130, 0.0, -0.040)),
    "LELB": ("left_elbow", (0.0, 0.0, -0.040)), "LFRM": ("left_elbow", (0.130, 0.0, -0.030)),
    "LWRA": ("left_wrist", (0.0, 0.0, 0.030)), "LWRB": ("left_wrist", (0.0, 0.0, -0.030)),
    "LFIN": ("left_hand", (0.070, 0.0, 0.0)),
    "LASI": ("pelvis", (0.115, 0.030, 0.100)), "LPSI": ("pelvis", (0.050, 0.060, -0.090)),
    "LTHI": ("left_hip", (0.090, -0.200, 0.030)),
    "LKNE": ("left_hip", (0.090, -0.380, 0.005)), "LKNM": ("left_hip", (-0.010, -0.380, 0.005)),
    "LTIB": ("left_knee", (0.050, -0.200, 0.030)),
    "LANK": ("left_knee", (0.030, -0.405, -0.040)), "LMED": ("left_knee", (-0.048, -0.400, -0.030)),
    "LHEE": ("left_ankle", (0.0, -0.050, -0.070)), "LTOE": ("left_ankle", (0.020, -0.045, 0.105)),
    "LFMH": ("left_ankle", (-0.010, -0.065, 0.110)), "LVMH": ("left_ankle", (0.065, -0.070, 0.080)),
    "LHLX": ("left_foot", (-0.015, -0.010, 0.035)),
}
_SMPL_MIDLINE_MARKERS = {
    "C7": ("spine3", (0.0, 0.200, -0.070)), "T10": ("spine2", (0.0, 0.050, -0.120)),
    "CLAV": ("spine3", (0.0, 0.180, 0.060)), "STRN": ("spine2", (0.0, 0.050, 0.120)),
    "RBAK": ("spine3", (-0.075, 0.090, -0.110)),
}
# Keypoint landmarks besides the 24 joints (at their body origins); "left_" entries mirror to "right_".
_SMPL_LANDMARKS = {
    "left_eye": ("head", (0.032, 0.020, 0.095)), "left_ear": ("head", (0.072, 0.0, 0.005)),
    "left_heel": ("left_ankle", (0.0, -0.080, -0.060)), "left_big_toe": ("left_foot", (-0.020, -0.015, 0.065)),
    "left_small_toe": ("left_foot", (0.035, -0.020, 0.035)),
}
_SMPL_MIDLINE_LANDMARKS = {
    "nose": ("head", (0.0, -0.015, 0.120)), "mid_hip": ("pelvis", (0.0, -0.090, 0.0)),
    **{j: (j, (0.0, 0.0, 0.0)) for j in SMPL_JOINT_NAMES},
}
SMPL_TREES = ("smpl24", "coco17", "body25")  # keypoint trees built on the SMPL humanoid


def _right_body(body: str) -> str:
    return body.replace("left_", "right_")


@dataclass
class SmplBody:
    """A built SMPL-topology model with index maps."""

    model: mujoco.MjModel
    height_m: float
    mass_kg: float
    pelvis_j0: np.ndarray  # (3,) template pelvis position: smpl transl = pelvis world position - pelvis_j0
    joint_qpos: np.ndarray  # (23,) qpos address of each ball joint's quaternion, SMPL_JOINT_NAMES[1:]
    joint_dof: np.ndarray  # (23,) qvel address of each ball joint's first DoF
    body: np.ndarray  # (24,) body id per SMPL joint
    marker_names: list[str]
    marker_site: np.ndarray  # (M,)
    keypoints: dict[str, KeypointTree]  # SMPL_TREES


def _smpl_offsets(s: float) -> dict[str, np.ndarray]:
    off = {n: np.array(v) * s for n, v in _SMPL_CENTRE_OFFSETS.items()}
    for base, v in _SMPL_LEFT_OFFSETS.items():
        off[f"left_{base}"] = np.array(v) * s
        off[f"right_{base}"] = np.array([-v[0], v[1], v[2]]) * s
    return off


def smpl_body(height_m: float, mass_kg: float, marker_noise_m: float = 0.0,
              rng: np.random.Generator | None = None, floor: bool = False) -> SmplBody:
    """Build an SMPL-topology humanoid (free root + 23 ball joints) scaled to height and mass.

    ``floor``: the world of :mod:`hdys.physics.floor` (a floor, platforms to place, sole spheres), for
    forward simulation under control (:mod:`hdys.control`);
    without it contacts are disabled (inverse dynamics computes the ground forces itself)."""
    s = height_m / SMPL_REFERENCE_HEIGHT
    k = height_m / DE_LEVA_STATURE
    rng = rng if rng is not None else np.random.default_rng(0)
    off = _smpl_offsets(s)
    children = {n: [c for c, p in zip(SMPL_JOINT_NAMES, SMPL_PARENTS) if p >= 0 and SMPL_JOINT_NAMES[p] == n]
                for n in SMPL_JOINT_NAMES}
    markers = {**_SMPL_MIDLINE_MARKERS, **_mirrored(_SMPL_MARKERS, lambda n: "R" + n[1:], _right_body, 0)}
    landmarks = {**_SMPL_MIDLINE_LANDMARKS,
                 **_mirrored(_SMPL_LANDMARKS, lambda n: n.replace("left_", "right_"), _right_body, 0)}

    def inertial(name: str) -> str:
        if name == "pelvis":
            pm, pc, rs, rt, rl, ln = DE_LEVA_MALE["lower_trunk"]
            m, ln = pm / 100 * mass_kg, ln * k
            com = np.array([0.0, -0.09 * s + (1 - pc / 100) * ln, 0.0])
            return _inertial_xml(m, com, _inertia(m, ln, rs / 100, rt / 100, rl / 100, (0, 1, 0), (0, 0, 1)))
        base = name.removeprefix("left_").removeprefix("right_")
        segname, frac, end = _SMPL_SEGMENTS[base]
        pm, pc, rs, rt, rl, _ = DE_LEVA_MALE[segname]
        m = pm / 100 * frac * mass_kg
        if base == "ankle":  # foot: heel -> toe tip, CoM from the heel
            heel = np.array([0.0, -0.06, -0.06]) * s
            tip = off[name.replace("ankle", "foot")] + np.array([0.0, -0.01, 0.07]) * s
            start, vec = heel, tip - heel
        else:
            start = np.zeros(3)
            if isinstance(end, str):
                side = name.split("_")[0] + "_" if name.startswith(("left_", "right_")) else ""
                vec = off[side + end] if side + end in off else off[end]
            else:
                vec = np.array(end) * s
                if name.startswith("right_"):
                    vec[0] = -vec[0]
        ln = float(np.linalg.norm(vec))
        com = start + pc / 100 * vec
        return _inertial_xml(m, com, _inertia(m, ln, rs / 100, rt / 100, rl / 100, vec,
                                              (0, 0, 1) if abs(vec[2]) < 0.9 * ln else (0, 1, 0)))

    def build(name: str) -> str:
        pos = np.zeros(3) if name == "pelvis" else off[name]
        joint = '<freejoint name="root"/>' if name == "pelvis" else f'<joint name="{name}" type="ball"/>'
        geoms = "".join(f'<geom type="capsule" fromto="0 0 0 {_v(off[c])}" size="{0.035 * s:.4g}"/>'
                        for c in children[name] if np.linalg.norm(off[c]) > 1e-3)
        geoms += sole_geoms_xml(name, s) if floor else ""
        sites = (_sites_xml(markers, name, s, noise_m=marker_noise_m, rng=rng)
                 + _sites_xml(landmarks, name, s, prefix="kp_"))
        kids = "".join(build(c) for c in children[name])
        return f'<body name="{name}" pos="{_v(pos)}">{inertial(name)}{joint}{geoms}{sites}{kids}</body>'

    xml = (f'<mujoco model="smpl_humanoid"><compiler angle="radian" inertiafromgeom="false"/>{options_xml(floor)}'
           f'<worldbody>{ground_xml() if floor else ""}{build("pelvis")}</worldbody></mujoco>')
    model = mujoco.MjModel.from_xml_string(xml)
    jids = [model.joint(n).id for n in SMPL_JOINT_NAMES[1:]]
    names = list(markers)
    return SmplBody(
        model=model, height_m=height_m, mass_kg=mass_kg, pelvis_j0=np.array(SMPL_PELVIS_J0) * s,
        joint_qpos=np.array([model.jnt_qposadr[j] for j in jids]),
        joint_dof=np.array([model.jnt_dofadr[j] for j in jids]),
        body=np.array([model.body(n).id for n in SMPL_JOINT_NAMES]),
        marker_names=names, marker_site=np.array([model.site(n).id for n in names]),
        keypoints=_keypoint_trees(model, SMPL_TREES, landmarks))
