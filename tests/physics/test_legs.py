"""The leg IK's limits (:class:`hdys.physics.legs._Limits`): the knees' soft-limit penalty and the hinges' clip."""
from __future__ import annotations

import numpy as np

from hdys.physics.bodies import rajagopal_body
from hdys.physics.legs import LIMIT_MARGIN, _Limits
from hdys.physics.locomotion import rajagopal_rig


def test_the_soft_limit_penalises_only_a_knee_inside_its_zone_and_the_clip_keeps_the_margin():
    body = rajagopal_body(1.75, 70.0)
    rig = rajagopal_rig(body)
    zone, weight = 0.2, 50.0
    limits = _Limits(rig, (zone, weight))
    adr, lo, hi = rig.limits
    n = len(adr)
    knee, hip = np.flatnonzero(rig.soft)[0], np.flatnonzero(~rig.soft)[0]
    q = body.model.qpos0.copy()
    q[adr] = (lo + hi) / 2  # every hinge mid-range: no penalty at all
    normal, rhs = np.eye(n), np.zeros(n)
    limits.penalise(q, normal, rhs)
    assert np.array_equal(normal, np.eye(n)) and not rhs.any()

    q[adr[knee]] = lo[knee] + zone / 4  # a knee inside the zone of its lower bound: pushed up
    q[adr[hip]] = lo[hip] + zone / 4  # a hip as near its bound has no soft limit
    limits.penalise(q, normal, rhs)
    expected = np.eye(n)
    expected[knee, knee] += weight
    assert np.array_equal(normal, expected)
    assert np.allclose(rhs, np.eye(n)[knee] * weight * 0.75 * zone)

    q[adr[knee]] = hi[knee] - zone / 2  # inside the zone of its upper bound: pushed down
    normal, rhs = np.eye(n), np.zeros(n)
    limits.penalise(q, normal, rhs)
    assert np.allclose(rhs, -np.eye(n)[knee] * weight * 0.5 * zone)

    q[adr[hip]], q[adr[knee]] = hi[hip] + 0.3, lo[knee] - 0.3
    limits.clip(q)
    assert np.isclose(q[adr[hip]], hi[hip] - LIMIT_MARGIN) and np.isclose(q[adr[knee]], lo[knee] + LIMIT_MARGIN)
    assert np.all((q[adr] >= lo + LIMIT_MARGIN - 1e-12) & (q[adr] <= hi - LIMIT_MARGIN + 1e-12))
