"""Motion imitation on hdys's SMPL-topology humanoid in MuJoCo, PHC-style (Luo et al. 2023), gymnasium API.

**Control.** Every 23 ball joints is driven by a PD controller towards a target rotation; the action
(69 numbers in [-1, 1]) is a rotation vector per joint, scaled by ``ACTION_SCALE``, applied on top of the
reference's next-frame rotation of that joint: ``R_target = R_ref(t+1) exp(ACTION_SCALE a)`` (a residual
PD target; PHC's actions are absolute targets, which a CPU-sized budget learns far more slowly). Torques
``kp * log(R^T R_target)`` per joint (child frame) are applied at every physics substep; the damping
``kd = kp / 10`` is the joints' own, which MuJoCo integrates implicitly. With ``FEEDFORWARD`` the reference's
own joint forces are added: those of the contact-aware inverse dynamics that labels hdys's torques
(:attr:`hdys.control.clips.Clip.torque`), and ``kd`` times the reference's joint velocity, so that the
damping acts on the velocity error rather than braking the motion. A PD controller alone has to be off its
target to hold the body up against gravity (PHC's policy learns those offsets); with the feedforward the
policy only corrects balance. Gains (``KP``) are per joint group, scaled with body mass; the joints carry
``ARMATURE`` so that the light hands stay stable at the time step.
The root is unactuated: the body balances on its sole spheres (:func:`hdys.physics.bodies.smpl_body`), on
the floor or on the platforms of a step-up clip, placed at every reset.

**Observation** (PHC's, all in the heading frame of the humanoid's root: root at the origin, yaw removed):
the humanoid's 24 body positions (relative to the root), rotations (6-D: two columns of the rotation
matrix), linear and angular velocities, the root height; then the reference's next frame: its body
positions minus the humanoid's, rotations relative to the humanoid's, velocity and angular-velocity
differences, and its body positions and rotations relative to the humanoid's root. With ``with_latent``
the clip's HDyS keypoint latent of the next frame is appended (Table 6's "+ HDyS").

**Reward** (PHC): ``0.5 exp(-100 |dp|^2) + 0.3 exp(-10 |dθ|^2) + 0.1 exp(-0.1 |dv|^2) + 0.1 exp(-0.1 |dω|^2)``,
each squared difference averaged over the 24 bodies; in [0, 1].

**Termination** when the bodies' mean distance from the reference exceeds ``TERMINATION_M`` (0.5 m); an
episode is truncated at the clip's last frame or after ``max_episode_frames``. Resets start at a random
frame of a random clip in the reference's state (reference state initialisation), or where ``options``
say (``{"clip": i, "start": 0}`` for evaluation).
"""
from __future__ import annotations

import copy

import gymnasium as gym
import mujoco
import numpy as np

from ..physics.floor import MAX_PLATFORMS
from ..schema import SMPL_JOINT_NAMES
from .clips import Clip, humanoid

SUBSTEPS = 8  # physics steps per control step (a 30 fps clip: 240 Hz physics)
ACTION_SCALE = 0.75  # rad per unit action (with the fixed sigma 0.05: 0.0375 rad of exploration; chosen with KP and
# FEEDFORWARD on validation clips, benchmarks/control_controller.py)
TERMINATION_M = 0.5
FEEDFORWARD = True  # add the reference's inverse-dynamics joint forces (module docstring)
ARMATURE = 0.02  # kg m^2 on every joint DoF
# PD stiffness (N m / rad at 70 kg) per joint group; damping is a tenth of it (N m s / rad). Twice the first gains
# (benchmarks/control_controller.py), whose two ankles (2 x 300 N m / rad) were below the body's gravitational
# stiffness m g h (~700 N m / rad at 70 kg): held at a standing pose by the feedforward, the body toppled.
KP = {"hip": 1000.0, "knee": 1000.0, "ankle": 600.0, "foot": 200.0, "spine1": 1000.0, "spine2": 1000.0,
      "spine3": 1000.0, "neck": 400.0, "head": 200.0, "collar": 400.0, "shoulder": 400.0, "elbow": 300.0,
      "wrist": 100.0, "hand": 40.0}
REWARD_WEIGHTS = (0.5, 0.3, 0.1, 0.1)  # position, rotation, velocity, angular velocity
REWARD_SCALES = (100.0, 10.0, 0.1, 0.1)
N_BODIES = len(SMPL_JOINT_NAMES)
SELF_DIM = N_BODIES * (3 + 6 + 3 + 3) + 1
TASK_DIM = N_BODIES * (3 + 6 + 3 + 3 + 3 + 6)


# ---- quaternions, (..., 4) w x y z -------------------------------------------------------------------

def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def quat_conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def quat_from_rotvec(v: np.ndarray) -> np.ndarray:
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    scale = np.where(angle > 1e-8, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate([np.cos(half), v * scale], -1)


def rotvec_from_quat(q: np.ndarray) -> np.ndarray:
    """The rotation vector of unit quaternions, the shorter way round."""
    q = np.where(q[..., :1] < 0, -q, q)
    s = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    return q[..., 1:] * np.where(s > 1e-8, angle / np.maximum(s, 1e-12), 2.0)


def six_d(mats: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 6): the first two columns."""
    return mats[..., :, :2].reshape(*mats.shape[:-2], 6)


def _yaw_inverse(root_mat: np.ndarray) -> np.ndarray:
    """Rz(-heading) of a root whose rest forward is its +z axis (SMPL), in the z-up world."""
    fwd = root_mat[:, 2]
    h = np.arctan2(fwd[1], fwd[0])
    c, s = np.cos(h), np.sin(h)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


# ---- body state --------------------------------------------------------------------------------------

def body_state(model: mujoco.MjModel, data: mujoco.MjData, bodies: np.ndarray):
    """(positions (24, 3), rotations (24, 3, 3), linear and angular velocities (24, 3)) of the bodies in the
    world, at their origins; needs positions and velocities propagated (``mj_forward`` or after a step)."""
    vel = np.empty((len(bodies), 6))
    for i, b in enumerate(bodies):
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_BODY, int(b), vel[i], 0)
    return (data.xpos[bodies].copy(), data.xmat[bodies].reshape(-1, 3, 3).copy(), vel[:, 3:].copy(),
            vel[:, :3].copy())


def reference_states(clip: Clip) -> tuple[np.ndarray, ...]:
    """The reference's body positions (T, 24, 3), rotations (T, 24, 3, 3), linear and angular
    velocities (T, 24, 3), from its qpos and qvel by MuJoCo's kinematics."""
    body = humanoid(clip.height_m, clip.mass_kg)
    data = mujoco.MjData(body.model)
    out = [np.empty((clip.frames, N_BODIES) + s) for s in ((3,), (3, 3), (3,), (3,))]
    for t in range(clip.frames):
        data.qpos[:], data.qvel[:] = clip.qpos[t], clip.qvel[t]
        mujoco.mj_kinematics(body.model, data)
        mujoco.mj_comPos(body.model, data)
        mujoco.mj_comVel(body.model, data)
        for arr, v in zip(out, body_state(body.model, data, body.body)):
            arr[t] = v
    return tuple(out)


def observation(cur, ref, latent: np.ndarray | None) -> np.ndarray:
    """The PHC-style observation (see the module docstring) of the humanoid's state ``cur`` and the
    reference's next frame ``ref``, each (positions, rotations, velocities, angular velocities)."""
    pos, mat, vel, ang = cur
    rpos, rmat, rvel, rang = ref
    inv = _yaw_inverse(mat[0])
    root = pos[0]
    parts = [((pos - root) @ inv.T).ravel(), six_d(inv @ mat).ravel(), (vel @ inv.T).ravel(), (ang @ inv.T).ravel(),
             [pos[0, 2]],
             ((rpos - pos) @ inv.T).ravel(), six_d(np.swapaxes(mat, -1, -2) @ rmat).ravel(),
             ((rvel - vel) @ inv.T).ravel(), ((rang - ang) @ inv.T).ravel(),
             ((rpos - root) @ inv.T).ravel(), six_d(inv @ rmat).ravel()]
    if latent is not None:
        parts.append(latent)
    return np.concatenate(parts).astype(np.float32)


def reward_terms(cur, ref) -> tuple[float, float]:
    """(PHC reward in [0, 1], mean body distance from the reference in m)."""
    pos, mat, vel, ang = cur
    rpos, rmat, rvel, rang = ref
    dist = np.linalg.norm(pos - rpos, axis=-1)
    rel = np.swapaxes(mat, -1, -2) @ rmat
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    errors = ((dist ** 2).mean(), (np.arccos(cos) ** 2).mean(), ((vel - rvel) ** 2).sum(-1).mean(),
              ((ang - rang) ** 2).sum(-1).mean())
    r = sum(w * np.exp(-k * e) for w, k, e in zip(REWARD_WEIGHTS, REWARD_SCALES, errors))
    return float(r), float(dist.mean())


def settings() -> dict:
    """The environment's control settings, recorded with every policy: one trained under other settings does
    not act in this environment as it learned to."""
    return {"action_scale": ACTION_SCALE, "feedforward": FEEDFORWARD, "kp": dict(KP)}


def joint_gains(mass_kg: float) -> np.ndarray:
    """(23,) PD stiffness of the ball joints (SMPL_JOINT_NAMES[1:]) for a body of ``mass_kg``."""
    def group(name: str) -> str:
        return name.removeprefix("left_").removeprefix("right_")
    return np.array([KP[group(n)] for n in SMPL_JOINT_NAMES[1:]]) * mass_kg / 70.0


class ImitationEnv(gym.Env):
    """Track reference clips with the PD-controlled SMPL humanoid (see the module docstring).

    ``clips``: the references (each may have its own body size); ``with_latent``: append the clips' HDyS
    latents to the observation (every clip must carry them); ``max_episode_frames``: training episodes
    end after this many control steps (0: at the clip's end); ``seed``: the generator of the resets."""

    metadata = {"render_modes": []}

    def __init__(self, clips: list[Clip], with_latent: bool = False, max_episode_frames: int = 0,
                 seed: int | None = None):
        if not clips:
            raise ValueError("ImitationEnv needs at least one reference clip")
        if with_latent and any(c.latent is None for c in clips):
            missing = [c.name for c in clips if c.latent is None][:3]
            raise ValueError(f"with_latent: clips without HDyS latents, e.g. {missing}")
        self.clips, self.with_latent, self.max_episode_frames = clips, with_latent, max_episode_frames
        latent_dim = clips[0].latent.shape[1] if with_latent else 0
        dim = SELF_DIM + TASK_DIM + latent_dim
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3 * (N_BODIES - 1),), np.float32)
        self._rng = np.random.default_rng(seed)
        self._body_key = None
        self.clip_index, self.t, self.start = 0, 0, 0

    def _use_body(self, clip: Clip) -> None:
        key = (round(clip.height_m, 3), round(clip.mass_kg, 2))
        if key == self._body_key:
            return
        self.body = humanoid(clip.height_m, clip.mass_kg)
        self.model = copy.deepcopy(self.body.model)  # its own: the platforms and gains are set per environment
        self.model.opt.timestep = 1.0 / (clip.fps * SUBSTEPS)
        self.kp = joint_gains(clip.mass_kg)[:, None]
        dofs = (self.body.joint_dof[:, None] + np.arange(3)).ravel()
        self.model.dof_damping[dofs] = np.repeat(self.kp[:, 0] / 10.0, 3)
        self.model.dof_armature[dofs] = ARMATURE
        self.data = mujoco.MjData(self.model)
        self._qadr = self.body.joint_qpos[:, None] + np.arange(4)
        self._dofs = dofs
        self._platforms = [(self.model.geom(f"platform{i}").id,
                            self.model.body_mocapid[self.model.body(f"platform{i}").id]) for i in range(MAX_PLATFORMS)]
        self._body_key = key

    def _place_platforms(self, clip: Clip) -> None:
        """The clip's platforms (boxes from the floor to their tops), the others parked under the floor."""
        boxes = clip.terrain if clip.terrain is not None else np.zeros((0, 6))
        for i, (g, mocap) in enumerate(self._platforms):
            if i < len(boxes):
                x, y, hl, hw, yaw, top = boxes[i]
                self.data.mocap_pos[mocap] = (x, y, top / 2)
                self.data.mocap_quat[mocap] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
                size = (hl, hw, max(top / 2, 1e-3))
                self.model.geom_size[g] = size
                # the collision phases' bounds, which the compiler computed for the parked size
                self.model.geom_rbound[g] = np.linalg.norm(size)
                self.model.geom_aabb[g] = (0.0, 0.0, 0.0, *size)
            else:
                self.data.mocap_pos[mocap] = (0.0, 0.0, -10.0)

    def reference(self, t: int) -> tuple:
        """The current clip's reference at frame ``t``, as :meth:`state` gives the humanoid's."""
        return tuple(a[t] for a in self.clips[self.clip_index].states)

    def state(self) -> tuple:
        """The humanoid's (positions, rotations, velocities, angular velocities) of its 24 bodies, world frame."""
        return body_state(self.model, self.data, self.body.body)

    def _obs(self) -> np.ndarray:
        clip = self.clips[self.clip_index]
        nxt = min(self.t + 1, clip.frames - 1)  # at the clip's last frame (truncation) the target stays put
        latent = clip.latent[nxt] if self.with_latent else None
        return observation(self.state(), self.reference(nxt), latent)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or {}
        self.clip_index = int(options.get("clip", self._rng.integers(len(self.clips))))
        clip = self.clips[self.clip_index]
        self.start = int(options.get("start", self._rng.integers(0, clip.frames - 1)))
        if not 0 <= self.start < clip.frames - 1:
            raise ValueError(f"start frame {self.start} outside clip {clip.name!r} of {clip.frames} frames")
        self._use_body(clip)
        self.t = self.start
        mujoco.mj_resetData(self.model, self.data)
        self._place_platforms(clip)
        self.data.qpos[:], self.data.qvel[:] = clip.qpos[self.t], clip.qvel[self.t]
        mujoco.mj_forward(self.model, self.data)
        return self._obs(), {"clip": clip.name, "frame": self.t}

    def step(self, action):
        clip = self.clips[self.clip_index]
        a = np.clip(np.asarray(action, float), -1.0, 1.0).reshape(-1, 3)
        target = quat_mul(clip.qpos[self.t + 1][self._qadr], quat_from_rotvec(ACTION_SCALE * a))
        ff = 0.0
        if FEEDFORWARD and clip.torque is not None:
            ff = 0.5 * (clip.torque[self.t] + clip.torque[self.t + 1])[self._dofs] + \
                self.model.dof_damping[self._dofs] * clip.qvel[self.t + 1][self._dofs]
        for _ in range(SUBSTEPS):
            current = self.data.qpos[self._qadr]
            error = rotvec_from_quat(quat_mul(quat_conj(current / np.linalg.norm(current, axis=1, keepdims=True)),
                                              target))
            self.data.qfrc_applied[self._dofs] = (self.kp * error).ravel() + ff
            mujoco.mj_step(self.model, self.data)
        self.t += 1
        reward, distance = reward_terms(self.state(), self.reference(self.t))
        unstable = not np.isfinite(self.data.qpos).all()
        terminated = unstable or distance > TERMINATION_M
        truncated = not terminated and (self.t >= clip.frames - 1 or (
            self.max_episode_frames and self.t - self.start >= self.max_episode_frames))
        obs = self._obs() if not unstable else np.zeros(self.observation_space.shape, np.float32)
        info = {"distance": distance, "frame": self.t, "clip": clip.name}
        return obs, (reward if not unstable else 0.0), bool(terminated), bool(truncated), info
