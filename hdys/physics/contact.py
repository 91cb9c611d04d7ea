"""Contact-aware inverse dynamics: foot-floor contact, ground reaction forces, joint torques.

Paper Eq. 1 reads ``M(q) q̈ + C(q, q̇) + G(q) = J(q)ᵀ λ + τ``. Inverse dynamics
(:func:`hdys.physics.inverse.inverse_dynamics`) gives the left-hand side, ``qfrc``. The root
(Rajagopal pelvis coordinates, SMPL free joint) has no actuator (``τ_root = 0``), so the root rows read
``qfrc_root = J_rootᵀ λ``: the ground forces must explain the root wrench.

**Contact points.** Four points per foot on the sole (:data:`FOOT_POINTS`: heel medial/lateral on
the heel body, toe medial/lateral under the metatarsal heads on the toe body), placed from the body
geometry of :mod:`hdys.physics.bodies` (Rajagopal: ``calcn``/``toes``; SMPL: ``*_ankle``/``*_foot``).

**Contact detection.** A point is *active* when its height above the floor (z = 0) is below
``CONTACT_HEIGHT`` (3 cm) and its speed below ``CONTACT_SPEED`` (0.6 m/s); a foot is in contact when
one of its points is active and the foot carries more than ``CONTACT_LOAD`` (2 %) of body weight (the
20 N-like threshold of force-plate contact labels: a foot hovering slowly just above the floor, as in the
flight phase of a run, carries no force and is not in contact). Heel strike and toe-off roll the foot about its heel or its toes, so
single points of a rolling foot are active while the others move. Only active points carry force.

**Ground reaction forces.** Per frame, each active point force lies in a linearised Coulomb cone (a
four-sided pyramid inscribed in the cone of friction coefficient ``MU = 0.8``):
``f_j = Σ_k β_jk d_k``, ``d_k = n + μ (cos θ_k t₁ + sin θ_k t₂)``, ``θ_k = 45° + k 90°``, ``β ≥ 0``. The
β minimise ``‖W (A β − qfrc_root)‖² + α ‖β‖²`` (non-negative least squares) with ``A = J_rootᵀ D``; ``W``
scales the force rows by ``1/(m g)`` and the moment rows by ``1/(m g · 1 m)``, the unknowns are in body
weights, ``α = 1e-4`` spreads the load evenly over the points where the wrench leaves it undetermined.
With ``γ = √α β`` this is ``min ‖γ‖² + ‖W A γ / √α − W qfrc_root‖²``, ``0 ≤ γ``, the problem static
optimisation solves (:func:`hdys.physics.static_opt.solve_batched`, all frames at once, exact active set;
inactive points' columns are zero); its upper bound ``γ ≤ 1`` is ``β ≤ 100`` body weights per pyramid
edge, never reached by a motion a person makes. Then:

* joint torques: the non-root rows of ``qfrc − Σ_j J_jᵀ f_j``;
* GRF per foot: the sum of its point forces; CoP: the normal-force-weighted mean of its active points
  (a convex combination, hence inside the foot's support polygon); NaN where the foot carries no
  normal force;
* the *residual root wrench* ``qfrc_root − A β`` (what the ground cannot explain: a seat, a hand on a
  rail, or motion that is not physically consistent), returned as a world wrench (force in N,
  moment about the root origin in N m) and as a fraction of ``‖W qfrc_root‖``.

All outputs are in the exported z-up world; the Rajagopal model's OpenSim y-up world is rotated with
``(x, y, z) -> (x, -z, y)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hdys.frames import G, Y_UP_TO_Z_UP
from hdys.physics.bodies import DE_LEVA_STATURE, SMPL_REFERENCE_HEIGHT, RajagopalBody, SmplBody
from hdys.physics.inverse import rajagopal_state, smpl_state, unconstrained
from hdys.physics.rotations import SmplTrajectory
from hdys.physics.static_opt import solve_batched

MU = 0.8  # friction coefficient (shoe on floor)
CONTACT_HEIGHT = 0.03  # m: a point lower than this may be in contact
CONTACT_SPEED = 0.6  # m/s: ... and slower than this
CONTACT_LOAD = 0.02  # body weights: a foot in contact carries more normal force than this
REGULARISER = 1e-4  # alpha, in (body weights)^2
FOOT_POINTS = ("heel_medial", "heel_lateral", "toe_medial", "toe_lateral")


@dataclass(frozen=True)
class Terrain:
    """Level platforms on the floor (z = 0), z-up world: ``boxes`` (N, 6) rows ``x, y, half_length,
    half_width, yaw, top`` (centre, half extents along the box's own axes, rotation about z, top height;
    m and rad). The support under a point is the highest top whose footprint contains it, else the floor."""

    boxes: np.ndarray

    def height(self, xy: np.ndarray) -> np.ndarray:
        """Support height (...) under horizontal positions ``xy`` (..., 2)."""
        xy = np.asarray(xy, float)
        out = np.zeros(xy.shape[:-1])
        for x, y, hl, hw, yaw, top in np.asarray(self.boxes, float).reshape(-1, 6):
            dx, dy = xy[..., 0] - x, xy[..., 1] - y
            along, across = np.cos(yaw) * dx + np.sin(yaw) * dy, -np.sin(yaw) * dx + np.cos(yaw) * dy
            inside = (np.abs(along) <= hl) & (np.abs(across) <= hw)
            out = np.where(inside, np.maximum(out, top), out)
        return out

    def to_json(self) -> list[list[float]]:
        return [[float(v) for v in row] for row in np.asarray(self.boxes, float).reshape(-1, 6)]


@dataclass
class FootModel:
    """Contact points of the two feet ([left, right] x FOOT_POINTS) of one MuJoCo body.

    ``body`` (2, 4) body ids, ``local`` (2, 4, 3) positions in those bodies, ``to_zup`` (3, 3) rotation
    from the model world to the z-up world, ``root_dofs`` (6,) the root's DoF addresses, ``root_body``.
    """

    body: np.ndarray
    local: np.ndarray
    to_zup: np.ndarray
    root_dofs: np.ndarray
    root_body: int


def rajagopal_feet(body: RajagopalBody) -> FootModel:
    """Sole points of ``calcn_*`` (heel) and ``toes_*`` (metatarsal heads), OpenSim frame (x forward,
    y up, z right). The heel sole is 3 cm below the calcaneus origin (as ``standing_pelvis_height``
    assumes), the toe points 2.8 cm below the MTP axis; medial is -z on the right foot, +z on the left."""
    m, k = body.model, body.height_m / DE_LEVA_STATURE
    ids, local = np.zeros((2, 4), int), np.zeros((2, 4, 3))
    for f, (side, sgn) in enumerate((("l", -1.0), ("r", 1.0))):
        calcn, toes = m.body(f"calcn_{side}").id, m.body(f"toes_{side}").id
        ids[f] = (calcn, calcn, toes, toes)
        local[f] = np.array([[-0.005, -0.030, -0.022 * sgn], [-0.005, -0.030, 0.022 * sgn],
                             [0.020, -0.028, -0.035 * sgn], [-0.030, -0.028, 0.040 * sgn]]) * k
    root = np.array([m.jnt_dofadr[m.joint(n).id] for n in ("pelvis_tx", "pelvis_ty", "pelvis_tz",
                                                            "pelvis_tilt", "pelvis_list", "pelvis_rotation")])
    return FootModel(ids, local, Y_UP_TO_Z_UP.copy(), root, m.body("pelvis").id)


def smpl_feet(body: SmplBody) -> FootModel:
    """Sole points of ``*_ankle`` (heel) and ``*_foot`` (toes) in the SMPL rest frame (x left, y up,
    z forward): the sole is 9 cm (reference stature) below the ankle joint; lateral is +x on the left."""
    m, s = body.model, body.height_m / SMPL_REFERENCE_HEIGHT
    ids, local = np.zeros((2, 4), int), np.zeros((2, 4, 3))
    for f, (side, sx) in enumerate((("left", 1.0), ("right", -1.0))):
        ankle, foot = m.body(f"{side}_ankle").id, m.body(f"{side}_foot").id
        ids[f] = (ankle, ankle, foot, foot)
        local[f] = np.array([[-0.020 * sx, -0.090, -0.050], [0.025 * sx, -0.090, -0.050],
                             [-0.035 * sx, -0.030, 0.045], [0.040 * sx, -0.030, 0.010]]) * s
    return FootModel(ids, local, np.eye(3), np.arange(6), int(body.body[0]))


def runs(flag: np.ndarray):
    """(start, stop) of the runs of True in a 1-D bool array (``stop`` exclusive)."""
    d = np.diff(np.concatenate([[0], flag.astype(int), [0]]))
    return zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))


def stance_slides(pos: np.ndarray, force: np.ndarray) -> np.ndarray:
    """Per run of frames in which a sole point carries force (``force`` (T, 2, 4, 3), above 1e-6 N), that
    point's largest horizontal displacement (m) from where the run began (``pos`` (T, 2, 4, 3), z-up)."""
    loaded = np.linalg.norm(force, axis=-1) > 1e-6
    return np.array([np.linalg.norm(pos[a:b, f, p, :2] - pos[a, f, p, :2], axis=1).max()
                     for f in range(pos.shape[1]) for p in range(pos.shape[2]) for a, b in runs(loaded[:, f, p])])


def pyramid(mu: float = MU) -> np.ndarray:
    """(4, 3) edge directions of the friction pyramid inscribed in the cone, z-up world (normal +z)."""
    th = np.pi / 4 + np.arange(4) * np.pi / 2
    return np.stack([mu * np.cos(th), mu * np.sin(th), np.ones(4)], axis=1)


@dataclass
class ContactDynamics:
    """Contact-aware inverse dynamics of one trajectory (all world quantities z up).

    ``qfrc`` (T, nv) the inverse-dynamics generalized force; ``qfrc_contact`` (T, nv) ``Σ Jᵀ f``;
    ``joint`` (T, nv) ``qfrc - qfrc_contact`` (root rows = the residual generalized force);
    ``point_pos``/``point_vel``/``point_force`` (T, 2, 4, 3); ``active`` (T, 2, 4); ``contact`` (T, 2);
    ``grf``/``cop`` (T, 2, 3); ``cop_moment`` (T, 2, 3) each foot's point forces' moment about its CoP (the free
    moment: with ``grf`` at ``cop`` it makes the foot's whole ground wrench; 0 where the foot carries nothing);
    ``root_residual`` (T, 6) world force (N) and moment about the root origin (N m) left unexplained;
    ``solver_residual`` (T,) ``‖W(Aβ − b)‖ / ‖W b‖``."""

    qfrc: np.ndarray
    qfrc_contact: np.ndarray
    joint: np.ndarray
    point_pos: np.ndarray
    point_vel: np.ndarray
    point_force: np.ndarray
    active: np.ndarray
    contact: np.ndarray
    grf: np.ndarray
    cop: np.ndarray
    root_residual: np.ndarray
    solver_residual: np.ndarray
    cop_moment: np.ndarray


def body_dof_chains(model: mujoco.MjModel, bodies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``chain (len(bodies), nv)``: the DoFs that move each body (its own and its ancestors', as ``mj_jac``
    walks them; a body without DoFs moves with its nearest ancestor that has some) and ``tree_root``: the
    root body of each one's kinematic tree (whose subtree COM is the origin of ``cdof``)."""
    chain = np.zeros((len(bodies), model.nv), bool)
    for k, b in enumerate(bodies):
        while b and not model.body_dofnum[b]:
            b = model.body_parentid[b]
        dof = model.body_dofadr[b] + model.body_dofnum[b] - 1 if b else -1
        while dof >= 0:
            chain[k, dof] = True
            dof = model.dof_parentid[dof]
    return chain, model.body_rootid[bodies].copy()


def _solve3(rows: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (T, 3) with ``rows @ x = b`` for (T, 3, 3), (T, 3), by Cramer's rule (vectorised; a batch of tiny
    ``np.linalg.solve`` calls costs microseconds each)."""
    r0, r1, r2 = rows[:, 0], rows[:, 1], rows[:, 2]
    c12, c20, c01 = np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)
    det = np.einsum("ta,ta->t", r0, c12)
    return (b[:, :1] * c12 + b[:, 1:2] * c20 + b[:, 2:] * c01) / det[:, None]


def _root_wrench(lin: np.ndarray, ang: np.ndarray, lever: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """World wrench (T, 6) (force, moment about the root body's origin) whose generalized force on the six
    root DoFs is ``gen`` (T, 6): ``J6ᵀ (F, M) = gen`` with J6's columns (lin_n + ang_n x lever, ang_n) from
    ``cdof`` (``lin``/``ang`` (T, 6, 3) of the root DoFs, ``lever`` (T, 3) from the subtree COM to the root
    origin). Root translations first (no rotation part, as both bodies' are): two 3 x 3 solves."""
    if np.any(ang[:, :3]):
        j6t = np.concatenate([lin + np.cross(ang, lever[:, None]), ang], axis=2)
        return np.linalg.solve(j6t, gen[..., None])[..., 0]
    force = _solve3(lin[:, :3], gen[:, :3])
    arm = lin[:, 3:] + np.cross(ang[:, 3:], lever[:, None])
    moment = _solve3(ang[:, 3:], gen[:, 3:] - np.einsum("tna,ta->tn", arm, force))
    return np.concatenate([force, moment], axis=1)


@dataclass
class InversePass:
    """What ``mj_inverse`` leaves for the contact step, per frame (T, ...): ``qfrc`` (T, nv) the generalized
    forces; ``cdof`` (T, nv, 6), ``xpos`` (T, nbody, 3), ``xmat`` (T, nbody, 9), ``subtree_com`` (T, nbody, 3) as
    MuJoCo's position stages computed them."""

    qfrc: np.ndarray
    cdof: np.ndarray
    xpos: np.ndarray
    xmat: np.ndarray
    subtree_com: np.ndarray


def inverse_pass(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray) -> InversePass:
    """The inverse-dynamics stage: ``mj_inverse`` frame by frame (constraints off, as
    :func:`hdys.physics.inverse.inverse_dynamics`), keeping the kinematics the contact step needs."""
    nt, nv = qvel.shape
    data = mujoco.MjData(model)
    out = InversePass(np.empty((nt, nv)), np.empty((nt, nv, 6)), *(np.empty((nt, model.nbody, k)) for k in (3, 9, 3)))
    qfrc, cdof, xpos, xmat, subtree_com = out.qfrc, out.cdof, out.xpos, out.xmat, out.subtree_com
    inverse = mujoco.mj_inverse
    # MjData's arrays, fetched once (each attribute access builds a new view)
    d_pos, d_vel, d_acc = data.qpos, data.qvel, data.qacc
    d_frc, d_cdof, d_xpos, d_xmat, d_com = data.qfrc_inverse, data.cdof, data.xpos, data.xmat, data.subtree_com
    with unconstrained(model):
        for i in range(nt):
            d_pos[:], d_vel[:], d_acc[:] = qpos[i], qvel[i], qacc[i]
            inverse(model, data)  # also runs the position stages (cdof, subtree_com)
            qfrc[i], cdof[i], xpos[i], xmat[i], subtree_com[i] = d_frc, d_cdof, d_xpos, d_xmat, d_com
    return out


def contact_inverse_dynamics(model: mujoco.MjModel, feet: FootModel, qpos: np.ndarray, qvel: np.ndarray,
                             qacc: np.ndarray, mass_kg: float, **kw) -> ContactDynamics:
    """Inverse dynamics with ground reaction forces for MuJoCo states (T, nq), (T, nv), (T, nv): the two stages,
    :func:`inverse_pass` then :func:`contact_forces` (``kw``: its options)."""
    return contact_forces(model, feet, qvel, inverse_pass(model, qpos, qvel, qacc), mass_kg, **kw)


def contact_forces(model: mujoco.MjModel, feet: FootModel, qvel: np.ndarray, passed: InversePass, mass_kg: float,
                   mu: float = MU, height: float = CONTACT_HEIGHT, speed: float = CONTACT_SPEED,
                   regulariser: float = REGULARISER, terrain: Terrain | None = None) -> ContactDynamics:
    """The contact stage, for all frames at once from an :func:`inverse_pass` at velocities ``qvel`` (T, nv).

    A sole point may carry force when it is within ``height`` of its support (the floor, or a platform of
    ``terrain``) and slower than ``speed``; the supports are level, so the friction pyramids stay vertical.
    The sole points' positions, velocities and root Jacobian rows (from ``cdof``), the ground forces (one
    batched solve), the contact torques and the residual wrench."""
    nt, nv = qvel.shape
    rot = feet.to_zup
    dirs = pyramid(mu) @ rot  # (4, 3): pyramid edges in the model world (rows)
    w = np.full(6, 1.0 / (mass_kg * G))  # force rows / (m g), moment rows / (m g * 1 m)
    root = feet.root_dofs
    bodies, which = np.unique(feet.body, return_inverse=True)  # the foot bodies; (2, 4) index into them
    which = which.reshape(feet.body.shape)
    bodies = np.append(bodies, feet.root_body)  # and the root body, last
    chain, tree_root = body_dof_chains(model, bodies)
    chain_f = chain.astype(float)
    qfrc, cdof, xpos, xmat, subtree_com = passed.qfrc, passed.cdof, passed.xpos, passed.xmat, passed.subtree_com
    # cdof row n is DoF n's unit motion (angular, linear) about the subtree COM of its tree's root: DoF n turns
    # a point p it moves at ang_n and moves it at lin_n + ang_n x (p - com), p's Jacobian column n (as
    # mj_jac). Only what is needed is formed: velocities, the root columns, and J^T applied to forces.
    ang, lin = cdof[..., :3], cdof[..., 3:]  # (T, nv, 3)
    com = subtree_com[:, tree_root]  # (T, nb, 3)
    frame = xmat[:, bodies].reshape(nt, bodies.size, 3, 3)
    r = np.einsum("tfpab,fpb->tfpa", frame[:, which], feet.local)  # (T, 2, 4, 3) from the body origins
    pos_m = xpos[:, bodies][:, which] + r  # model world
    lever = pos_m - com[:, which]  # (T, 2, 4, 3): from the COM that cdof refers to
    twist = np.matmul(chain_f, cdof * qvel[..., None])  # (T, nb, 6): sum over each chain
    vel = (twist[:, which, 3:] + np.cross(twist[:, which, :3], lever)) @ rot.T
    pos = pos_m @ rot.T
    support = 0.0 if terrain is None else terrain.height(pos[..., :2])
    active = (pos[..., 2] - support < height) & (np.linalg.norm(vel, axis=-1) < speed)
    # the root rows of each pyramid edge's generalized force, unknowns in body weights (T, 2, 4, 6, 4):
    # (lin_n + ang_n x l) . d_k = lin_n . d_k + ang_n . (l x d_k), for the root DoFs that move the point
    moves = chain[which][..., root][..., None]  # (2, 4, 6, 1)
    lever_x_dirs = np.cross(lever[..., None, :], dirs).swapaxes(-1, -2)  # (T, 2, 4, 3, 4)
    a_all = ((lin[:, None, None, root] @ dirs.T) + ang[:, None, None, root] @ lever_x_dirs) * moves
    b_all = qfrc[:, root] * w
    beta = np.zeros((nt, 2, 4, 4))
    frames = np.flatnonzero(active.any((1, 2)))
    if frames.size:  # all frames at once, as box-constrained least squares in gamma = sqrt(alpha) beta
        sq = np.sqrt(regulariser)
        a_mat = (a_all[frames] * active[frames][..., None, None]).transpose(0, 3, 1, 2, 4).reshape(-1, 6, 32)
        gamma, _ = solve_batched(a_mat / sq, b_all[frames])
        beta[frames] = gamma.reshape(-1, 2, 4, 4) / sq
    force_m = (beta * (mass_kg * G)) @ dirs  # (T, 2, 4, 3) model world
    # sum of J^T f over the points: per DoF n, over the bodies b its chain moves,
    # lin_n . (sum of b's point forces) + ang_n . (sum of b's l x f)
    on_body = np.eye(bodies.size)[which].reshape(8, -1)  # (8, nb)
    load = np.concatenate([np.cross(lever, force_m), force_m], axis=-1).reshape(nt, 8, 6)
    body_load = np.einsum("tpa,pb->tab", load, on_body)  # (T, 6, nb): (moment about the COM, force)
    qfrc_c = np.einsum("tnc,tcn->tn", cdof, body_load @ chain_f)  # each DoF: its bodies' loads
    force = force_m @ rot.T
    res = qfrc[:, root] - qfrc_c[:, root]
    solver_res = np.linalg.norm(res * w, axis=1) / np.maximum(np.linalg.norm(b_all, axis=1), 1e-12)
    # residual generalized root force -> world wrench at the root origin: Q = J6ᵀ (F, M)
    fm = _root_wrench(lin[:, root], ang[:, root], xpos[:, feet.root_body] - com[:, -1], res)
    wrench = np.concatenate([fm[:, :3] @ rot.T, fm[:, 3:] @ rot.T], axis=1)
    grf = force.sum(2)
    fn = force[..., 2]
    tot = fn.sum(-1)
    contact = active.any(-1) & (tot > CONTACT_LOAD * mass_kg * G)
    with np.errstate(invalid="ignore", divide="ignore"):
        cop = np.einsum("tfp,tfpx->tfx", fn, pos) / tot[..., None]
    cop[tot <= 1e-9] = np.nan
    moment = np.cross(pos - np.nan_to_num(cop)[:, :, None, :], force).sum(2)  # (T, 2, 3) about each CoP
    return ContactDynamics(qfrc, qfrc_c, qfrc - qfrc_c, pos, vel, force, active, contact, grf, cop, wrench,
                           solver_res, moment)


def rajagopal_contact_dynamics(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray,
                               **kw) -> tuple[np.ndarray, ContactDynamics]:
    """Contact-aware ID on Rajagopal coordinates (each (T, 23)); returns ``(torque (T, 17), result)``."""
    res = contact_inverse_dynamics(body.model, rajagopal_feet(body), *rajagopal_state(body, q, qd, qdd),
                                   body.mass_kg, **kw)
    return body.coordinate_forces(q, res.joint)[:, 6:len(body.coord_qpos)], res


def smpl_joint_torque(body: SmplBody, rot_local: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """MuJoCo ball-joint generalized forces (child frame) -> schema torques (T, 69) in the parent frame.
    ``rot_local`` (T, 23, 3, 3): each joint's rotation relative to its parent."""
    tau_child = np.stack([gen[:, d:d + 3] for d in body.joint_dof], axis=1)
    return np.einsum("tjab,tjb->tja", rot_local, tau_child).reshape(-1, 69)


def smpl_contact_dynamics(body: SmplBody, traj: SmplTrajectory, **kw) -> tuple[np.ndarray, ContactDynamics]:
    """Contact-aware ID of an SMPL trajectory; returns ``(torque (T, 69) parent frame, result)``."""
    qpos, qvel, qacc = smpl_state(body, traj)
    res = contact_inverse_dynamics(body.model, smpl_feet(body), qpos, qvel, qacc, body.mass_kg, **kw)
    return smpl_joint_torque(body, traj.rot[:, 1:], res.joint), res
