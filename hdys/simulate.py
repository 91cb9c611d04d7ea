"""``hdys simulate``: biomechanical human simulation with predicted joint torques (paper §4.4.2, Tables 5, 11).

From the recorded state at every frame t, the Rajagopal 2015 body (MuJoCo, scaled to the subject's height and
mass, :func:`hdys.physics.bodies.rajagopal_body`) is stepped k frames ahead under given joint torques, and the
simulated joint angles are compared with the recorded ones. The paper used Nimble; hdys uses MuJoCo, the engine
its labels come from. What the paper does not state, and hdys does:

* **Root.** The six pelvis coordinates are unactuated; the body is held up by the *recorded* ground reaction
  forces, each foot's applied at its recorded centre of pressure, on its ``calcn`` body, with the foot's free
  moment where the recording has one (``cop_moment``; none otherwise). Contacts, joint limits and equality
  constraints are off: only the torques and the recorded forces act.
* **The toes.** ``mtp_angle_r/l`` follow the recording (prescribed, not simulated, and not scored). The force at
  the CoP then acts on the rigid foot as it would on the toes: on every other coordinate a force at a world point
  of the toes and the same point fixed to ``calcn`` do the same work. Simulating the toes would need the split
  of the force between heel and toes, which a force plate does not record.
* **State.** The recorded velocities and the prescribed accelerations are those of a cubic spline through the
  recorded coordinates; the integrator is semi-implicit Euler at the sequence's frame rate (MuJoCo's default):
  ``qd += dt qdd; q += dt qd``. Torques and forces are those of the frame being stepped from.
* **Score.** Per-frame MSE (rad²) after k steps, over the 18 rotational coordinates that are simulated (the
  pelvis rotations and the joints but the toes; the pelvis translations are metres and left out), averaged over
  the start frames that have k frames after them.

``resample`` brings a sequence to another frame rate first (Table 11: 90, 120, 150 fps): cubic splines for the
joint angles, linear interpolation for points, torques and forces.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.interpolate import CubicSpline

from .frames import Y_UP_TO_Z_UP
from .physics.bodies import RajagopalBody, rajagopal_body
from .physics.inverse import coordinate_mass, unconstrained
from .schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TRANSLATIONS, SchemaError, Sequence

log = logging.getLogger("hdys.simulate")

PRESCRIBED = ("mtp_angle_r", "mtp_angle_l")
SCORED = tuple(c for c in RAJAGOPAL_COORDINATES if c not in RAJAGOPAL_TRANSLATIONS and c not in PRESCRIBED)
FEET = ("calcn_l", "calcn_r")  # the schema orders feet [left, right]
MIN_LOAD_N = 1.0  # a foot carrying less force than this is off the ground (no CoP to apply it at)


def simulation_inputs(seq: Sequence, source: str = "input") -> None:
    """Raise a ``SchemaError`` naming what ``seq`` lacks for a simulation: Rajagopal joint angles, ground
    reaction forces with their centres of pressure, body mass and height."""
    missing = [k for k in ("joint_angles", "grf", "cop", "mass_kg", "height_m") if getattr(seq, k) is None]
    if missing:
        raise SchemaError(f"{source}: a simulation needs {missing} (the Rajagopal body is scaled to the subject's "
                          "height and mass and held up by the recorded ground reaction forces)")
    names = list(seq.joint_angle_names or [])
    if names[:len(RAJAGOPAL_COORDINATES)] != list(RAJAGOPAL_COORDINATES):
        raise SchemaError(f"{source}: joint_angle_names must start with the 23 Rajagopal coordinates "
                          f"({RAJAGOPAL_COORDINATES[0]}, ...), got {names[:3]}...")
    if seq.num_frames < 4:
        raise SchemaError(f"{source}: {seq.num_frames} frames; a simulation needs at least 4")


def _lerp(x: np.ndarray, t_old: np.ndarray, t_new: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 0; a value next to a NaN is the finite neighbour's (or NaN)."""
    i = np.clip(np.searchsorted(t_old, t_new, side="right") - 1, 0, len(t_old) - 2)
    w = ((t_new - t_old[i]) / (t_old[i + 1] - t_old[i])).reshape((-1,) + (1,) * (x.ndim - 1))
    a, b = x[i], x[i + 1]
    out = (1 - w) * a + w * b
    out = np.where(np.isfinite(a) & ~np.isfinite(b), a, out)
    return np.where(~np.isfinite(a) & np.isfinite(b), b, out)


def resample(seq: Sequence, fps: float) -> Sequence:
    """``seq`` at ``fps``: joint angles by cubic spline, markers, keypoints, torques, GRF and CoP linearly (over
    the same time span). Representations a simulation does not use (SMPL, muscles, EMG) are dropped."""
    if seq.joint_angles is None:
        raise SchemaError(f"{seq.sequence_id}: resampling needs joint_angles")
    t_old = np.arange(seq.num_frames) / seq.fps
    n = int(np.floor(t_old[-1] * fps + 1e-9)) + 1
    t_new = np.arange(n) / fps
    out = Sequence(fps=float(fps), sequence_id=seq.sequence_id, dataset=seq.dataset, subject=seq.subject,
                   mass_kg=seq.mass_kg, height_m=seq.height_m, extra={"resampled_from_fps": float(seq.fps)})
    out.joint_angles = CubicSpline(t_old, seq.joint_angles, axis=0)(t_new)
    out.joint_angle_names = list(seq.joint_angle_names)
    for key in ("markers", "keypoints", "torque_rajagopal", "grf", "cop", "cop_moment"):
        x = getattr(seq, key)
        if x is not None:
            setattr(out, key, _lerp(np.asarray(x, float), t_old, t_new))
    out.marker_names, out.keypoint_names = seq.marker_names, seq.keypoint_names
    out.keypoint_parents = seq.keypoint_parents
    if out.grf is not None and out.cop is not None:
        off = np.linalg.norm(out.grf, axis=-1) < MIN_LOAD_N
        out.cop[off] = np.nan
        out.contact = ~off
    return out


@dataclass
class Rollouts:
    """Simulated coordinates ``q`` (S, k, 23): from the recorded state at start frame s, the coordinates after
    1..k steps; ``start`` (S,) the start frames."""

    q: np.ndarray
    start: np.ndarray

    def errors(self, recorded: np.ndarray) -> np.ndarray:
        """MSE (rad²) over ``SCORED`` of each start after each of 1..k steps: (S, k)."""
        cols = [RAJAGOPAL_COORDINATES.index(c) for c in SCORED]
        k = self.q.shape[1]
        target = np.stack([recorded[self.start + j + 1] for j in range(k)], axis=1)  # (S, k, 23)
        return ((self.q[..., cols] - target[..., cols]) ** 2).mean(axis=2)

    def mse(self, recorded: np.ndarray) -> np.ndarray:
        """Per-frame MSE (rad²) after each of 1..k steps, averaged over starts: (k,)."""
        return self.errors(recorded).mean(axis=0)


class Simulator:
    """The Rajagopal body of one subject, stepped under joint torques and recorded ground forces."""

    def __init__(self, body: RajagopalBody):
        if body.arm_qpos is not None:
            raise ValueError("the simulation uses the armless Rajagopal body (as the paper)")
        self.body = body
        self.data = mujoco.MjData(body.model)
        self.feet = [body.model.body(name).id for name in FEET]
        self.prescribed = np.array([RAJAGOPAL_COORDINATES.index(c) for c in PRESCRIBED])
        self.free = np.setdiff1d(np.arange(len(RAJAGOPAL_COORDINATES)), self.prescribed)

    @classmethod
    def for_subject(cls, height_m: float, mass_kg: float) -> "Simulator":
        return cls(rajagopal_body(float(height_m), float(mass_kg)))

    def foot_points(self, q: np.ndarray, cop: np.ndarray) -> np.ndarray:
        """Recorded CoPs (T, 2, 3), z-up world, as points fixed to each ``calcn`` (T, 2, 3) in its body frame,
        at the recorded coordinates q (T, 23). NaN where the CoP is."""
        m, d = self.body.model, self.data
        qpos = self.body.state(q)
        out = np.full(cop.shape, np.nan)
        cop_m = cop @ Y_UP_TO_Z_UP  # z-up -> the model's y-up world (row vectors: v_m = R^T v)
        for t in range(len(q)):
            d.qpos[:] = qpos[t]
            mujoco.mj_kinematics(m, d)
            for f, b in enumerate(self.feet):
                out[t, f] = d.xmat[b].reshape(3, 3).T @ (cop_m[t, f] - d.xpos[b])
        return out

    def accelerations(self, q: np.ndarray, qd: np.ndarray, force: np.ndarray, grf: np.ndarray,
                      local: np.ndarray, qdd_prescribed: np.ndarray, moment: np.ndarray | None = None) -> np.ndarray:
        """Coordinate accelerations (23,) at (q, qd) (23,) under the coordinate forces ``force`` (23,: the
        root's, then the joint torques; N m, N) and the feet's forces ``grf`` (2, 3) N (z-up) at body points
        ``local`` (2, 3) with free moments ``moment`` (2, 3) N m; the prescribed coordinates accelerate as
        ``qdd_prescribed`` (23,) says."""
        m, d, body = self.body.model, self.data, self.body
        qpos, qvel, a0 = body.state(q[None], qd[None], np.zeros((1, len(q))))
        with unconstrained(m):
            d.qpos[:], d.qvel[:], d.qacc[:] = qpos[0], qvel[0], a0[0]
            mujoco.mj_inverse(m, d)
        p, mass = coordinate_mass(body, d, q)
        moment = np.zeros((2, 3)) if moment is None else moment
        rhs = force + (self._external(grf, local, moment) - d.qfrc_inverse) @ p
        fr, pr = self.free, self.prescribed
        out = np.array(qdd_prescribed, float)
        out[fr] = np.linalg.solve(mass[np.ix_(fr, fr)], rhs[fr] - mass[np.ix_(fr, pr)] @ out[pr])
        return out

    def _state(self, q: np.ndarray, fps: float):
        t = np.arange(len(q)) / fps
        spline = CubicSpline(t, q, axis=0)
        return spline(t, 1), spline(t, 2)

    def _external(self, grf: np.ndarray, local: np.ndarray, moment: np.ndarray) -> np.ndarray:
        """``J^T (F, M)`` (nv,) of the feet's forces and free moments, at the state in ``self.data``."""
        m, d = self.body.model, self.data
        ext = np.zeros(m.nv)
        for f, b in enumerate(self.feet):
            if np.linalg.norm(grf[f]) >= MIN_LOAD_N and np.isfinite(local[f]).all():
                point = d.xpos[b] + d.xmat[b].reshape(3, 3) @ local[f]
                mujoco.mj_applyFT(m, d, grf[f] @ Y_UP_TO_Z_UP, moment[f] @ Y_UP_TO_Z_UP, point, b, ext)
        return ext

    @staticmethod
    def _loads(grf: np.ndarray, moment: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        grf = np.nan_to_num(np.asarray(grf, float))
        return grf, np.zeros_like(grf) if moment is None else np.nan_to_num(np.asarray(moment, float))

    def inverse(self, q: np.ndarray, fps: float, grf: np.ndarray, cop: np.ndarray,
                moment: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inverse dynamics under this simulation's force model (the spline's velocities and accelerations, the
        recorded forces at the CoPs on ``calcn``, the free moments ``moment`` (T, 2, 3) if given): joint torques
        (T, 17) N m and the root residual (T, 6), the
        generalized forces on the pelvis coordinates that the ground forces leave unexplained (N m, N). With both
        applied, one step reproduces the recording up to the integrator's own error."""
        q = np.asarray(q, float)
        qd, qdd = self._state(q, fps)
        grf, moment = self._loads(grf, moment)
        local = self.foot_points(q, np.asarray(cop, float))
        m, d, body = self.body.model, self.data, self.body
        qpos, qvel, qacc = body.state(q, qd, qdd)
        out = np.empty_like(q)
        with unconstrained(m):
            for i in range(len(q)):
                d.qpos[:], d.qvel[:], d.qacc[:] = qpos[i], qvel[i], qacc[i]
                mujoco.mj_inverse(m, d)
                gen = d.qfrc_inverse - self._external(grf[i], local[i], moment[i])
                out[i] = body.coordinate_forces(q[i:i + 1], gen[None])[0]
        return out[:, 6:], out[:, :6]

    def rollouts(self, q: np.ndarray, fps: float, torque: np.ndarray, grf: np.ndarray, cop: np.ndarray,
                 k: int, root_force: np.ndarray | None = None, moment: np.ndarray | None = None) -> Rollouts:
        """From every frame with k frames after it, k semi-implicit Euler steps of 1/fps under ``torque``
        (T, 17) and the recorded ``grf``/``cop`` (and free moments ``moment``) (T, 2, 3); q (T, 23) the recorded
        coordinates. ``root_force`` (T, 6): generalized forces on the pelvis coordinates (default none: the root
        is unactuated)."""
        q = np.asarray(q, float)
        if k < 1 or len(q) <= k:
            raise ValueError(f"k must be in 1..{len(q) - 1} for {len(q)} frames, got {k}")
        torque = np.asarray(torque, float)
        if torque.shape != (len(q), len(RAJAGOPAL_COORDINATES) - 6):
            raise ValueError(f"torque must be ({len(q)}, {len(RAJAGOPAL_COORDINATES) - 6}), got {torque.shape}")
        qd_rec, qdd_rec = self._state(q, fps)
        grf, moment = self._loads(grf, moment)
        local = self.foot_points(q, np.asarray(cop, float))
        dt = 1.0 / fps
        starts = np.arange(len(q) - k)
        out = np.empty((len(starts), k, q.shape[1]))
        pr = self.prescribed
        full = np.zeros((len(q), q.shape[1]))
        full[:, 6:] = torque
        if root_force is not None:
            full[:, :6] = root_force
        for s in starts:
            qs, qds = q[s].copy(), qd_rec[s].copy()
            for j in range(k):
                i = s + j
                qdd = self.accelerations(qs, qds, full[i], grf[i], local[i], qdd_rec[i], moment[i])
                qds = qds + dt * qdd
                qs = qs + dt * qds
                qs[pr], qds[pr] = q[i + 1, pr], qd_rec[i + 1, pr]
                out[s, j] = qs
        return Rollouts(out, starts)


# ---------------------------------------------------------------------------------------------------
# sequences, a trained run, the report

SOURCES = {"hdys": "HDyS", "labels": "Optimized (the recording's torques)",
           "inverse": "inverse dynamics here (no root residual)"}


def simulate_sequence(seq: Sequence, torques: dict[str, np.ndarray], k: int,
                      simulator: Simulator | None = None) -> dict:
    """Per-frame MSE after 1..k steps for each named torque array (T, 17), on ``seq`` at its own frame rate;
    also ``inverse``: the torques of :meth:`Simulator.inverse` without its root residual (what the recorded
    forces and motion imply here), and the residual's RMS. Returns ``{"mse": {name: [k values]}, "errors":
    {name: (S, k)}, "starts": S, "residual_rms": [6], "rollouts": {name: Rollouts}}``."""
    simulation_inputs(seq, seq.sequence_id or "input")
    sim = simulator or Simulator.for_subject(seq.height_m, seq.mass_kg)
    q = np.asarray(seq.joint_angles, float)[:, :len(RAJAGOPAL_COORDINATES)]
    tau, res = sim.inverse(q, seq.fps, seq.grf, seq.cop, seq.cop_moment)
    out = {"mse": {}, "errors": {}, "rollouts": {}, "residual_rms": np.sqrt((res ** 2).mean(0)).tolist()}
    for name, torque in {**torques, "inverse": tau}.items():
        r = sim.rollouts(q, seq.fps, torque, seq.grf, seq.cop, k, moment=seq.cop_moment)
        out["errors"][name] = r.errors(q)
        out["mse"][name] = out["errors"][name].mean(0).tolist()
        out["rollouts"][name] = r
        out["starts"] = len(r.start)
    return out


def simulate_run(run_dir, sequences, k: int = 5, fps: list[float] | None = None,
                 representations: list[str] | None = None, progress: bool = True, plot=None) -> dict:
    """Table 5 / Table 11 for a trained run: every sequence (resampled to each of ``fps``, default its own
    rate), torques predicted by the run and, where the sequence has them, its own (``labels``); sequences that
    cannot be simulated are reported and skipped. MSE per k averaged over all start frames of all sequences
    (``mse``, the paper's figure) and their median (``median``: a few diverging starts dominate the mean).
    ``plot``: a .png path for :func:`plot_rollout` of the first sequence at the first rate."""
    from tqdm import tqdm

    from .predict import load

    model = load(run_dir)
    seqs, skipped = [], []
    for seq in sequences:
        try:
            simulation_inputs(seq, seq.sequence_id or "input")
            if np.nanmax(np.linalg.norm(np.nan_to_num(seq.grf), axis=-1)) < MIN_LOAD_N:
                raise SchemaError(f"{seq.sequence_id}: no ground reaction force in any frame (a supported or "
                                  "airborne motion cannot be simulated with the root unactuated)")
            if seq.num_frames <= k + 1:
                raise SchemaError(f"{seq.sequence_id}: {seq.num_frames} frames, fewer than k + 2 = {k + 2}")
        except SchemaError as exc:
            skipped.append({"sequence": seq.sequence_id, "reason": str(exc)})
            log.warning("skipping %s", exc)
            continue
        seqs.append(seq)
    rates = fps or sorted({float(s.fps) for s in seqs})
    totals: dict[str, dict[str, np.ndarray]] = {}
    medians: dict[str, dict[str, list]] = {}
    per_seq = []
    bar = tqdm(total=len(seqs) * len(rates), disable=not progress, unit="sequence", desc="simulating")
    for rate in rates:
        acc: dict[str, list] = {}
        for seq in seqs:
            s = seq if abs(seq.fps - rate) < 1e-9 else resample(seq, rate)
            torques = {"hdys": model.predict(s, representations=representations).arrays["torque_rajagopal"]}
            if s.torque_rajagopal is not None:
                torques["labels"] = s.torque_rajagopal
            r = simulate_sequence(s, torques, k)
            if plot is not None and not per_seq:
                plot_rollout(s, r, plot, k)
            for name, v in r["errors"].items():
                acc.setdefault(name, []).append(v)
            per_seq.append({"sequence": seq.sequence_id, "fps": rate, "starts": r["starts"], "mse": r["mse"],
                            "residual_rms": r["residual_rms"]})
            bar.update()
        errs = {name: np.concatenate(v) for name, v in acc.items()}
        totals[f"{rate:g}"] = {name: v.mean(0).tolist() for name, v in errs.items()}
        medians[f"{rate:g}"] = {name: np.median(v, 0).tolist() for name, v in errs.items()}
    bar.close()
    return {"run": str(run_dir), "k": k, "fps": rates, "mse": totals, "median": medians, "sequences": per_seq,
            "skipped": skipped,
            "scored": list(SCORED), "prescribed": list(PRESCRIBED)}


def simulation_markdown(results: dict) -> str:
    """Tables 5 and 11 as the paper lays them out: rows torque sources (per frame rate), columns k."""
    k = results["k"]
    lines = [f"Per-frame MSE (rad², {len(results['scored'])} rotational coordinates) after k steps, from the recorded "
             f"state at every frame; {len({s['sequence'] for s in results['sequences']})} sequences, run "
             f"`{results['run']}`.", "", "| torques | fps | " + " | ".join(f"k={i}" for i in range(1, k + 1)) + " |",
             "|---|---|" + "---|" * k]
    for rate, rows in results["mse"].items():
        for name, v in rows.items():
            lines.append(f"| {SOURCES.get(name, name)} | {rate} | " + " | ".join(f"{x:.4g}" for x in v) + " |")
    lines += ["", "The same, median over the start frames:", "",
              "| torques | fps | " + " | ".join(f"k={i}" for i in range(1, k + 1)) + " |", "|---|---|" + "---|" * k]
    for rate, rows in results.get("median", {}).items():
        for name, v in rows.items():
            lines.append(f"| {SOURCES.get(name, name)} | {rate} | " + " | ".join(f"{x:.4g}" for x in v) + " |")
    if results["skipped"]:
        lines += ["", f"Skipped {len(results['skipped'])}: " + "; ".join(s["reason"] for s in results["skipped"])]
    return "\n".join(lines) + "\n"


def plot_rollout(seq: Sequence, result: dict, path, k: int, coords=("hip_flexion_r", "knee_angle_r",
                                                                     "ankle_angle_r")) -> None:
    """Figure 7's idea as curves: the recorded angles and, for each torque source, the angle reached k steps
    after each start frame (plotted at that frame). The axes keep the recorded range plus a margin, so a
    rollout that diverges leaves the plot instead of flattening the others."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(seq.num_frames) / seq.fps
    fig, axes = plt.subplots(len(coords), 1, figsize=(8, 2.2 * len(coords)), sharex=True)
    for ax, c in zip(np.atleast_1d(axes), coords):
        j = RAJAGOPAL_COORDINATES.index(c)
        rec = np.degrees(seq.joint_angles[:, j])
        ax.plot(t, rec, "k", lw=2, label="recorded")
        for name, r in result["rollouts"].items():
            ax.plot(t[r.start + k], np.degrees(r.q[:, k - 1, j]), lw=1, label=f"{SOURCES.get(name, name)}, k={k}")
        margin = max(20.0, 0.5 * float(np.ptp(rec)))
        ax.set_ylim(float(rec.min()) - margin, float(rec.max()) + margin)
        ax.set_ylabel(f"{c} (deg)")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="best")
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.suptitle(f"{seq.sequence_id}: simulated {k} frames ahead at {seq.fps:g} fps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
