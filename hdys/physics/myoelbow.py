"""The six elbow muscles of myo-sim's ``myoelbow``, for the elbows of the Rajagopal body with arms.

``myoelbow`` (myo-sim 0.2.4, ``myo_sim.load_model("myoelbow")``, file ``legacy/elbow/myoelbow_1dof6muscles.xml``)
is the MuJoCo port of OpenSim's ``arm26`` model, whose muscles come from Holzbaur KRS, Murray WM, Delp SL
(2005), "A model of the upper extremity for simulating musculoskeletal surgery and analyzing neuromuscular
control", Annals of Biomedical Engineering 33(6):829-840: the long, lateral and medial heads of triceps
(``TRIlong``, ``TRIlat``, ``TRImed``), the long and short heads of biceps (``BIClong``, ``BICshort``) and
brachialis (``BRA``), spanning one elbow flexion DoF (``r_elbow_flex``, positive = flexion, as hdys's
``elbow_flex``). As in :mod:`hdys.physics.myolegs`, only the position stages of MuJoCo run: moment arms
``actuator_moment`` (d length / d angle; flexors shorten with flexion, and a pulling force is negative, so
``R^T F`` is the joint torque) and the force-length-velocity terms ``F = gain(l, v) a + bias(l)`` from
``mj_fwdActuation`` at activation 1 and 0. The model is of a right arm; the left elbow, a mirror image,
uses the same terms.

The model's shoulder is fixed: biceps' long head also flexes the shoulder, which this one-DoF model does not
represent, so hdys's shoulders stay torque-driven (no muscles).

**Subject scaling** as for the legs: geometric scale ``k = h / ELBOW_MODEL_HEIGHT_M`` on moment arms (and
lengths, so the normalised force-length-velocity factors are those of the generic model at the same elbow
state), forces ``m / ELBOW_MODEL_MASS_KG``. ``ELBOW_MODEL_HEIGHT_M`` is the stature at which de Leva's upper
arm (0.2817 m at 1.741 m) equals the model's shoulder-elbow distance (0.2904 m): 1.795 m. Holzbaur et al.
scaled their model to a 50th-percentile male and give no mass; hdys assumes the 75 kg of the generic
Rajagopal model (mass scaling of arm muscle force is an assumption carried over from the legs).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from hdys.physics.myolegs import _silenced, actuation_terms

ELBOW_MODEL_HEIGHT_M = 0.2904 / 0.2817 * 1.741  # see the module docstring
ELBOW_MODEL_MASS_KG = 75.0
ELBOW_MUSCLES = ("TRIlong", "TRIlat", "TRImed", "BIClong", "BICshort", "BRA")


@dataclass(frozen=True)
class MyoElbow:
    model: mujoco.MjModel
    muscle_names: tuple[str, ...]  # (6,) actuator order
    max_isometric_force: np.ndarray  # (6,) N, generic model
    elbow_range: np.ndarray  # (2,) rad


@lru_cache(maxsize=1)
def load_myoelbow() -> MyoElbow:
    """Load ``myoelbow`` once per process (shared: do not modify the model)."""
    import myo_sim

    with _silenced():
        model = myo_sim.load_model("myoelbow")
    names = tuple(model.actuator(i).name for i in range(model.nu))
    if names != ELBOW_MUSCLES or model.nq != 1 or model.joint(0).name != "r_elbow_flex":
        raise RuntimeError(f"myoelbow: expected one joint r_elbow_flex and the muscles {ELBOW_MUSCLES}, got "
                           f"{[model.joint(i).name for i in range(model.njnt)]} and {names}; this myo-sim "
                           "version is not the one hdys was written for (myo-sim==0.2.4)")
    return MyoElbow(model, names, model.actuator_gainprm[:, 2].copy(), model.jnt_range[0].copy())


def elbow_muscle_terms(q: np.ndarray, qd: np.ndarray, height_m: float, mass_kg: float):
    """Moment arms and force terms of the six elbow muscles along elbow angles ``q``, rates ``qd`` (T,).

    Returns ``moment (T, 6)`` (d torque / d force), ``gain (T, 6)`` and ``bias (T, 6)`` (muscle force
    ``gain * a + bias``, N, MuJoCo sign), scaled to the subject. Angles are clipped to the model's range.
    """
    if not (height_m > 0 and mass_kg > 0):
        raise ValueError(f"subject scaling needs a positive height and mass, got {height_m} m, {mass_kg} kg")
    elbow = load_myoelbow()
    q = np.clip(np.asarray(q, float), *elbow.elbow_range)
    moment, gain, bias = actuation_terms(elbow.model, q[:, None], np.asarray(qd, float)[:, None])
    k, force_scale = height_m / ELBOW_MODEL_HEIGHT_M, mass_kg / ELBOW_MODEL_MASS_KG
    return k * moment[..., 0], force_scale * gain, force_scale * bias
