"""An OpenSim model's skeleton read from its ``.osim`` file, and the same skeleton as a MuJoCo body.

What is read (OpenSim 3.x layout, where each ``Body`` nests its parent ``Joint``, as in the
``Rajagopal2015.osim`` that ships with nimblephysics; OpenSim 4 files with a ``JointSet`` are refused
with a clear error for now): every body's mass, mass centre and inertia about it; every joint's frames
in parent and child (``location_in_parent``/``orientation_in_parent``, ``location``/``orientation``,
orientations as body-fixed X-Y-Z Euler angles); the joint's transform axes, each a rotation or translation
along a fixed axis by a function of one coordinate (``LinearFunction``, ``Constant``, ``SimmSpline``,
``PolynomialFunction``, ``MultiplierFunction``); ``PinJoint`` (about the joint frame's z),
``UniversalJoint`` (x then y) and ``WeldJoint`` as the custom joints they are; the coordinates (default,
range, locked, motion type) and ``CoordinateCouplerConstraint`` couplings (Rajagopal's patella follows
its knee that way). Muscles, markers, wrap objects and geometry are not read.

As a MuJoCo body (:func:`mujoco_bodies`) a custom joint is slides along its translation axes, then
hinges about its rotation axes, in the order OpenSim applies them (translations in the parent's joint
frame, rotations body-fixed), all through the joint's origin in the child. Each kept coordinate whose
axis is the identity function of it (``q``, or ``-q`` as a reversed axis) is one MuJoCo joint whose
qpos *is* that coordinate. Every other axis that moves (the walker knee's spline-driven rotations and
translations, a patella, a coordinate held at a non-zero default) is a MuJoCo joint whose value is a
function of a kept coordinate, set by :class:`Couplings`; axes that never move are left out. A state of
the coordinates therefore maps to MuJoCo's as ``qpos_dep = f(q)``, ``qvel_dep = f'(q) q'``,
``qacc_dep = f''(q) q'^2 + f'(q) q''``, and a generalized force back to the coordinates as
``tau_q = tau_own + sum f'(q) tau_dep`` (virtual work), which is what OpenSim's inverse dynamics reports.

Scaling (:meth:`OsimModel.scaled`) is OpenSim's ScaleTool with one factor for every segment and the mass
distribution preserved: lengths (joint frames, mass centres, the values of translations that are functions
of an angle, as the walker knee's) times ``s`` (a translational coordinate such as ``pelvis_tx`` stays in m),
masses times ``mass / generic mass``, inertias times that ratio and ``s^2``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation


class OsimError(ValueError):
    """An ``.osim`` file that cannot be read, naming the file, the element and the value."""


# ---------------------------------------------------------------------------------------------------
# functions of one coordinate: value, first and second derivative


@dataclass(frozen=True)
class Linear:
    slope: float
    intercept: float = 0.0

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(x, float)
        return self.slope * x + self.intercept, np.full_like(x, self.slope), np.zeros_like(x)


@dataclass(frozen=True)
class Constant:
    value: float

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.asarray(x, float)
        return np.full_like(x, self.value), np.zeros_like(x), np.zeros_like(x)


@dataclass(frozen=True)
class Polynomial:
    coefficients: tuple[float, ...]  # highest power first, as OpenSim's PolynomialFunction

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = np.poly1d(self.coefficients)
        x = np.asarray(x, float)
        return p(x), p.deriv(1)(x), p.deriv(2)(x)


@dataclass(frozen=True)
class Scaled:
    """``scale * f(x)`` (OpenSim's MultiplierFunction)."""

    function: object
    scale: float

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(self.scale * v for v in self.function(x))


@dataclass(frozen=True)
class Composed:
    """``outer(inner(x))``: an axis driven by a coordinate that a coupler constraint ties to another."""

    outer: object
    inner: object

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g, g1, g2 = self.inner(x)
        f, f1, f2 = self.outer(g)
        return f, f1 * g1, f2 * g1 * g1 + f1 * g2


@dataclass(frozen=True)
class Spline:
    """A SIMM spline: the cubic spline through the knots whose third derivative at each end equals that
    of the cubic through the four end knots (Forsythe, Malcolm & Moler 1977, *Computer Methods for
    Mathematical Computations*, routine SPLINE, which OpenSim's SimmSpline implements); two knots are a
    line, three a parabola. Outside the knots it continues as the straight line of its end slope."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __post_init__(self):
        x = np.asarray(self.x, float)
        if x.ndim != 1 or len(x) < 2 or len(x) != len(self.y) or not (np.diff(x) > 0).all():
            raise ValueError(f"spline knots must be >= 2 increasing x with as many y, got x={self.x}, y={self.y}")
        object.__setattr__(self, "_xs", x)
        object.__setattr__(self, "_ys", np.asarray(self.y, float))
        object.__setattr__(self, "_m", self._second_derivatives())

    def _second_derivatives(self) -> np.ndarray:
        x, y = np.asarray(self.x, float), np.asarray(self.y, float)
        n = len(x)
        if n == 2:
            return np.zeros(2)
        d = np.diff(x)
        slope = np.diff(y) / d
        if n == 3:
            return np.full(3, 2.0 * (slope[1] - slope[0]) / (x[2] - x[0]))
        a = np.zeros((n, n))
        rhs = np.zeros(n)
        for i in range(1, n - 1):  # continuity of the first derivative at the interior knots
            a[i, i - 1], a[i, i], a[i, i + 1] = d[i - 1], 2.0 * (d[i - 1] + d[i]), d[i]
            rhs[i] = 6.0 * (slope[i] - slope[i - 1])

        def third_divided(xs, ys):  # f[x0, x1, x2, x3]
            f1 = np.diff(ys) / np.diff(xs)
            f2 = np.diff(f1) / (xs[2:] - xs[:-2])
            return (f2[1] - f2[0]) / (xs[3] - xs[0])

        a[0, 0], a[0, 1], rhs[0] = -1.0, 1.0, 6.0 * d[0] * third_divided(x[:4], y[:4])
        a[-1, -2], a[-1, -1], rhs[-1] = -1.0, 1.0, 6.0 * d[-1] * third_divided(x[-4:], y[-4:])
        return np.linalg.solve(a, rhs)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs, ys, m = self._xs, self._ys, self._m
        x = np.asarray(x, float)
        i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
        h = xs[i + 1] - xs[i]
        t0, t1 = x - xs[i], xs[i + 1] - x
        inside = (x >= xs[0]) & (x <= xs[-1])
        v = (m[i] * t1 ** 3 + m[i + 1] * t0 ** 3) / (6 * h) + (ys[i] / h - m[i] * h / 6) * t1 \
            + (ys[i + 1] / h - m[i + 1] * h / 6) * t0
        d1 = (-m[i] * t1 ** 2 + m[i + 1] * t0 ** 2) / (2 * h) + (ys[i + 1] - ys[i]) / h - (m[i + 1] - m[i]) * h / 6
        d2 = (m[i] * t1 + m[i + 1] * t0) / h
        # straight continuation outside the knots, with the end slope
        end = np.where(x < xs[0], 0, len(xs) - 1)
        h0, h1 = xs[1] - xs[0], xs[-1] - xs[-2]
        s0 = (ys[1] - ys[0]) / h0 - (2 * m[0] + m[1]) * h0 / 6
        s1 = (ys[-1] - ys[-2]) / h1 + (m[-2] + 2 * m[-1]) * h1 / 6
        slope = np.where(end == 0, s0, s1)
        line = ys[end] + slope * (x - xs[end])
        return np.where(inside, v, line), np.where(inside, d1, slope), np.where(inside, d2, 0.0)


# ---------------------------------------------------------------------------------------------------
# the skeleton


@dataclass(frozen=True)
class Axis:
    """One transform axis of a joint: ``kind`` "rotation" or "translation" along ``axis`` (joint frame)
    by ``function(coordinate)``; ``coordinate`` None for a constant."""

    kind: str
    axis: np.ndarray
    coordinate: str | None
    function: object
    name: str = ""  # OpenSim's (rotation1, translation2, ...)


@dataclass(frozen=True)
class Joint:
    name: str
    parent: str
    child: str
    parent_pos: np.ndarray  # (3,) joint frame origin in the parent body
    parent_rot: np.ndarray  # (3, 3) joint frame axes in the parent body (columns)
    child_pos: np.ndarray  # (3,) joint frame origin in the child body
    child_rot: np.ndarray  # (3, 3)
    axes: tuple[Axis, ...]  # translations first, then rotations, each in OpenSim's order


@dataclass(frozen=True)
class Coordinate:
    name: str
    motion_type: str  # rotational, translational, coupled
    default: float
    range: tuple[float, float]
    locked: bool


@dataclass(frozen=True)
class Body:
    name: str
    mass: float
    com: np.ndarray  # (3,)
    inertia: np.ndarray  # (3, 3) about the mass centre, body frame


@dataclass(frozen=True)
class OsimModel:
    """A skeleton: bodies, joints in tree order (parents first), coordinates, couplers."""

    path: str
    bodies: dict[str, Body]
    joints: tuple[Joint, ...]
    coordinates: dict[str, Coordinate]
    couplers: dict[str, tuple[str, object]]  # dependent coordinate -> (independent coordinate, function)
    gravity: np.ndarray = field(default_factory=lambda: np.array([0.0, -9.80665, 0.0]))

    @property
    def mass(self) -> float:
        return float(sum(b.mass for b in self.bodies.values()))

    def scaled(self, length: float, mass_kg: float | None = None) -> OsimModel:
        """The model scaled by ``length`` for every segment, its mass distribution kept and its total mass
        ``mass_kg`` (None: unchanged)."""
        if not (length > 0 and np.isfinite(length)):
            raise ValueError(f"length scale must be > 0, got {length}")
        r = 1.0 if mass_kg is None else mass_kg / self.mass
        bodies = {n: replace(b, mass=b.mass * r, com=b.com * length, inertia=b.inertia * r * length ** 2)
                  for n, b in self.bodies.items()}
        def moves_length(a: Axis) -> bool:  # a translation that is a length of the body, not a coordinate in m
            return a.kind == "translation" and (
                a.coordinate is None or self.coordinates[a.coordinate].motion_type != "translational")

        joints = tuple(replace(j, parent_pos=j.parent_pos * length, child_pos=j.child_pos * length,
                               axes=tuple(replace(a, function=Scaled(a.function, length)) if moves_length(a) else a
                                          for a in j.axes))
                       for j in self.joints)
        return replace(self, bodies=bodies, joints=joints)


def _vec(el: ET.Element, tag: str, path: str, n: int = 3) -> np.ndarray:
    text = el.findtext(tag)
    try:
        v = np.array([float(t) for t in (text or "").split()])
    except ValueError:
        v = np.array([])
    if v.shape != (n,) or not np.isfinite(v).all():
        raise OsimError(f"{path}: {el.tag} {el.get('name')!r}: <{tag}> must hold {n} finite numbers, got {text!r}")
    return v


def _float(el: ET.Element, tag: str, path: str, default: float | None = None) -> float:
    text = el.findtext(tag)
    if text is None and default is not None:
        return default
    try:
        return float(text)
    except (TypeError, ValueError):
        raise OsimError(f"{path}: {el.tag} {el.get('name')!r}: <{tag}> must be a number, got {text!r}") from None


def _function(el: ET.Element | None, where: str, path: str):
    if el is None or not len(el):
        raise OsimError(f"{path}: {where}: no function")
    f = el[0] if el.tag == "function" or el.tag == "coupled_coordinates_function" else el
    tag = f.tag
    if tag == "LinearFunction":
        c = _vec(f, "coefficients", path, 2)
        return Linear(float(c[0]), float(c[1]))
    if tag == "Constant":
        return Constant(_float(f, "value", path))
    if tag in ("SimmSpline", "NaturalCubicSpline"):
        x, y = (np.array([float(t) for t in (f.findtext(k) or "").split()]) for k in ("x", "y"))
        try:
            return Spline(tuple(x), tuple(y))
        except ValueError as e:
            raise OsimError(f"{path}: {where}: {e}") from None
    if tag == "PolynomialFunction":
        return Polynomial(tuple(float(t) for t in (f.findtext("coefficients") or "").split()))
    if tag == "MultiplierFunction":
        return Scaled(_function(f.find("function"), where, path), _float(f, "scale", path, 1.0))
    raise OsimError(f"{path}: {where}: function type {tag!r} is not supported (Linear, Constant, SimmSpline, "
                    "Polynomial, Multiplier are)")


def _euler_xyz(v: np.ndarray) -> np.ndarray:
    """OpenSim orientation: body-fixed X-Y-Z Euler angles -> rotation matrix."""
    return Rotation.from_euler("XYZ", v).as_matrix()


def _joint_axes(j: ET.Element, path: str) -> tuple[Axis, ...]:
    coords = [c.get("name") for c in j.iter("Coordinate")]
    if j.tag == "CustomJoint":
        axes = {}
        for ta in j.iter("TransformAxis"):
            name = ta.get("name")
            kind = "rotation" if name.startswith("rotation") else "translation"
            cname = (ta.findtext("coordinates") or "").strip() or None
            if cname is not None and " " in cname:
                raise OsimError(f"{path}: joint {j.get('name')!r} {name}: one coordinate per axis is supported, "
                                f"got {cname!r}")
            fn = _function(ta.find("function"), f"joint {j.get('name')!r} {name}", path)
            axes[name] = Axis(kind, _vec(ta, "axis", path), cname, fn, name)
        order = [f"translation{i}" for i in (1, 2, 3)] + [f"rotation{i}" for i in (1, 2, 3)]
        return tuple(axes[n] for n in order if n in axes)
    one = Linear(1.0)
    if j.tag == "PinJoint":
        return (Axis("rotation", np.array([0.0, 0.0, 1.0]), coords[0], one, "rotation1"),)
    if j.tag == "UniversalJoint":
        return (Axis("rotation", np.array([1.0, 0.0, 0.0]), coords[0], one, "rotation1"),
                Axis("rotation", np.array([0.0, 1.0, 0.0]), coords[1], one, "rotation2"))
    if j.tag == "WeldJoint":
        return ()
    raise OsimError(f"{path}: joint {j.get('name')!r}: type {j.tag} is not supported (CustomJoint, PinJoint, "
                    "UniversalJoint, WeldJoint are)")


def read_osim(path: str | Path) -> OsimModel:
    """Read the skeleton of an OpenSim 3.x ``.osim`` file (see the module docstring)."""
    path = str(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise OsimError(f"{path}: not a readable OpenSim model ({e})") from None
    model = root.find("Model")
    if model is None:
        raise OsimError(f"{path}: no <Model> element")
    if model.find("JointSet") is not None:
        raise OsimError(f"{path}: an OpenSim 4 model (with a <JointSet>); only the OpenSim 3 layout, with each "
                        "body's joint nested in the body, is read so far")
    bodies, joints, coordinates = {}, {}, {}
    for b in model.iter("Body"):
        name = b.get("name")
        i = np.array([[_float(b, f"inertia_{a}{c}", path, 0.0) for c in "xyz"] for a in "xyz"])
        i = np.triu(i) + np.triu(i, 1).T  # xy, xz, yz given once
        bodies[name] = Body(name, _float(b, "mass", path), _vec(b, "mass_center", path), i)
        jset = b.find("Joint")
        if jset is None or not len(jset):
            continue
        j = jset[0]
        for c in j.iter("Coordinate"):
            lo_hi = _vec(c, "range", path, 2)
            coordinates[c.get("name")] = Coordinate(
                c.get("name"), (c.findtext("motion_type") or "rotational").strip().lower(),
                _float(c, "default_value", path, 0.0), (float(lo_hi[0]), float(lo_hi[1])),
                (c.findtext("locked") or "false").strip().lower() == "true")
        joints[name] = Joint(j.get("name"), (j.findtext("parent_body") or "").strip(), name,
                             _vec(j, "location_in_parent", path), _euler_xyz(_vec(j, "orientation_in_parent", path)),
                             _vec(j, "location", path), _euler_xyz(_vec(j, "orientation", path)), _joint_axes(j, path))
    couplers = {}
    for c in model.iter("CoordinateCouplerConstraint"):
        if (c.findtext("isDisabled") or "false").strip().lower() == "true":
            continue
        dep = (c.findtext("dependent_coordinate_name") or "").strip()
        ind = (c.findtext("independent_coordinate_names") or "").strip()
        if " " in ind:
            raise OsimError(f"{path}: coupler {c.get('name')!r}: one independent coordinate is supported, got {ind!r}")
        fn = _function(c.find("coupled_coordinates_function"), f"coupler {c.get('name')!r}", path)
        couplers[dep] = (ind, Scaled(fn, _float(c, "scale_factor", path, 1.0)))
    ordered, placed = [], {"ground"}
    while len(ordered) < len(joints):  # parents first
        ready = [j for n, j in joints.items() if n not in {o.child for o in ordered} and j.parent in placed]
        if not ready:
            missing = sorted(set(joints) - {o.child for o in ordered})
            raise OsimError(f"{path}: bodies {missing} do not connect to ground")
        for j in ready:
            ordered.append(j)
            placed.add(j.child)
    g = model.findtext("gravity")
    gravity = np.array([float(t) for t in g.split()]) if g else np.array([0.0, -9.80665, 0.0])
    return OsimModel(path, bodies, tuple(ordered), coordinates, couplers, gravity)


# ---------------------------------------------------------------------------------------------------
# as a MuJoCo body


class CouplingTable:
    """Functions of one coordinate tabulated for fast evaluation: value, slope and curvature of each of D
    functions on a grid of ``step`` over ``[lo, hi]`` (D,), linear in between and beyond (where a SIMM
    spline is a line anyway). With 1e-3 the value is within ``step^2 |f''| / 8`` (1e-8 for the walker
    knee) of the function."""

    def __init__(self, functions: tuple, lo: np.ndarray, hi: np.ndarray, step: float = 1e-3):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        n = int(np.ceil(np.max(hi - lo, initial=0.0) / step)) + 2
        self.x0, self.step = lo, step
        grid = lo[:, None] + step * np.arange(n)  # (D, n)
        tabs = [f(g) for f, g in zip(functions, grid)]
        self.value, self.slope, self.curvature = (np.stack([t[k] for t in tabs]) if tabs else np.zeros((0, n))
                                                  for k in range(3))
        self.rows = np.arange(len(functions))

    def subset(self, rows: np.ndarray) -> CouplingTable:
        """The table of the functions ``rows`` only (shares nothing it would have to recompute)."""
        out = object.__new__(CouplingTable)
        out.x0, out.step = self.x0[rows], self.step
        out.value, out.slope, out.curvature = self.value[rows], self.slope[rows], self.curvature[rows]
        out.rows = np.arange(len(out.x0))
        return out

    def __call__(self, x: np.ndarray, curvature: bool = True):
        """Values, slopes and (unless ``curvature`` is False) curvatures (..., D) at ``x`` (..., D), each
        function at its own argument."""
        u = (np.asarray(x, float) - self.x0) / self.step
        n = self.value.shape[1]
        i = np.minimum(np.maximum(np.floor(u).astype(int), 0), n - 2)
        w = u - i
        inside = np.minimum(np.maximum(w, 0.0), 1.0)
        k = i + n * self.rows  # flat index of each argument's grid point: one gather instead of a 2-D index

        def lerp(tab, t):
            flat = tab.reshape(-1)
            lo = flat[k]
            return lo + t * (flat[k + 1] - lo)

        out = lerp(self.value, w), lerp(self.slope, inside)
        return (*out, lerp(self.curvature, inside)) if curvature else out


@dataclass(frozen=True)
class Couplings:
    """MuJoCo joints whose values are functions of kept coordinates; D of them.

    ``name`` the MuJoCo joint names, ``driver`` the index of the driving coordinate among the kept ones
    (-1: a constant), ``function`` the value as a function of the driver."""

    name: tuple[str, ...]
    driver: np.ndarray  # (D,)
    function: tuple[object, ...]
    table: CouplingTable  # the functions tabulated over their drivers' ranges (constants at 0)

    def values(self, q: np.ndarray, qd: np.ndarray | None = None, qdd: np.ndarray | None = None):
        """Positions (T, D) of the coupled joints for coordinates q (T, C), with velocities and
        accelerations when ``qd`` (and ``qdd``) are given; and their derivatives f' (T, D)."""
        moving = self.driver >= 0
        x = np.where(moving, q[:, np.maximum(self.driver, 0)], 0.0)  # (T, D)
        pos, slope, curve = self.table(x)
        slope = slope * moving
        vel, acc = np.zeros_like(pos), np.zeros_like(pos)
        if qd is not None:
            xd = qd[:, np.maximum(self.driver, 0)] * moving
            vel = slope * xd
            if qdd is not None:
                acc = curve * xd ** 2 + slope * qdd[:, np.maximum(self.driver, 0)]
        return pos, vel, acc, slope


def _v(x) -> str:
    return " ".join(f"{float(v):.9g}" for v in np.asarray(x).ravel())


def _quat(r: np.ndarray) -> str:
    xyzw = Rotation.from_matrix(r).as_quat()
    return _v([xyzw[3], *xyzw[:3]])


def _driver(model: OsimModel, coord: str | None, kept: list[str], fn):
    """(index of the kept coordinate that drives an axis, the axis' function of it), or (-1, constant)."""
    if coord is None:
        return -1, fn
    if coord in kept:
        return kept.index(coord), fn
    if coord in model.couplers:
        ind, g = model.couplers[coord]
        if ind in kept:
            return kept.index(ind), Composed(fn, g)
        coord, fn = ind, Composed(fn, g)
    if coord not in model.coordinates:
        raise OsimError(f"{model.path}: an axis is driven by {coord!r}, which no joint defines")
    return -1, Constant(float(fn(np.array([model.coordinates[coord].default]))[0][0]))


def mujoco_bodies(model: OsimModel, kept: list[str], extra: dict[str, str] | None = None,
                  ranges: dict[str, tuple[float, float]] | None = None) -> tuple[str, Couplings]:
    """The skeleton as nested MuJoCo ``<body>`` elements (for a ``<worldbody>``) and its couplings.

    ``kept``: the coordinates that become MuJoCo joints of their own (their names); all others are held at
    their default values. ``extra``: XML put inside a body (sites, geoms). ``ranges``: joint ranges of kept
    coordinates (the model's own otherwise); every coupled joint is unlimited."""
    extra, ranges = extra or {}, ranges or {}
    names, drivers, functions = [], [], []
    children: dict[str, list[Joint]] = {}
    for j in model.joints:
        children.setdefault(j.parent, []).append(j)

    def body_xml(j: Joint) -> str:
        b = model.bodies[j.child]
        r_bm = j.child_rot  # joint (M) frame in the child
        pos = j.parent_pos - j.parent_rot @ j.child_rot.T @ j.child_pos  # child origin when the joint is at zero
        rot = j.parent_rot @ j.child_rot.T
        out = [f'<body name="{b.name}" pos="{_v(pos)}" quat="{_quat(rot)}">']
        i = b.inertia
        mass = max(b.mass, 1e-6)
        out.append(f'<inertial pos="{_v(b.com)}" mass="{mass:.9g}" '
                   f'fullinertia="{_v([i[0, 0], i[1, 1], i[2, 2], i[0, 1], i[0, 2], i[1, 2]])}"/>')
        seen = set()
        for a in j.axes:
            d, fn = _driver(model, a.coordinate, kept, a.function)
            if d < 0 and np.allclose(fn(np.zeros(1))[0], 0.0):
                continue  # never moves
            axis = r_bm @ (a.axis / np.linalg.norm(a.axis))
            own = (d >= 0 and isinstance(fn, Linear) and abs(abs(fn.slope) - 1) < 1e-12 and fn.intercept == 0.0
                   and kept[d] not in seen)
            jtype = "hinge" if a.kind == "rotation" else "slide"
            if own:
                seen.add(kept[d])
                lo, hi = ranges.get(kept[d], model.coordinates[kept[d]].range)
                jname, lim = kept[d], f' range="{lo:.9g} {hi:.9g}"' if jtype == "hinge" else ""
                axis = axis * fn.slope
            else:
                jname, lim = f"{j.name}_{a.name}", ""
                names.append(jname)
                drivers.append(d)
                functions.append(fn)
            out.append(f'<joint name="{jname}" type="{jtype}" pos="{_v(j.child_pos)}" axis="{_v(axis)}"{lim}/>')
        out.append(extra.get(b.name, ""))
        out.extend(body_xml(c) for c in children.get(b.name, []))
        out.append("</body>")
        return "".join(out)

    xml = "".join(body_xml(j) for j in children.get("ground", []))
    drivers = np.array(drivers, dtype=int)
    span = np.array([ranges.get(kept[d], model.coordinates[kept[d]].range) if d >= 0 else (0.0, 0.0)
                     for d in drivers]).reshape(-1, 2)
    table = CouplingTable(tuple(functions), span[:, 0] - 0.5, span[:, 1] + 0.5)
    return xml, Couplings(tuple(names), drivers, tuple(functions), table)
