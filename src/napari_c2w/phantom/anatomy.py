"""Random thoracic anatomy around the left atrium, drawn from a seed.

The anatomy is drawn in a canonical frame (millimetres, LA centre at the origin, axes
z = superior, y = posterior, x = patient left, i.e. DICOM LPS in (z, y, x) order) and then
scaled about the LA centre (if the field of view is too small) and moved into the grid's
world coordinates. Everything downstream uses the world-frame :class:`Anatomy`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .fields import Field, Grid, rotation, unit

#: Pulmonary vein ostium directions from the LA centre (z, y, x), before jitter.
VEIN_DIRS = {
    "LSPV": (0.45, 0.45, 0.77),
    "LIPV": (-0.35, 0.5, 0.79),
    "RSPV": (0.45, 0.38, -0.8),
    "RIPV": (-0.35, 0.45, -0.82),
}
FIT_MARGIN = 4.0  # mm kept free between the LA complex (with wall) and the image border


@dataclasses.dataclass
class Tube:
    """A tube along a polyline; the radius varies linearly between the points."""

    points: np.ndarray  # (n, 3) mm
    radii: np.ndarray  # (n,) mm

    def moved(self, centre: np.ndarray, scale: float) -> Tube:
        return Tube(centre + scale * self.points, scale * self.radii)

    def lo_hi(self) -> tuple[np.ndarray, np.ndarray]:
        return ((self.points - self.radii[:, None]).min(0), (self.points + self.radii[:, None]).max(0))

    def at_arc(self, arc: float) -> np.ndarray:
        """The centreline point ``arc`` mm from the first point (clamped to the ends)."""
        for p, q in zip(self.points[:-1], self.points[1:], strict=False):
            length = float(np.linalg.norm(q - p))
            if arc <= length:
                return p + (q - p) * max(arc, 0.0) / max(length, 1e-9)
            arc -= length
        return self.points[-1].copy()


@dataclasses.dataclass
class Ellipsoid:
    centre: np.ndarray
    radii: np.ndarray
    rot: np.ndarray  # rows: the ellipsoid's axes in world (z, y, x)

    def moved(self, centre: np.ndarray, scale: float) -> Ellipsoid:
        return Ellipsoid(centre + scale * self.centre, scale * self.radii, self.rot)

    def lo_hi(self, pad: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        half = np.sqrt(((self.rot * (self.radii + pad)[:, None]) ** 2).sum(0))
        return self.centre - half, self.centre + half


@dataclasses.dataclass
class Anatomy:
    """World-frame anatomy (mm, zyx). Radii and positions already include ``scale``."""

    centre: np.ndarray
    scale: float
    body: Ellipsoid  # LA body
    bump_k: np.ndarray  # (n, 3) LA body shape perturbation: rho(u) = 1 + amp*sum cos(k.u+ph)
    bump_phase: np.ndarray
    bump_amp: float
    veins: dict[str, Tube]
    ostia: dict[str, np.ndarray]
    vein_cut: dict[str, float]  # arc length (mm from the tube start) where the vein wall stops
    vein_blend: float
    laa: Tube
    mitral_centre: np.ndarray
    mitral_normal: np.ndarray  # unit, pointing from the LA into the LV
    orifice: Tube
    lv: Ellipsoid
    lv_myo: float
    rv: Ellipsoid
    rv_myo: float
    ra: Ellipsoid
    vessels: dict[str, list[Tube]]  # background blood vessels (great vessels, lung branches)
    esophagus: Tube
    liver: Ellipsoid
    thorax: dict  # 2D body section parameters (y, x), see render.py
    thickness: Field  # wall thickness t = 1 + 2 / (1 + exp(-(a f + b)))
    thickness_ab: tuple[float, float]
    fat: Field  # mediastinal fat fraction, coarse and fine patterns
    fat_fine: Field
    la_lo: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))
    la_hi: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(3))

    def wall_thickness(self, points: np.ndarray) -> np.ndarray:
        a, b = self.thickness_ab
        f = self.thickness.at(points)
        return (1.0 + 2.0 / (1.0 + np.exp(-(a * f + b)))).astype(np.float32)

    def body_radius(self, direction: np.ndarray) -> float:
        """Distance from the LA centre to the body surface along a world direction."""
        u = self.body.rot @ unit(direction)
        rho = 1.0 + self.bump_amp * np.cos(self.bump_k @ u + self.bump_phase).sum()
        return float(rho / np.linalg.norm(u / self.body.radii))


def _moved_field(field: Field, centre: np.ndarray, scale: float) -> Field:
    k = field.k / scale
    return Field(k=k, phase=field.phase - k @ centre)


def _polyline(start, steps) -> np.ndarray:
    pts = [np.asarray(start, float)]
    for length, direction in steps:
        pts.append(pts[-1] + length * unit(direction))
    return np.array(pts)


def _jitter(rng, v, deg: float) -> np.ndarray:
    return rotation(rng, deg) @ unit(v)


def _branches(rng, start, direction, radius: float, depth: int = 2) -> list[Tube]:
    """A small random vessel tree in the lung: two children per level, thinner each time."""
    if depth == 0 or radius < 1.2:
        return []
    out = []
    side = unit(np.cross(unit(direction), rng.normal(size=3)))
    for sgn in (-1, 1):
        b = _jitter(rng, unit(direction) + sgn * 0.7 * side, 15)
        end = start + rng.uniform(14, 24) * b
        out.append(Tube(np.array([start, end]), np.array([radius, 0.75 * radius])))
        out += _branches(rng, end, b, 0.7 * radius, depth - 1)
    return out


def sample_anatomy(seed: int, grid: Grid) -> Anatomy:
    """Draw an anatomy for ``seed`` and fit it into ``grid``'s field of view."""
    rng = np.random.default_rng([int(seed), 1])
    a = Anatomy.__new__(Anatomy)  # filled in field by field below (body_radius is needed midway)
    a.centre, a.scale = np.zeros(3), 1.0
    radii = np.array([rng.uniform(17, 23), rng.uniform(15, 20), rng.uniform(20, 27)])
    a.body = Ellipsoid(np.zeros(3), radii, rotation(rng, 12))
    n = 6
    k = rng.normal(size=(n, 3))
    a.bump_k = k / np.linalg.norm(k, axis=1, keepdims=True) * rng.uniform(1.5, 3.0, (n, 1))
    a.bump_phase = rng.uniform(0, 2 * np.pi, n)
    a.bump_amp = rng.uniform(0.012, 0.03)  # per wave: +-(5..13)% overall
    az, ay, ax = radii

    branches = _sample_veins(a, rng)
    r_o = _sample_appendage_and_valve(a, rng)
    _sample_chambers(a, rng, r_o, ax)
    _sample_vessels(a, rng, (az, ay, ax), branches)
    _sample_body(a, rng, (az, ay, ax))
    return _fit(a, grid, rng)


def _sample_veins(a: Anatomy, rng: np.random.Generator) -> list[Tube]:
    """The four pulmonary veins; returns their branches in the lungs."""
    a.veins, a.ostia, a.vein_cut = {}, {}, {}
    a.vein_blend = rng.uniform(3.0, 5.0)
    branches = []
    for name, d0 in VEIN_DIRS.items():
        d = _jitter(rng, d0, 9)
        r_ost = a.body_radius(d)
        r0 = rng.uniform(5.0, 8.0)
        side = np.sign(d0[2])
        up = 0.18 if name[1] == "S" else -0.18
        t1 = _jitter(rng, (up, rng.uniform(0.2, 0.5), side), 10)
        t2 = _jitter(rng, t1, 15)
        start = 0.45 * r_ost * d
        pts = _polyline(
            start,
            [
                (0.55 * r_ost, d),
                (rng.uniform(6, 9), d + t1),
                (rng.uniform(8, 11), t1),
                (rng.uniform(6, 9), t2),
            ],
        )
        a.veins[name] = Tube(pts, r0 * np.array([1.3, 1.1, 1.0, 0.85, 0.7]))
        a.ostia[name] = pts[1].copy()
        a.vein_cut[name] = 0.55 * r_ost + rng.uniform(10, 15)
        branches += _branches(rng, pts[-1], t2, 0.6 * r0)  # the vein goes on in the lung
    return branches


def _sample_appendage_and_valve(a: Anatomy, rng: np.random.Generator) -> float:
    """The appendage and the mitral orifice; returns the orifice radius."""
    dA = _jitter(rng, (0.3, -0.5, 0.8), 10)
    rA = a.body_radius(dA)
    neck = rng.uniform(4.0, 5.5)
    steps = [
        (0.5 * rA + 3, dA),
        (rng.uniform(8, 11), 0.2 * dA + _jitter(rng, (-0.35, -0.85, 0.3), 12)),
        (rng.uniform(8, 12), _jitter(rng, (-0.6, -0.7, 0.05), 15)),
    ]
    a.laa = Tube(
        _polyline(0.5 * rA * dA, steps), np.array([7.0, neck, rng.uniform(7.5, 9.5), rng.uniform(4.0, 6.0)])
    )

    dM = _jitter(rng, (-0.6, -0.6, 0.35), 8)
    a.mitral_normal = dM
    a.mitral_centre = 0.95 * a.body_radius(dM) * dM
    r_o = rng.uniform(12.5, 15.0)
    a.orifice = Tube(
        np.array([0.35 * a.body_radius(dM) * dM, a.mitral_centre + 8 * dM]), np.array([r_o, r_o])
    )
    return r_o


def _sample_chambers(a: Anatomy, rng: np.random.Generator, r_o: float, ax: float) -> None:
    """The ventricles (with their myocardium) and the right atrium."""
    u = _jitter(rng, a.mitral_normal + np.array([-0.15, -0.1, 0.35]), 8)
    lv_a, lv_b = rng.uniform(38, 46), rng.uniform(21, 26)
    d0 = lv_a * np.sqrt(max(0.2, 1 - ((r_o + 1.5) / lv_b) ** 2))
    w = unit(np.array([0.15, -0.55, -0.8]) - np.dot((0.15, -0.55, -0.8), u) * u)
    frame = np.array([u, w, np.cross(u, w)])
    a.lv = Ellipsoid(a.mitral_centre + d0 * u, np.array([lv_a, lv_b, lv_b * rng.uniform(0.95, 1.1)]), frame)
    a.lv_myo = rng.uniform(8.0, 10.0)
    a.rv_myo = rng.uniform(3.0, 4.0)
    a.rv = Ellipsoid(
        a.lv.centre + (1.3 * lv_b + a.lv_myo) * w - 0.1 * lv_a * u,
        np.array([0.85 * lv_a, 0.8 * lv_b, 1.35 * lv_b]),
        frame,
    )
    ra_centre = [-8 + rng.uniform(-4, 4), -22 - rng.uniform(0, 4), -(ax + rng.uniform(18, 24))]
    a.ra = Ellipsoid(
        np.array(ra_centre), np.array([24.0, 19.0, 20.0]) * rng.uniform(0.9, 1.1, 3), rotation(rng, 10)
    )


def _sample_vessels(a: Anatomy, rng: np.random.Generator, radii, branches: list[Tube]) -> None:
    """Aorta, pulmonary arteries, venae cavae and the lung branches."""
    az, ay, ax = radii
    r_ao, r_da, r_pa = rng.uniform(13, 16), rng.uniform(10, 13), rng.uniform(12, 14)
    y_ao = -(ay + 20 + rng.uniform(0, 4))
    arch = np.array(
        [
            [-6, y_ao, -6],
            [az + 28, y_ao + 2, -12],
            [az + 48, y_ao + 12, -6],
            [az + 55, 5, 6],
            [az + 45, 30, 16],
            [az + 25, 40, 18],
            [-400, 40, 18],
        ],
        float,
    )
    bif = np.array([az + 8, -(ay + 10), 12.0])
    rpa = np.array([bif, [az + 13, -8, -15], [az + 11, -2, -50], [az + 6, 2, -80]])
    lpa = np.array([bif, [az + 18, 0, 35], [az + 12, 18, 55], [az + 6, 25, 80]])
    svc_x, ra_top = -(ax + 13), a.ra.centre[0] + 10
    a.vessels = {
        "aorta": [
            Tube(arch[:6], np.array([r_ao, r_ao, r_ao * 0.95, r_ao * 0.9, r_da, r_da])),
            Tube(arch[5:], np.array([r_da, r_da])),
        ],
        "pulmonary_artery": [
            Tube(np.array([[-14, -(ay + 48), 20], bif]), np.array([r_pa, r_pa])),
            Tube(rpa, np.array([r_pa * 0.8, 10, 9, 7])),
            Tube(lpa, np.array([r_pa * 0.8, 10, 9, 7])),
        ],
        "svc": [
            Tube(np.array([[ra_top, -(ay + 12), svc_x], [400, -(ay + 12), svc_x]]), np.array([9.0, 9.0]))
        ],
        "ivc": [
            Tube(np.array([[ra_top - 24, -10, -(ax + 15)], [-400, -10, -(ax + 15)]]), np.array([11.0, 11.0]))
        ],
        "lung_branches": branches
        + _branches(rng, rpa[-1], rpa[-1] - rpa[-2], 6.0)
        + _branches(rng, lpa[-1], lpa[-1] - lpa[-2], 6.0),
    }


def _sample_body(a: Anatomy, rng: np.random.Generator, radii) -> None:
    """Oesophagus, liver, the thorax outline and the texture fields."""
    az, ay, _ax = radii
    a.esophagus = Tube(np.array([[-400, ay + 12, 2.0], [400, ay + 12, 2.0]]), np.array([7.5, 7.5]))
    a.liver = Ellipsoid(np.array([-(az + 75), -20, -35.0]), np.array([55.0, 90, 115]), rotation(rng, 8))
    y_s = rng.uniform(58, 66)
    a_y, a_x = rng.uniform(100, 125), rng.uniform(145, 175)
    a.thorax = {
        "spine": [y_s, rng.uniform(-2, 6)],
        "body_centre": [y_s + rng.uniform(55, 70) - a_y, rng.uniform(-5, 5)],
        "body_radii": [a_y, a_x],
        "fat": rng.uniform(6, 22),
        "muscle": rng.uniform(8, 14),
        "column_width": rng.uniform(28, 42),
        "disc_phase": rng.uniform(0, 25),
        "outline": [list(rng.uniform(-0.035, 0.035, 3)), list(rng.uniform(0, 2 * np.pi, 3))],
        "fat_shape": [rng.uniform(0.3, 0.7), rng.uniform(-0.5, 0.5)],
    }
    a.thickness = Field.random(rng, rng.uniform(18, 35), n=10)
    a.thickness_ab = (rng.uniform(1.2, 2.2), rng.uniform(-0.6, 0.6))
    a.fat = Field.random(rng, rng.uniform(25, 45), n=24)
    a.fat_fine = Field.random(rng, rng.uniform(10, 14), n=24)


def _la_extent(a: Anatomy) -> tuple[np.ndarray, np.ndarray]:
    """Bounding box of the LA complex (body, veins, appendage, orifice) without wall."""
    lo, hi = a.body.lo_hi()
    pad = (1.0 + 8 * a.bump_amp) * 1.0
    lo, hi = a.centre + (lo - a.centre) * pad, a.centre + (hi - a.centre) * pad
    for tube in [*a.veins.values(), a.laa, a.orifice]:
        tlo, thi = tube.lo_hi()
        lo, hi = np.minimum(lo, tlo), np.maximum(hi, thi)
    return lo, hi


def _fit(a: Anatomy, grid: Grid, rng: np.random.Generator) -> Anatomy:
    """Scale the canonical anatomy to fit the field of view and place it in world mm."""
    lo, hi = _la_extent(a)
    need = hi - lo + 2 * (3.0 + FIT_MARGIN)
    scale = float(min(1.0, np.min(grid.extent / need)))
    slack = np.maximum(grid.extent - scale * need, 0.0)
    offset = rng.uniform(-1, 1, 3) * np.minimum(5.0, slack / 2)
    centre = grid.centre - scale * (lo + hi) / 2 + offset
    a.centre, a.scale = centre, scale
    a.body = a.body.moved(centre, scale)
    a.veins = {k: t.moved(centre, scale) for k, t in a.veins.items()}
    a.ostia = {k: centre + scale * o for k, o in a.ostia.items()}
    a.vein_cut = {k: scale * c for k, c in a.vein_cut.items()}
    a.vein_blend *= scale
    a.laa, a.orifice = a.laa.moved(centre, scale), a.orifice.moved(centre, scale)
    a.mitral_centre = centre + scale * a.mitral_centre
    for name in ("lv", "rv", "ra", "liver"):
        setattr(a, name, getattr(a, name).moved(centre, scale))
    a.lv_myo *= scale
    a.rv_myo *= scale
    a.vessels = {k: [t.moved(centre, scale) for t in ts] for k, ts in a.vessels.items()}
    a.esophagus = a.esophagus.moved(centre, scale)
    th = dict(a.thorax)
    for key in ("spine", "body_centre"):
        th[key] = list(centre[1:] + scale * np.asarray(th[key]))
    for key in ("body_radii",):
        th[key] = list(scale * np.asarray(th[key]))
    for key in ("fat", "muscle", "column_width", "disc_phase"):
        th[key] = scale * th[key]
    a.thorax = th
    a.thickness = _moved_field(a.thickness, centre, scale)
    a.fat = _moved_field(a.fat, centre, scale)
    a.fat_fine = _moved_field(a.fat_fine, centre, scale)
    a.la_lo, a.la_hi = _la_extent(a)
    return a
