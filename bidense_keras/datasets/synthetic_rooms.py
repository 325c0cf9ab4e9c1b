"""Procedural indoor rooms rendered by vectorised ray casting, exportable as ADE20K or NYUv2 (BTS) data.

Each sample is an axis-aligned room (floor, ceiling, four walls and one window or door opening onto an
outdoor backdrop) holding 2-8 objects resting on the floor: cabinets (boxes), tables (top + four legs),
spheres and vertical cylinders.  A pinhole camera with NYUv2 intrinsics scaled to the output size looks
at it; surfaces get random colours and procedural textures (checker, stripes, sinusoidal noise) and are
shaded with Lambertian point lights (with hard shadows cast by the objects) plus ambient light, followed
by a simple auto-exposure and gamma.  All randomness comes from ``numpy.random.default_rng(seed)``, so a
seed always gives identical arrays.

Conventions
-----------
* World: metres, y up, floor at y = 0; the room spans [0, W] x [0, H] x [0, D] in x, y, z.
* Camera: OpenCV axes (x right, y down, z forward).  Camera-to-world rotation is
  ``R_level(yaw) @ R_x(pitch) @ R_z(roll)`` where ``R_level`` has columns right, down, forward of a level
  camera; pitch > 0 looks up.  Angles are in radians.
* Pixel (u, v) (column, row) looks along ``((u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy, 1)`` in camera axes.
* ``depth`` is z-depth (distance along the optical axis, not ray length) in metres, float32.  Pixels
  nearer than ``MIN_DEPTH`` (0.3 m) or farther than ``MAX_DEPTH`` (10 m) are set to 0 = invalid.
* ``label`` indexes ``CLASS_NAMES``; pixels seen through the opening are "window" or "door".

Speed (``python -m bidense_keras.datasets.synthetic_rooms``: 200 samples at 240x320, single-threaded, on
a shared 2-core machine whose load from other jobs varied): 38-41 ms/sample on a quieter run, 24-45 ms
of CPU (up to 66 ms wall clock) across runs; ``export`` adds 3-10 ms/sample of CPU for JPEG/PNG encoding.
So 10,000 samples take about 7 minutes on one core; ``export(..., workers=2)`` splits them over processes.
"""

import functools
import json
import multiprocessing
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from bidense_keras.files import atomic_path, write_text_atomic

CLASS_NAMES = ("wall", "floor", "ceiling", "window", "door", "cabinet", "table", "sphere", "cylinder")
PALETTE = np.array(
    [
        [120, 120, 120],  # wall
        [80, 50, 50],  # floor
        [120, 120, 80],  # ceiling
        [230, 230, 230],  # window
        [8, 255, 51],  # door
        [224, 5, 255],  # cabinet
        [255, 6, 82],  # table
        [255, 184, 6],  # sphere
        [6, 51, 255],  # cylinder
    ],
    dtype=np.uint8,
)
NUM_CLASSES = len(CLASS_NAMES)
NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)  # fx, fy, cx, cy at 640x480
NYU_SIZE = (480, 640)  # height, width
MIN_DEPTH, MAX_DEPTH = 0.3, 10.0

_CLASS = {name: index for index, name in enumerate(CLASS_NAMES)}
_FLOOR, _CEILING, _WALL, _BACKDROP = range(4)  # material indices of the room surfaces
_FLOAT = np.float32  # ray-casting precision: ample for metres, half the memory traffic of float64
_EPS = 1e-4
_GAMMA_TABLE = np.round(255 * np.linspace(0.0, 1.0, 4096) ** (1 / 2.2)).astype(np.uint8)  # linear -> sRGB-ish
_CAMERA_CLEARANCE = 0.45  # half-size of the square around the camera kept free of objects


# ----------------------------------------------------------------------------------------------- scene


@dataclass(frozen=True)
class _Material:
    label: int
    albedo: Callable[[np.ndarray], np.ndarray]  # (3, N) points -> (3, N) linear RGB
    emissive: bool = False


@dataclass(frozen=True)
class _Box:
    lo: np.ndarray
    hi: np.ndarray

    def intersect(self, origins, dirs):
        """Entry distance (N,) (inf on a miss) and outward normals (3, N) of rays starting outside."""
        entry, exit_, near = _slab(origins, dirs, self.lo, self.hi)
        t = np.where((entry <= exit_) & (entry > _EPS), entry, np.inf)
        return t, _facing_normals(dirs, near == entry)


@dataclass(frozen=True)
class _Sphere:
    center: np.ndarray
    radius: float

    def intersect(self, origins, dirs):
        """Entry distance (N,) (inf on a miss) and outward normals (3, N)."""
        offset = origins - self.center[:, None]
        a = _dot(dirs, dirs)
        b = _dot(dirs, offset)
        c = _dot(offset, offset) - self.radius**2
        t = _near_root(a, b, c)
        normals = (offset + _finite(t) * dirs) / self.radius
        return t, normals


@dataclass(frozen=True)
class _Cylinder:
    center: np.ndarray  # (x, z) of the axis
    radius: float
    height: float

    def intersect(self, origins, dirs):
        """Entry distance (N,) (inf on a miss) and outward normals (3, N) of the side or the top disc."""
        dx, dz = dirs[0], dirs[2]
        ox, oz = origins[0] - self.center[0], origins[2] - self.center[1]
        t_side = _near_root(dx * dx + dz * dz, dx * ox + dz * oz, ox * ox + oz * oz - self.radius**2)
        with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to the cap or the axis
            y_side = origins[1] + t_side * dirs[1]
            t_top = (self.height - origins[1]) / dirs[1]
            px, pz = ox + t_top * dx, oz + t_top * dz
        t_side = np.where((y_side >= 0.0) & (y_side <= self.height), t_side, np.inf)
        t_top = np.where((t_top > _EPS) & (px * px + pz * pz <= self.radius**2), t_top, np.inf)
        on_top = t_top < t_side
        t = np.where(on_top, t_top, t_side)
        t_hit = _finite(t)
        normals = np.stack([ox + t_hit * dx, np.zeros_like(t), oz + t_hit * dz]) / self.radius
        normals[:, on_top] = ((0.0,), (1.0,), (0.0,))
        return t, normals


@dataclass(frozen=True)
class _Object:
    material: int
    parts: tuple
    center: np.ndarray  # bounding sphere of all parts, used to cull rays
    radius: float


@dataclass(frozen=True)
class _Opening:
    axis: int  # 0: wall at x = side, 2: wall at z = side
    side: float
    span: tuple  # (lo, hi) along the other horizontal axis
    rise: tuple  # (lo, hi) in y
    backdrop: float  # coordinate of the outdoor backdrop plane along `axis`
    label: int


@dataclass(frozen=True)
class _Scene:
    size: np.ndarray  # room (W, H, D)
    opening: _Opening
    objects: tuple
    materials: tuple
    lights: tuple  # ((position (3,), power), ...)
    ambient: float
    camera: np.ndarray  # position (3,)
    rotation: np.ndarray  # camera-to-world (3, 3)
    pitch: float
    roll: float


def _dot(a, b):
    """Per-ray dot products (N,) of vectors (3, N) or (3,); written out to stay off multi-threaded BLAS."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _finite(t):
    """Distances (N,) with misses (inf) replaced by 0, so normals of missed rays stay finite."""
    return np.where(np.isfinite(t), t, 0.0)


def _slab(origins, dirs, lo, hi):
    """Slab test of rays (3, N) against box [lo, hi]: entry (N,), exit (N,), per-axis entries (3, N)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = 1.0 / dirs
        t_lo = (lo[:, None] - origins) * inverse
        t_hi = (hi[:, None] - origins) * inverse
        near = np.minimum(t_lo, t_hi)
        far = np.maximum(t_lo, t_hi)
    entry = np.maximum(np.maximum(near[0], near[1]), near[2])
    exit_ = np.minimum(np.minimum(far[0], far[1]), far[2])
    return entry, exit_, near


def _facing_normals(dirs, on_axis):
    """Unit normals (3, N) along the axis flagged in `on_axis` (3, N), facing against the rays."""
    return np.where(on_axis, -np.sign(dirs), 0.0)


def _near_root(a, b, c):
    """Smaller positive root of a t^2 + 2 b t + c = 0 per ray (N,), inf where there is none."""
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / a
    return np.where((disc >= 0.0) & (t > _EPS), t, np.inf)


# -------------------------------------------------------------------------------------------- sampling


def _random_color(rng, lo=0.15, hi=0.9):
    """Linear RGB (3,) with random hue, saturation and brightness."""
    color = rng.uniform(lo, hi, 3)
    gray = color.mean()
    return gray + rng.uniform(0.2, 1.0) * (color - gray)


def _floor_uv(points):
    """Texture coordinates (u, v) of horizontal surfaces from points (3, N)."""
    return points[0], points[2]


def _wall_uv(points):
    """Texture coordinates (u, v) of vertical surfaces (walls, object sides) from points (3, N)."""
    return points[0] + points[2], points[1]


def _pattern(rng, kinds):
    """A random albedo modulation: (u, v) arrays (N,) -> factors (N,) in [1 - contrast, 1]."""
    kind = kinds[rng.integers(len(kinds))]
    scale = rng.uniform(0.1, 0.6)
    contrast = rng.uniform(0.1, 0.35)
    waves = rng.uniform(-12.0, 12.0, (3, 2))
    phases = rng.uniform(0.0, 2 * np.pi, 3)

    def apply(u, v):
        if kind == "checker":
            mask = (np.floor(u / scale) + np.floor(v / scale)) % 2
        elif kind == "stripes":
            mask = np.floor(u / scale) % 2
        elif kind == "noise":
            mask = 0.5 + sum(np.sin(du * u + dv * v + phase) for (du, dv), phase in zip(waves, phases)) / 6
        else:
            mask = np.zeros_like(u)
        return 1.0 - contrast * mask

    return apply


def _textured_material(rng, label, uv, kinds):
    """Material of class `label` with a random colour modulated by a random pattern of `kinds`."""
    color = _random_color(rng)
    pattern = _pattern(rng, kinds)
    return _Material(label, lambda points: color[:, None] * pattern(*uv(points)))


def _backdrop_material(rng, label):
    """Emissive outdoor view: ground below y = 0, sky brightening towards the horizon above it."""
    ground = _random_color(rng, 0.1, 0.4)
    sky = np.array([0.35, 0.55, 0.95]) * rng.uniform(0.7, 1.0)
    horizon = np.array([0.95, 0.95, 0.95])

    def albedo(points):
        weight = np.clip(points[1] / 8.0, 0.0, 1.0)
        sky_color = horizon[:, None] + weight * (sky - horizon)[:, None]
        return np.where(points[1] < 0.0, ground[:, None], sky_color)

    return _Material(label, albedo, emissive=True)


def _sample_opening(rng, size):
    """One window or door in a random wall of a room of `size` (W, H, D)."""
    axis = int(rng.choice([0, 2]))
    side = float(rng.choice([0.0, size[axis]]))
    length = size[2 - axis]
    if rng.uniform() < 0.6:
        label = _CLASS["window"]
        width = rng.uniform(0.8, min(2.0, length - 0.6))
        bottom = rng.uniform(0.7, 1.0)
        rise = (bottom, min(size[1] - 0.2, bottom + rng.uniform(1.0, 1.5)))
    else:
        label = _CLASS["door"]
        width = rng.uniform(0.8, 1.0)
        rise = (0.0, rng.uniform(2.0, 2.1))
    start = rng.uniform(0.2, length - 0.2 - width)
    outward = 1.0 if side > 0 else -1.0
    backdrop = side + outward * rng.uniform(3.0, 6.0)
    return _Opening(axis, side, (start, start + width), rise, backdrop, label)


def _sample_object(rng, material, center):
    """A cabinet, table, sphere or cylinder standing on the floor around `center` (x, z)."""
    kind = CLASS_NAMES[material.label]
    x, z = center
    if kind == "cabinet":
        half = np.array([rng.uniform(0.2, 0.6), 0.0, rng.uniform(0.15, 0.3)])
        lo, hi = np.array([x, 0, z]) - half, np.array([x, rng.uniform(0.5, 2.0), z]) + half
        return (_Box(lo, hi),), lo, hi
    if kind == "table":
        return _sample_table(rng, x, z)
    if kind == "sphere":
        radius = rng.uniform(0.15, 0.5)
        lo, hi = np.array([x - radius, 0, z - radius]), np.array([x + radius, 2 * radius, z + radius])
        return (_Sphere(np.array([x, radius, z]), radius),), lo, hi
    radius, height = rng.uniform(0.1, 0.4), rng.uniform(0.3, 1.2)
    lo, hi = np.array([x - radius, 0, z - radius]), np.array([x + radius, height, z + radius])
    return (_Cylinder(np.array([x, z]), radius, height),), lo, hi


def _sample_table(rng, x, z):
    """Table top plus four legs, as boxes, and its bounding box."""
    half_w, half_d = rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.5)
    height, thickness, leg = rng.uniform(0.7, 0.8), rng.uniform(0.04, 0.06), rng.uniform(0.04, 0.07)
    lo, hi = np.array([x - half_w, 0.0, z - half_d]), np.array([x + half_w, height, z + half_d])
    parts = [_Box(np.array([lo[0], height - thickness, lo[2]]), hi)]
    for leg_x in (lo[0], hi[0] - leg):
        for leg_z in (lo[2], hi[2] - leg):
            leg_lo = np.array([leg_x, 0.0, leg_z])
            parts.append(_Box(leg_lo, leg_lo + np.array([leg, height - thickness, leg])))
    return tuple(parts), lo, hi


def _overlaps(lo, hi, footprints, margin=0.1):
    """Whether the x-z rectangle of box [lo, hi] comes within `margin` of any (lo, hi) footprint."""
    return any(
        lo[0] < other_hi[0] + margin and other_lo[0] < hi[0] + margin
        and lo[2] < other_hi[2] + margin and other_lo[2] < hi[2] + margin
        for other_lo, other_hi in footprints
    )


def _place_objects(rng, size, camera, materials):
    """Objects for `materials`, inside the room, apart from each other and from the camera."""
    clearance = np.array([_CAMERA_CLEARANCE, 0.0, _CAMERA_CLEARANCE])
    footprints = [(camera - clearance, camera + clearance)]
    objects = []
    for index, material in materials:
        for _ in range(30):
            center = rng.uniform([0.0, 0.0], [size[0], size[2]])
            parts, lo, hi = _sample_object(rng, material, center)
            inside = lo[0] > 0.05 and lo[2] > 0.05 and hi[0] < size[0] - 0.05 and hi[2] < size[2] - 0.05
            if inside and not _overlaps(lo, hi, footprints):
                footprints.append((lo, hi))
                center, radius = ((lo + hi) / 2).astype(_FLOAT), float(np.linalg.norm(hi - lo)) / 2
                objects.append(_Object(index, parts, center, radius))
                break
    return tuple(objects)


def _rotation(yaw, pitch, roll):
    """Camera-to-world rotation (3, 3) for OpenCV camera axes in a y-up world."""
    level = np.array(
        [[-np.cos(yaw), 0.0, np.sin(yaw)], [0.0, -1.0, 0.0], [np.sin(yaw), 0.0, np.cos(yaw)]]
    ).T  # columns: right, down, forward
    cp, sp, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    rot_x = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rot_z = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return level @ rot_x @ rot_z


def _aim_yaw(rng, size, camera, objects):
    """Yaw from `camera` (3,) roughly towards a random object, else the farthest of three floor points."""
    if objects:
        dx, dz = objects[rng.integers(len(objects))].center[[0, 2]] - camera[[0, 2]]
    else:
        targets = rng.uniform([0.0, 0.0], [size[0], size[2]], (3, 2)) - camera[[0, 2]]
        dx, dz = targets[np.argmax(np.hypot(targets[:, 0], targets[:, 1]))]
    return np.arctan2(dx, dz) + np.radians(rng.uniform(-20, 20))


def _sample_scene(rng, level_camera):
    """A random room, its contents, lights and camera."""
    size = np.array([rng.uniform(3.0, 8.0), rng.uniform(2.4, 3.2), rng.uniform(3.0, 10.0)])
    opening = _sample_opening(rng, size)
    camera = rng.uniform([0.5, 1.0, 0.5], [size[0] - 0.5, 1.8, size[2] - 0.5])
    materials = [
        _textured_material(rng, _CLASS["floor"], _floor_uv, ("checker", "stripes", "noise")),
        _textured_material(rng, _CLASS["ceiling"], _floor_uv, ("plain", "noise")),
        _textured_material(rng, _CLASS["wall"], _wall_uv, ("plain", "stripes", "noise")),
        _backdrop_material(rng, opening.label),
    ]
    kinds = rng.choice(["cabinet", "table", "sphere", "cylinder"], size=rng.integers(2, 9))
    object_materials = [
        (len(materials) + i, _textured_material(rng, _CLASS[kind], _wall_uv, ("plain", "plain", "noise")))
        for i, kind in enumerate(kinds)
    ]
    materials += [material for _, material in object_materials]
    objects = _place_objects(rng, size, camera, object_materials)
    yaw = _aim_yaw(rng, size, camera, objects)
    pitch, roll = np.radians(rng.uniform(-20, 5)), np.radians(rng.uniform(-5, 5))
    if level_camera:
        pitch = roll = 0.0
    lights = tuple(_sample_light(rng, size) for _ in range(rng.integers(1, 3)))
    return _Scene(
        size.astype(_FLOAT), opening, objects, tuple(materials), lights, rng.uniform(0.1, 0.25),
        camera.astype(_FLOAT), _rotation(yaw, pitch, roll), float(pitch), float(roll),
    )


def _sample_light(rng, size):
    """A ceiling point light: position (3,) 25 cm below the ceiling and power."""
    x, z = rng.uniform([0.3, 0.3], [size[0] - 0.3, size[2] - 0.3])
    return np.array([x, size[1] - 0.25, z], _FLOAT), rng.uniform(4, 8)


# ----------------------------------------------------------------------------------------- ray casting


def intrinsics_for(height, width):
    """NYUv2 pinhole intrinsics scaled to an image of `height` x `width`: array (4,) = fx, fy, cx, cy."""
    fx, fy, cx, cy = NYU_INTRINSICS
    sx, sy = width / NYU_SIZE[1], height / NYU_SIZE[0]
    return np.array([fx * sx, fy * sy, cx * sx, cy * sy])


@functools.lru_cache(maxsize=4)
def _pixel_rays(height, width):
    """Read-only camera-frame ray directions (3, H*W) through pixel centres, with z = 1."""
    fx, fy, cx, cy = intrinsics_for(height, width)
    v, u = np.mgrid[0:height, 0:width]
    rays = np.stack([(u.ravel() + 0.5 - cx) / fx, (v.ravel() + 0.5 - cy) / fy, np.ones(height * width)])
    rays = rays.astype(_FLOAT)
    rays.flags.writeable = False
    return rays


def _camera_rays(height, width, rotation):
    """World ray directions (3, H*W) whose camera z-component is 1, so hit distance equals z-depth."""
    rays = _pixel_rays(height, width)
    dirs = np.stack([_dot(row, rays) for row in rotation.astype(_FLOAT)])
    dirs[dirs == 0.0] = 1e-12  # keeps slab tests free of 0 * inf
    return dirs


def _trace_room(scene, dirs):
    """Distance (N,), inward normals (3, N) and material (N,) where rays from the camera leave the room."""
    origin = scene.camera[:, None]
    t_axes = (np.where(dirs > 0, scene.size[:, None], 0.0) - origin) / dirs
    axis = t_axes.argmin(axis=0)
    t = np.minimum(np.minimum(t_axes[0], t_axes[1]), t_axes[2])
    normals = _facing_normals(dirs, t_axes == t)
    material = np.where(axis != 1, _WALL, np.where(dirs[1] < 0, _FLOOR, _CEILING))
    through = _through_opening(scene.opening, origin + t * dirs, axis, dirs)
    opening = scene.opening
    t[through] = (opening.backdrop - origin[opening.axis]) / dirs[opening.axis, through]
    material[through] = _BACKDROP
    return t, normals, material


def _through_opening(opening, points, axis, dirs):
    """Mask (N,) of room exits (points (3, N) on the wall `axis` (N,)) that fall inside the opening."""
    along = points[2 - opening.axis]
    outward = dirs[opening.axis] > 0 if opening.side > 0 else dirs[opening.axis] < 0
    return (
        (axis == opening.axis) & outward
        & (along > opening.span[0]) & (along < opening.span[1])
        & (points[1] > opening.rise[0]) & (points[1] < opening.rise[1])
    )


def _trace_objects(objects, origin, dirs, t_max, lengths):
    """Nearest object hits before `t_max` (N,) of rays from `origin` (3,) along `dirs` (3, N).

    `lengths` (N,) are the norms of `dirs`.

    Returns distance (N,), normals (3, N) and material index (N,), -1 where no object is hit.
    """
    t_best = t_max.copy()
    normals = np.zeros_like(dirs)
    material = np.full(dirs.shape[1], -1)
    for obj in objects:
        rows = _rays_near_sphere(origin, dirs, lengths, t_best, obj.center, obj.radius)
        sub_dirs = dirs.take(rows, axis=1)
        for part in obj.parts:
            t, part_normals = part.intersect(origin[:, None], sub_dirs)
            closer = t < t_best[rows]
            hit_rows = rows[closer]
            t_best[hit_rows] = t[closer]
            normals[:, hit_rows] = part_normals[:, closer]
            material[hit_rows] = obj.material
    return t_best, normals, material


def _rays_near_sphere(origin, dirs, lengths, t_max, center, radius):
    """Indices of rays (3, N) that may reach the sphere (`center`, `radius`) before `t_max` (N,)."""
    offset = center - origin
    distance = float(np.linalg.norm(offset))
    reachable = t_max * lengths > distance - radius
    if distance > radius:
        cos_cone = np.sqrt(1.0 - (radius / distance) ** 2)
        reachable &= _dot(offset, dirs) >= lengths * (distance * cos_cone)
    return np.flatnonzero(reachable)


def _shade(scene, points, normals, material):
    """Linear RGB (3, N): albedo times ambient plus shadowed Lambertian point lights; emissive as is."""
    albedo = np.empty_like(points)
    lit = np.ones(points.shape[1], dtype=bool)
    for index, surface in enumerate(scene.materials):
        rows = np.flatnonzero(material == index)
        albedo[:, rows] = surface.albedo(points.take(rows, axis=1))
        lit[rows] = not surface.emissive
    irradiance = np.full(points.shape[1], scene.ambient, dtype=_FLOAT)
    for position, power in scene.lights:
        irradiance += _point_light(scene, points, normals, lit, position, power)
    irradiance[~lit] = 1.0
    return albedo * irradiance


def _point_light(scene, points, normals, lit, position, power):
    """Irradiance (N,) from one point light, zero where facing away or shadowed by an object.

    Shadow rays run from the light to the points (3, N), so that they share one origin.
    """
    from_light = points - position[:, None]
    distance2 = _dot(from_light, from_light)
    distance = np.sqrt(distance2)
    cosine = -_dot(normals, from_light) / distance
    facing = lit & (cosine > 0)
    t_max = facing * _FLOAT(1.0 - 1e-3)
    _, _, blocker = _trace_objects(scene.objects, position, from_light, t_max, distance)
    return np.where(facing & (blocker < 0), power * cosine / (1.0 + distance2), 0.0)


def _to_image(radiance, height, width):
    """Auto-exposed, gamma-encoded uint8 image (H, W, 3) from linear radiance (3, H*W)."""
    luminance = _dot((0.2126, 0.7152, 0.0722), radiance)
    exposure = 0.3 / max(np.median(luminance), 1e-6)
    levels = (np.clip(radiance * exposure, 0.0, 1.0) * (len(_GAMMA_TABLE) - 1)).astype(np.intp)
    return _GAMMA_TABLE[levels.T].reshape(height, width, 3)


# ------------------------------------------------------------------------------------------ public API


def render(seed, height=240, width=320, level_camera=False):
    """Render one random room.

    Args:
        seed: integer seed; the same seed gives identical outputs.
        height, width: image size in pixels.
        level_camera: force pitch = roll = 0 (the room, objects and camera position are unchanged).

    Returns:
        dict with ``image`` uint8 (H, W, 3) RGB, ``label`` uint8 (H, W) indices into ``CLASS_NAMES``,
        ``depth`` float32 (H, W) z-depth in metres (0 = invalid, outside [0.3, 10] m), ``intrinsics``
        float64 (4,) = fx, fy, cx, cy in pixels, and floats ``camera_height`` (m), ``pitch``, ``roll`` (rad).
    """
    scene = _sample_scene(np.random.default_rng(seed), level_camera)
    intrinsics = intrinsics_for(height, width)
    dirs = _camera_rays(height, width, scene.rotation)
    t, normals, material = _trace_room(scene, dirs)
    lengths = np.sqrt(_dot(dirs, dirs))
    t_obj, normals_obj, material_obj = _trace_objects(scene.objects, scene.camera, dirs, t, lengths)
    on_object = material_obj >= 0
    t[on_object], material[on_object] = t_obj[on_object], material_obj[on_object]
    normals[:, on_object] = normals_obj[:, on_object]
    radiance = _shade(scene, scene.camera[:, None] + t * dirs, normals, material)
    labels = np.array([surface.label for surface in scene.materials], dtype=np.uint8)[material]
    depth = np.where((t >= MIN_DEPTH) & (t <= MAX_DEPTH), t, 0.0).astype(np.float32)
    return {
        "image": _to_image(radiance, height, width),
        "label": labels.reshape(height, width),
        "depth": depth.reshape(height, width),
        "intrinsics": intrinsics,
        "camera_height": float(scene.camera[1]),
        "pitch": scene.pitch,
        "roll": scene.roll,
    }


def sample_seed(seed, index):
    """Seed (int) of sample `index` in the stream of `seed`, as used by ``generate`` and ``export``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def generate(num_samples, seed=0, height=240, width=320) -> Iterator[dict]:
    """Yield `num_samples` dicts of ``render(sample_seed(seed, i), height, width)``, i = 0, 1, ...

    Shapes and dtypes as in ``render``: image (H, W, 3) uint8, label (H, W) uint8, depth (H, W) float32.
    """
    for index in range(num_samples):
        yield render(sample_seed(seed, index), height, width)


_SPLITS = {"ade20k": ("training", "validation"), "nyu": ("train", "test")}
_ADE_PREFIX = {"training": "train", "validation": "val"}


def export(directory, num_samples, layout="ade20k", split=None, seed=0, height=240, width=320, workers=1):
    """Write ``generate(num_samples, seed, height, width)`` to disk with Pillow; return the root Path.

    ``layout="ade20k"`` (split "training" or "validation") writes
    ``ADEChallengeData2016/images/<split>/ADE_<train|val>_%08d.jpg`` (numbered from 1, as ADE20K does)
    and ``ADEChallengeData2016/annotations/<split>/...png`` with pixel = class index + 1 (0 = unlabelled).
    ``layout="nyu"`` (split "train" or "test") writes BTS-style ``sync/<scene>/rgb_%05d.jpg`` and
    ``sync/<scene>/sync_depth_%05d.png`` (uint16 millimetres, 0 = invalid), scenes holding 1000 frames
    each, plus ``nyudepthv2_<split>_files_with_gt.txt`` with lines ``<rgb> <depth> <fx>`` relative to sync.
    Each file is written under a temporary name and renamed.  The split does not change the samples: use
    a different `seed` per split.  `workers` > 1 renders in that many processes.
    """
    if layout not in _SPLITS:
        raise ValueError(f"layout must be one of {tuple(_SPLITS)}, got {layout!r}")
    split = split or _SPLITS[layout][0]
    if split not in _SPLITS[layout]:
        raise ValueError(f"split for {layout!r} must be one of {_SPLITS[layout]}, got {split!r}")
    root = Path(directory)
    jobs = [(root, layout, split, i, sample_seed(seed, i), height, width) for i in range(num_samples)]
    progress = {"total": num_samples, "desc": f"render {layout} {split}", "unit": "scene", "disable": None}
    if workers > 1:
        with multiprocessing.Pool(workers) as pool:
            lines = list(tqdm(pool.imap(_write_sample, jobs, chunksize=8), **progress))
    else:
        lines = [_write_sample(job) for job in tqdm(jobs, **progress)]
    if layout == "nyu":
        write_text_atomic(root / f"nyudepthv2_{split}_files_with_gt.txt", "".join(lines))
    return root


TASK_LAYOUTS = {"segmentation": ("ade20k", "training", "validation"), "depth": ("nyu", "train", "test")}
HELD_OUT_SEED_OFFSET = 1_000_003  # the held-out split's seed, so no sample repeats a training one


def prepare_splits(directory, task, train_samples, val_samples, seed=0, height=240, width=320, workers=1):
    """Exports a training and a held-out split for ``task`` unless the same ones are already there.

    Segmentation uses the ADE20K layout, depth the NYU (BTS) layout, so the real
    loaders read them (``bidense_keras.datasets.loaders.load_dataset(layout, directory, ...)``).

    Returns:
        The layout name, ``"ade20k"`` or ``"nyu"``.
    """
    prepare_split(directory, task, "train", train_samples, seed, height, width, workers)
    return prepare_split(directory, task, "val", val_samples, seed, height, width, workers)


def prepare_split(directory, task, split, num_samples, seed=0, height=240, width=320, workers=1,
                  overwrite=True):
    """Exports one split (``"train"``, or ``"val"`` = held out) unless the same one is already there.

    The held-out split is rendered from ``seed + HELD_OUT_SEED_OFFSET``. A split written
    with other settings is deleted and written again, or, with ``overwrite=False``, is an
    error (so an evaluation never silently replaces the data a model was measured on).

    Returns:
        The layout name, ``"ade20k"`` or ``"nyu"``.
    """
    layout, train_split, val_split = TASK_LAYOUTS[task]
    layout_split, split_seed = (train_split, seed) if split == "train" else (val_split, seed + HELD_OUT_SEED_OFFSET)
    root = Path(directory)
    marker = root / f".synthetic_rooms-{layout}-{layout_split}.json"
    wanted = {"samples": num_samples, "seed": split_seed, "height": height, "width": width}
    found = json.loads(marker.read_text()) if marker.exists() else None
    if found is not None and found != wanted and not overwrite:
        raise ValueError(f"{root} already holds a {split} split made with {found}, not {wanted}; "
                         "use the same settings or another --data-dir.")
    if found != wanted:
        marker.unlink(missing_ok=True)
        _remove_split(root, layout, layout_split)
        export(root, num_samples, layout, layout_split, split_seed, height, width, workers)
        write_text_atomic(marker, json.dumps(wanted))
    return layout


def _remove_split(root, layout, split):
    """Deletes the files of one exported split."""
    if layout == "ade20k":
        folders = [root / "ADEChallengeData2016" / kind / split for kind in ("images", "annotations")]
    else:
        folders = list((root / "sync").glob(f"{split}_*"))
        (root / f"nyudepthv2_{split}_files_with_gt.txt").unlink(missing_ok=True)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _write_sample(job):
    """Render and write one sample; return its line for the NYU filenames file ('' for ADE20K)."""
    root, layout, split, index, seed, height, width = job
    sample = render(seed, height, width)
    if layout == "ade20k":
        name = f"ADE_{_ADE_PREFIX[split]}_{index + 1:08d}"
        base = root / "ADEChallengeData2016"
        image, annotation = Image.fromarray(sample["image"]), Image.fromarray(sample["label"] + 1)
        _save_atomic(image, base / "images" / split / f"{name}.jpg", "JPEG", quality=95)
        _save_atomic(annotation, base / "annotations" / split / f"{name}.png", "PNG")
        return ""
    scene = f"{split}_{index // 1000:03d}"
    rgb, depth = f"{scene}/rgb_{index:05d}.jpg", f"{scene}/sync_depth_{index:05d}.png"
    millimetres = np.round(sample["depth"] * 1000.0).astype(np.uint16)
    _save_atomic(Image.fromarray(sample["image"]), root / "sync" / rgb, "JPEG", quality=95)
    _save_atomic(Image.fromarray(millimetres), root / "sync" / depth, "PNG")
    return f"{rgb} {depth} {sample['intrinsics'][0]:.4f}\n"


def _save_atomic(image, path, image_format, **params):
    """Save a PIL image to `path` through a temporary file in the same directory."""
    with atomic_path(path) as temporary:
        image.save(temporary, format=image_format, **params)


def _benchmark(num_samples=200, height=240, width=320):
    """Print the mean single-threaded render time (wall clock and CPU) in ms/sample."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in generate(num_samples, seed=123, height=height, width=width):
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall_ms, cpu_ms = 1000 * wall / num_samples, 1000 * cpu / num_samples
    print(f"{wall_ms:.1f} ms/sample wall, {cpu_ms:.1f} ms/sample CPU at {height}x{width}")


if __name__ == "__main__":
    _benchmark()
