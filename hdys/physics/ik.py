"""Marker-based inverse kinematics on the Rajagopal body: markers (T, M, 3) -> coordinates (T, 23).

Markers are matched to the body's marker set by name (Plug-in Gait-like names: ``RASI``, ``LKNE``,
``RHEE``, ...; see :mod:`hdys.physics.bodies`); others are ignored. Per frame, a damped Gauss-Newton
(Levenberg-Marquardt) iteration minimises ``Σ_m ||s_m(q) - x_m||²`` over the visible matched markers,
with ``s_m`` the model's marker sites and their Jacobians from MuJoCo (``mj_jacSite``); the
coordinates other than the pelvis translation and heading are clipped to their ranges after each step,
and every frame starts from the previous frame's solution. The first frame starts from the neutral pose placed on the markers' centroid for
:data:`HEADINGS` headings and keeps the best fit, its heading in [-pi, pi).

The model's marker positions are generic (scaled with height), so markers placed differently on the
subject leave a residual; its RMS per frame is returned as the fit's quality figure.
"""
from __future__ import annotations

import mujoco
import numpy as np

from hdys.frames import Y_UP_TO_Z_UP
from hdys.physics.bodies import RajagopalBody
from hdys.physics.inverse import rajagopal_state
from hdys.schema import RAJAGOPAL_COORDINATES

MIN_MARKERS = 8  # matched markers needed to fit the 23 coordinates
HEADINGS = 8
DAMPING = 1e-4  # m^2 (on the Gauss-Newton normal matrix)
_ROTATION = RAJAGOPAL_COORDINATES.index("pelvis_rotation")
_TRANSLATION = [RAJAGOPAL_COORDINATES.index(n) for n in ("pelvis_tx", "pelvis_ty", "pelvis_tz")]


class _Fitter:
    def __init__(self, body: RajagopalBody, sites: np.ndarray):
        self.body, self.model, self.sites = body, body.model, sites
        self.data = mujoco.MjData(body.model)
        self.jac = np.zeros((3, body.model.nv))
        self.limited = np.array([i != _ROTATION and i not in _TRANSLATION for i in range(23)])
        self.lo, self.hi = body.coord_range[self.limited, 0], body.coord_range[self.limited, 1]

    def residual(self, q: np.ndarray, x: np.ndarray, visible: np.ndarray, with_jacobian: bool):
        """Site - marker (V, 3) for the visible markers, and the Jacobian (3V, 23) in coordinate order."""
        self.data.qpos[:] = rajagopal_state(self.body, q[None])[0]
        mujoco.mj_kinematics(self.model, self.data)
        sites = self.sites[visible]
        r = self.data.site_xpos[sites] - x[visible]
        if not with_jacobian:
            return r, None
        mujoco.mj_comPos(self.model, self.data)
        jac = np.empty((len(sites), 3, 23))
        for i, s in enumerate(sites):
            mujoco.mj_jacSite(self.model, self.data, self.jac, None, int(s))
            jac[i] = self.body.coordinate_jacobian(q, self.jac)[:, :23]
        return r, jac.reshape(-1, 23)

    def fit(self, q: np.ndarray, x: np.ndarray, visible: np.ndarray, iters: int) -> tuple[np.ndarray, float]:
        q = q.copy()
        for _ in range(iters):
            r, jac = self.residual(q, x, visible, True)
            step = np.linalg.solve(jac.T @ jac + DAMPING * np.eye(23), -jac.T @ r.ravel())
            q += step
            q[self.limited] = np.clip(q[self.limited], self.lo, self.hi)
            if np.abs(step).max() < 1e-6:
                break
        r, _ = self.residual(q, x, visible, False)
        return q, float(np.sqrt((r ** 2).sum(-1).mean()))


def marker_ik(body: RajagopalBody, names: list[str], markers: np.ndarray,
              iters: int = 15, first_iters: int = 40) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Coordinates (T, 23) in RAJAGOPAL_COORDINATES order fitted to ``markers`` (T, M, 3), z-up world, m,
    NaN = occluded. Returns ``(q, rms (T,) m, the marker names used)``; frames with fewer than
    :data:`MIN_MARKERS` visible matched markers are interpolated from their neighbours (NaN rms).
    Raises ``ValueError`` when fewer than :data:`MIN_MARKERS` names match the body's marker set."""
    index = {n: i for i, n in enumerate(body.marker_names)}
    cols = [i for i, n in enumerate(names) if n in index]
    if len(cols) < MIN_MARKERS:
        raise ValueError(f"only {len(cols)} marker name(s) match the Rajagopal body's marker set "
                         f"({', '.join(body.marker_names)}); at least {MIN_MARKERS} are needed for the IK fit")
    used = [names[i] for i in cols]
    sites = body.marker_site[[index[n] for n in used]]
    x = np.asarray(markers, float)[:, cols] @ Y_UP_TO_Z_UP  # z-up world -> OpenSim y-up model world
    visible = np.isfinite(x).all(-1)
    good = visible.sum(1) >= MIN_MARKERS
    if not good.any():
        raise ValueError(f"no frame has {MIN_MARKERS} visible markers of the Rajagopal body's marker set")
    fitter = _Fitter(body, sites)
    t = x.shape[0]
    q, rms = np.full((t, 23), np.nan), np.full(t, np.nan)
    first = int(np.flatnonzero(good)[0])
    q[first], rms[first] = _first_frame(fitter, x[first], visible[first], first_iters)
    prev = q[first]
    for i in range(first + 1, t):
        if good[i]:
            q[i], rms[i] = fitter.fit(prev, x[i], visible[i], iters)
            prev = q[i]
    prev = q[first]
    for i in range(first - 1, -1, -1):
        if good[i]:
            q[i], rms[i] = fitter.fit(prev, x[i], visible[i], iters)
            prev = q[i]
    if not good.all():
        frames = np.arange(t)
        q[~good] = np.stack([np.interp(frames[~good], frames[good], q[good, c]) for c in range(23)], axis=1)
    return q, rms, used


def _first_frame(fitter: _Fitter, x: np.ndarray, visible: np.ndarray, iters: int) -> tuple[np.ndarray, float]:
    best = (None, np.inf)
    for heading in np.arange(HEADINGS) * 2 * np.pi / HEADINGS - np.pi:
        q = np.zeros(23)
        q[_ROTATION] = heading
        r, _ = fitter.residual(q, x, visible, False)  # sites - markers with the root at the origin
        q[_TRANSLATION] = -r.mean(0)
        q, err = fitter.fit(q, x, visible, iters)
        q[_ROTATION] = np.mod(q[_ROTATION] + np.pi, 2 * np.pi) - np.pi  # the fit may have turned whole turns
        if err < best[1]:
            best = (q, err)
    return best
