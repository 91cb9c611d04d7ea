"""The arms of the Rajagopal body, moved with the legs of each motion on its frequencies (:func:`rajagopal_arms`),
and the dumbbells of the arm motions (``HAND_LOAD_KG``).

The legs' motions are built in :mod:`hdys.physics.motions` (``ARM_KINDS``: the legs of curls and arm raises),
which re-exports the names other modules and tests import from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hdys.physics.fourier import Fourier, fit_to_limits
from hdys.schema import RAJAGOPAL_COORDINATES

# The dumbbell in each hand, kg; other motions none. Fixed: a load drawn per sequence is invisible in every
# kinematics input and changes the shape of the biceps activation, not only its scale (benchmarks/RESULTS.md).
HAND_LOAD_KG = {"curl": 4.0, "arm_raise": 1.5}


@dataclass(frozen=True)
class RajagopalArms:
    """The arms of the Rajagopal body (:func:`rajagopal_arms`; a pair is drawn uniformly): a swing coupled to a
    leg coordinate is ``c (coordinate - its mean)``."""

    away: tuple[float, float] = (0.05, 0.15)  # every arm's abduction (minus arm_add), slightly away from the trunk
    rotation: tuple[float, float] = (-0.1, 0.2)  # arm_rot
    elbow: tuple[float, float] = (0.2, 0.5)  # elbow flexion
    # walks: each arm swings against its own side's hip, c in this range: about +-10-15 deg, cf. the 30-40 deg
    # shoulder range of normal walking (Collins S.H., Adamczyk P.G., Kuo A.D. 2009, "Dynamic arm swinging in
    # human walking", Proc R Soc B 276:3679-3688)
    swing: tuple[float, float] = (0.5, 0.9)
    run_swing: float = 1.5  # runs: the swing times this ...
    run_elbow: tuple[float, float] = (1.3, 1.6)  # ... the elbows bent this much
    elbow_swing: float = 0.4  # the elbow flexes further as the arm swings forward: this times the arm's c
    reach: tuple[float, float] = (0.0, 0.8)  # squats: the arms reach forward as the hips flex (c)
    back: tuple[float, float] = (0.5, 1.0)  # hops and jumps: the arms swing back as the hips flex (c) ...
    back_mean: float = 0.3  # ... about -c times this
    jack: tuple[float, float] = (8.0, 10.5)  # jacks: arm_add with the hip adduction (0 to about -0.24 rad): overhead
    jitter: float = 0.1  # rad: curls and raises, each arm's phase drawn in +- this
    curl_low: tuple[float, float] = (0.1, 0.3)  # a curl's elbow flexion at its lowest ...
    curl_top: tuple[float, float] = (1.7, 2.2)  # ... and at its top
    curl_flex: tuple[float, float] = (0.0, 0.15)  # the upper arm, still
    raise_top: tuple[float, float] = (1.3, 2.6)  # a raise's top (forward flexion or sideways abduction)
    raise_elbow: tuple[float, float] = (0.05, 0.2)  # straight arms


RAJAGOPAL_ARMS = RajagopalArms()


class _Arms:
    """The arm terms being built: ``mean`` (8,), ``amp``, ``phase`` (8, K) on the leg motion's frequencies, the
    draws ``u`` from ``rng`` and whether the arms alternate (curls, raises) and raise forward (else sideways)."""

    def __init__(self, rng: np.random.Generator, motion: Fourier):
        k, d = motion.amp.shape[1], 8
        self.motion, self.rng = motion, rng
        self.mean, self.amp, self.phase = np.zeros(d), np.zeros((d, k)), np.zeros((d, k))
        self.omega = np.tile(motion.omega[0], (d, 1))
        self.col = {n: i for i, n in enumerate(RAJAGOPAL_COORDINATES)}
        self.alternate = rng.uniform() < 0.5
        self.front = rng.uniform() < 0.5

    def u(self, lo: float, hi: float) -> float:
        """A uniform draw in ``[lo, hi)`` from the arms' ``rng``."""
        return float(self.rng.uniform(lo, hi))

    def couple(self, i: int, coord: str, c: float) -> None:
        """Arm coordinate ``i`` += c (``coord`` - its mean)."""
        self.amp[i] += c * self.motion.amp[self.col[coord]]
        self.phase[i] = self.motion.phase[self.col[coord]]


def _arms_swing(a: _Arms, kind: str, side: str, flex: int) -> None:
    """Walks and runs: the arm swings against its own side's hip, the elbow flexing further as it swings forward."""
    p, elbow = RAJAGOPAL_ARMS, flex + 3
    c = a.u(*p.swing) * (p.run_swing if kind == "run" else 1.0)
    a.couple(flex, f"hip_flexion_{side}", -c)
    if kind == "run":
        a.mean[elbow] = a.u(*p.run_elbow)
    a.couple(elbow, f"hip_flexion_{side}", -p.elbow_swing * c)


def _arms_reach(a: _Arms, kind: str, side: str, flex: int) -> None:
    """Squats: the arm reaches forward as the hip flexes."""
    c = a.u(*RAJAGOPAL_ARMS.reach)
    a.mean[flex] = c * a.motion.mean[a.col[f"hip_flexion_{side}"]]
    a.couple(flex, f"hip_flexion_{side}", c)


def _arms_back(a: _Arms, kind: str, side: str, flex: int) -> None:
    """Hops and jumps: the arm swings back as the hip flexes."""
    c = a.u(*RAJAGOPAL_ARMS.back)
    a.mean[flex] = -c * RAJAGOPAL_ARMS.back_mean
    a.couple(flex, f"hip_flexion_{side}", -c)


def _arms_jack(a: _Arms, kind: str, side: str, flex: int) -> None:
    """Jumping jacks: the arm rises sideways overhead with the legs' spread (hip adduction 0 to about -0.24)."""
    add, c = flex + 1, a.u(*RAJAGOPAL_ARMS.jack)
    a.mean[add] = a.mean[add] + c * a.motion.mean[a.col[f"hip_adduction_{side}"]]
    a.couple(add, f"hip_adduction_{side}", c)


def _arms_lift(a: _Arms, kind: str, side: str, flex: int) -> None:
    """Curls (elbow flexion, the upper arm still) and raises (forward or sideways, straight arms): once per
    cycle, lowered at its start (alternating arms: the left half a cycle later)."""
    p, elbow = RAJAGOPAL_ARMS, flex + 3
    p0 = -np.pi / 2 + (np.pi if a.alternate and side == "l" else 0.0)  # sin(p0) = -1: lowered
    p0 += a.u(-p.jitter, p.jitter)
    if kind == "curl":
        low, top = a.u(*p.curl_low), a.u(*p.curl_top)
        a.mean[elbow], a.amp[elbow, 0], a.phase[elbow, 0] = (low + top) / 2, (top - low) / 2, p0
        a.mean[flex] = a.u(*p.curl_flex)
    else:
        top = a.u(*p.raise_top)
        i = flex if a.front else flex + 1
        sign = 1.0 if a.front else -1.0
        a.mean[i] += sign * top / 2
        a.amp[i, 0], a.phase[i, 0] = sign * top / 2, p0
        a.mean[elbow] = a.u(*p.raise_elbow)


# each motion's arm movement (kicks, lunges and step-ups: none, the arms hang)
ARM_MOVES: dict[str, Callable[[_Arms, str, str, int], None]] = {
    "walk": _arms_swing, "turn": _arms_swing, "run": _arms_swing, "squat": _arms_reach, "sit_to_stand": _arms_reach,
    "jump": _arms_back, "cmj": _arms_back, "jumping_jack": _arms_jack, "curl": _arms_lift, "arm_raise": _arms_lift}


def rajagopal_arms(kind: str, rng: np.random.Generator, motion: Fourier, ranges: np.ndarray) -> Fourier:
    """The arms (``bodies.ARM_COORDINATES``: arm_flex, arm_add, arm_rot, elbow_flex per side, right first) for
    the Rajagopal ``motion`` of ``kind``, on its frequencies, so that they move with the legs (``ARM_MOVES``,
    ``RAJAGOPAL_ARMS``): every arm holds slightly away from the trunk, then moves as its motion does. Amplitudes
    are then fitted into ``ranges`` (8, 2)."""
    p, a = RAJAGOPAL_ARMS, _Arms(rng, motion)
    move = ARM_MOVES.get(kind)
    for s, side in enumerate(("r", "l")):
        flex, add, rot, elbow = 4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3
        a.mean[add], a.mean[rot], a.mean[elbow] = -a.u(*p.away), a.u(*p.rotation), a.u(*p.elbow)
        if move is not None:
            move(a, kind, side, flex)
    fit_to_limits(a.mean, a.amp, ranges[:, 0], ranges[:, 1], 0.03, a.omega, a.phase)
    return Fourier(a.mean, np.zeros(8), a.amp, a.omega, a.phase)
