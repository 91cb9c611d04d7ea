"""The world of the floor-contact SMPL humanoid (:func:`hdys.physics.bodies.smpl_body` with ``floor``): a
z = 0 floor, platforms to place, and sole spheres on the feet, as MJCF fragments.

The body's geoms collide with the floor and the platforms only, never with each other. The sole spheres sit
on the sole points of :func:`hdys.physics.contact.smpl_feet` (heel 9 cm, toes 3 cm below their joints), so a
simulated body stands where the labelled one does.
"""
from __future__ import annotations

import numpy as np

# (body without its side prefix, point in the SMPL rest frame at reference stature: x left, y up, z forward)
# on the left foot; mirrored (x negated) on the right
SOLE_SPHERES = (("ankle", (-0.020, -0.090, -0.050)), ("ankle", (0.025, -0.090, -0.050)),
                ("foot", (-0.035, -0.030, 0.045)), ("foot", (0.040, -0.030, 0.010)))
SOLE_RADIUS_M = 0.012
MAX_PLATFORMS = 2  # mocap boxes ``platform<i>``, placed per motion (step-ups), parked 10 m below the floor


def _v(x) -> str:
    return " ".join(f"{float(c):.6g}" for c in x)


def options_xml(floor: bool) -> str:
    """``<option>`` and ``<default>``: contacts with the floor (and implicit joint damping), or none."""
    if floor:
        return ('<option gravity="0 0 -9.81" timestep="0.002" integrator="implicitfast"/>'
                '<default><geom contype="1" conaffinity="0" friction="1 0.005 0.0001" rgba="0.6 0.7 0.8 1"/>'
                '<joint armature="0" damping="0"/></default>')
    return ('<option gravity="0 0 -9.81" timestep="0.002"><flag contact="disable"/></option>'
            '<default><geom contype="0" conaffinity="0" rgba="0.6 0.7 0.8 1"/>'
            '<joint armature="0" damping="0"/></default>')


def ground_xml() -> str:
    """The floor plane and the parked platforms (world-body children)."""
    return ('<geom name="floor" type="plane" size="0 0 1" contype="0" conaffinity="1"/>'
            + "".join(f'<body name="platform{i}" mocap="true" pos="0 0 -10"><geom name="platform{i}" type="box" '
                      'size="0.1 0.1 0.1" contype="0" conaffinity="1"/></body>' for i in range(MAX_PLATFORMS)))


def sole_geoms_xml(name: str, scale: float) -> str:
    """The sole spheres of SMPL body ``name`` (``left_ankle``, ``right_foot``, ...; others have none), their
    lowest points on the sole."""
    base = name.removeprefix("left_").removeprefix("right_")
    if base == name:
        return ""
    sign = -1.0 if name.startswith("right_") else 1.0
    return "".join(f'<geom type="sphere" size="{SOLE_RADIUS_M:.4g}" '
                   f'pos="{_v(np.array([sign * p[0], p[1], p[2]]) * scale + [0.0, SOLE_RADIUS_M, 0.0])}"/>'
                   for b, p in SOLE_SPHERES if b == base)
