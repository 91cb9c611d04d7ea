"""The world every hdys array lives in: z up, metres, seconds, newtons, standard gravity."""
from __future__ import annotations

import numpy as np

G = 9.81  # m/s^2, standard gravity

# OpenSim (and most optical mocap exported through it) is y up; the canonical world is z up.
# (x, y, z) -> (x, -z, y) is a +90 degree rotation about x (right-handed, det +1).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
