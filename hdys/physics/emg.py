"""Surface-EMG envelopes from muscle activations.

Model (per channel c, one recording):

1. channel drive ``u_c(t)`` = activation of the myolegs muscles under the electrode
   (:data:`CHANNEL_MUSCLES`), averaged with weights proportional to their maximum isometric forces (the
   surface signal grows with the active muscle cross-section): quadriceps = ``recfem``, ``vasint``,
   ``vaslat``, ``vasmed``; hamstrings = ``bflh``, ``bfsh``, ``semimem``, ``semiten``; gluteus = the three
   gluteus maximus parts ``glmax1``-``glmax3`` (the superficial muscle under a gluteal electrode; gluteus
   medius is largely covered by it); biceps = ``BIClong``, ``BICshort`` of myo-sim's ``myofullbody`` arms
   (:mod:`hdys.physics.myoarms`; only where the activations include the arm muscles, i.e. the ``emg``
   domain's Rajagopal body with arms: :data:`ARM_CHANNELS`, all 8 Muscles-in-Action channels; kinematics
   without arms give the 6 :data:`LEG_CHANNELS`).
2. electromechanical delay: EMG *leads* force, ``e(t) = u(t + delay)`` with delay ~ U(40, 60) ms per
   subject. :func:`advance` shifts a sampled signal by a fractional number of frames (linear
   interpolation, ends held); the fixture instead evaluates the activations exactly at ``t + delay``.
3. first-order low-pass (the rectify-and-smooth envelope), time constant ~ U(15, 35) ms, discretised
   exactly for a zero-order-held input.
4. per-channel subject gain (electrode placement, skin impedance) ~ logU(0.5, 2) and a small baseline.
5. multiplicative noise ``(1 + sd * n)`` with ``n`` standard normal, sd ~ 0.1, clipped at zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hdys.physics.myoarms import ARM_MUSCLE_NAMES, load_myoarms
from hdys.physics.myolegs import load_myolegs
from hdys.schema import MIA_EMG_CHANNELS

CHANNEL_MUSCLES = {
    "quad": ("recfem", "vasint", "vaslat", "vasmed"),
    "ham": ("bflh", "bfsh", "semimem", "semiten"),
    "glutt": ("glmax1", "glmax2", "glmax3"),
    "bicep": ("BIClong", "BICshort"),
}
LEG_CHANNELS = tuple(c for c in MIA_EMG_CHANNELS if "bicep" not in c)  # 6 channels, MiA order
ARM_CHANNELS = MIA_EMG_CHANNELS  # all 8, MiA order (needs the arm muscles)


@dataclass
class EmgParams:
    """Subject-level EMG parameters. gain, baseline: (C,)."""

    delay_s: float
    tau_s: float
    gain: np.ndarray
    baseline: np.ndarray
    noise_sd: float


def sample_emg_params(rng: np.random.Generator, n_channels: int = len(LEG_CHANNELS)) -> EmgParams:
    """Draw a subject's EMG parameters."""
    return EmgParams(delay_s=float(rng.uniform(0.04, 0.06)), tau_s=float(rng.uniform(0.015, 0.035)),
                     gain=np.exp(rng.uniform(np.log(0.5), np.log(2.0), n_channels)),
                     baseline=rng.uniform(0.005, 0.02, n_channels), noise_sd=float(rng.uniform(0.05, 0.15)))


def channel_weights(muscle_names: list[str], channels: tuple[str, ...] = LEG_CHANNELS) -> np.ndarray:
    """(C, N) weights of the muscles under each channel, proportional to the generic models' maximum
    isometric forces (myolegs, myofullbody) and summing to one per channel."""
    legs = load_myolegs()
    f_max = dict(zip(legs.muscle_names, legs.max_isometric_force))
    if any("bicep" in ch for ch in channels):  # the arm model is loaded only where its muscles are needed
        f_max.update(zip(ARM_MUSCLE_NAMES, load_myoarms().max_isometric_force))
    index = {n: i for i, n in enumerate(muscle_names)}
    weights = np.zeros((len(channels), len(muscle_names)))
    for c, ch in enumerate(channels):
        side = "r" if ch.startswith("right") else "l"
        group = ch.removeprefix("right").removeprefix("left")
        names = [f"{m}_{side}" for m in CHANNEL_MUSCLES[group]]
        missing = [n for n in names if n not in index]
        if missing:
            raise ValueError(f"EMG channel {ch!r} needs the muscles {missing}, which are not among the "
                             f"activation's muscle names ({len(muscle_names)} names)")
        for n in names:
            weights[c, index[n]] = f_max[n]
        weights[c] /= weights[c].sum()
    return weights


def channel_drive(activation: np.ndarray, muscle_names: list[str],
                  channels: tuple[str, ...] = LEG_CHANNELS) -> np.ndarray:
    """Force-weighted mean activation of the muscles under each channel: (T, N) -> (T, C)."""
    return activation @ channel_weights(muscle_names, channels).T


def advance(x: np.ndarray, fps: float, delay_s: float) -> np.ndarray:
    """``y(t) = x(t + delay)`` along axis 0 by linear interpolation (ends held). x: (T, ...)."""
    t = np.arange(x.shape[0]) / fps
    flat = x.reshape(x.shape[0], -1)
    out = np.stack([np.interp(t + delay_s, t, flat[:, i]) for i in range(flat.shape[1])], axis=1)
    return out.reshape(x.shape)


def lowpass(x: np.ndarray, fps: float, tau_s: float) -> np.ndarray:
    """First-order low-pass along axis 0, ``tau dy/dt = x - y``, y(0) = x(0). x: (T, C)."""
    alpha = 1.0 - np.exp(-1.0 / (fps * tau_s))
    y = np.empty_like(x, dtype=float)
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + alpha * (x[i] - y[i - 1])
    return y


def envelope(drive: np.ndarray, fps: float, params: EmgParams, rng: np.random.Generator) -> np.ndarray:
    """EMG envelope (T, C) from an (already delayed) channel drive (T, C): filter, gain, baseline, noise."""
    y = lowpass(drive, fps, params.tau_s) * params.gain + params.baseline
    noise = 1.0 + params.noise_sd * rng.standard_normal(y.shape)
    return np.clip(y * noise, 0.0, None)


def emg_from_activation(activation: np.ndarray, muscle_names: list[str], fps: float, params: EmgParams,
                        rng: np.random.Generator, already_delayed: bool = False) -> tuple[np.ndarray, list[str]]:
    """Full pipeline: (T, N) activations -> ((T, C) envelope, channel names).

    With ``already_delayed`` the activations were evaluated at ``t + params.delay_s`` by the caller.
    """
    channels = ARM_CHANNELS if "BIClong_r" in muscle_names else LEG_CHANNELS
    if len(params.gain) != len(channels):
        raise ValueError(f"EMG parameters are for {len(params.gain)} channels, the activations give {len(channels)} "
                         f"({list(channels)})")
    drive = channel_drive(activation, muscle_names, channels)
    if not already_delayed:
        drive = advance(drive, fps, params.delay_s)
    return envelope(drive, fps, params, rng), list(channels)


def estimate_lead(emg: np.ndarray, reference: np.ndarray, fps: float, max_lag_s: float = 0.3) -> float:
    """Seconds by which ``emg`` leads ``reference`` (1-D each): the lag maximising the Pearson
    correlation of the overlapping parts, refined by a parabola through the peak and its neighbours."""
    n = len(emg)
    max_lag = min(int(round(max_lag_s * fps)), n // 2)
    lags = np.arange(-max_lag, max_lag + 1)
    cc = np.empty(len(lags))
    for i, k in enumerate(lags):  # emg(t) vs reference(t + k)
        a = emg[max(0, -k):n - max(0, k)]
        b = reference[max(0, k):n - max(0, -k)]
        a, b = a - a.mean(), b - b.mean()
        cc[i] = np.dot(a, b) / (np.sqrt(np.dot(a, a) * np.dot(b, b)) + 1e-300)
    i = int(np.argmax(cc))
    frac = 0.0
    if 0 < i < len(cc) - 1:
        den = cc[i - 1] - 2 * cc[i] + cc[i + 1]
        frac = 0.5 * (cc[i - 1] - cc[i + 1]) / den if den != 0 else 0.0
    return float((lags[i] + frac) / fps)
