"""A Shapes3D-like scene, ray-cast analytically in pure JAX.

Scene (world units, y up, origin at the object's foot): the corner of a room
seen from inside. The floor is the plane y = 0, the back wall z = +3.2 and two
side walls x = -6.5 and x = +6.5, meeting the back wall in vertical edges.
One object stands on the floor at the origin: a cube, an upright cylinder, a
sphere or an upright capsule, all sizes multiplied by `scale`. A pinhole camera
at (0, 3.3, -8) looks at (0, 1.1, 0); `orientation` orbits it about the
vertical axis through the object, so the scene appears rotated: the floor/wall
line tilts and a wall corner comes into view. One directional light, fixed in
the room, shines from the front-left above: Lambertian plus ambient shading,
and a shadow ray toward the light from every floor and wall point, so the
object casts a hard shadow. Every ray is intersected analytically with the
floor, walls and object planes, box, cylinder and spheres, vectorised over
pixels and batch; `supersample` s casts s x s rays per pixel and averages them.

Differences from DeepMind's Shapes3D (rendered with MuJoCo): no specular
highlights, soft shadows, light falloff or texture; only the object casts
shadows (walls do not shade the floor); the room proportions, camera pose,
light and object sizes are eyeballed from the published images, not taken from
the MuJoCo model, so renders match in layout and colours, not pixel for pixel;
edges are aliased unless `supersample` > 1. The factor grid (values, order,
sizes) is Shapes3D's own.
"""

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data.ground_truth import IMAGE_SIZE

FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPE_NAMES = ("cube", "cylinder", "sphere", "capsule")
HUES = np.linspace(0.0, 1.0, 10, endpoint=False)
SCALES = np.linspace(0.75, 1.25, 8)
ORIENTATIONS_DEG = np.linspace(-30.0, 30.0, 15)

_CAMERA_POSITION = (0.0, 3.3, -8.0)
_CAMERA_TARGET = (0.0, 1.1, 0.0)
_VERTICAL_FOV_DEG = 36.0
_BACK_WALL_Z = 3.2
_SIDE_WALL_X = 6.5
_TO_LIGHT = tuple((np.array([-0.45, 0.9, -0.8]) / np.linalg.norm([-0.45, 0.9, -0.8])).tolist())
_AMBIENT = 0.45
_FAR = 1e6  # distance standing for "no hit" (world units)
# Object sizes at scale 1 (world units). Radius stands for the cube's half edge.
_RADIUS = (0.8, 0.8, 0.95, 0.65)  # cube, cylinder, sphere, capsule
_SPAN_LOW = (0.0, 0.0, 0.95, 0.65)  # heights spanned by the vertical side: from
_SPAN_HIGH = (0.0, 1.6, 0.95, 1.55)  # ... to (sphere and capsule: end-cap centres)
_RAYS_PER_CHUNK = 1 << 18  # rays cast per loop step: bounds memory, keeps data in cache

_FLOOR, _WALL, _OBJECT = 0, 1, 2  # surface indices, equal to the FoV columns of their hues
Vector = tuple  # (x, y, z): float32 arrays of one shape, or Python floats


class _Solid(NamedTuple):
    """The object of one scene, in world units."""

    radius: jax.Array  # the cube's half edge, else the radius of the round parts
    span_low: jax.Array  # heights spanned by the vertical side of upright solids
    span_high: jax.Array
    rounded: jax.Array  # bool: sphere or capsule (spherical ends instead of flat ones)
    is_cube: jax.Array  # bool


def _hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """HSV with saturation = value = 1 to RGB: [N] in [0, 1) -> [N, 3] in [0, 1]."""
    sextant = 6.0 * hue
    red = np.abs(sextant - 3.0) - 1.0
    green = 2.0 - np.abs(sextant - 2.0)
    blue = 2.0 - np.abs(sextant - 4.0)
    return np.clip(np.stack([red, green, blue], axis=-1), 0.0, 1.0).astype(np.float32)


def _camera_rays(supersample: int) -> np.ndarray:
    """Unit ray directions at orientation 0, float32 [3, S*S, 64, 64] (S = supersample)."""
    forward = np.subtract(_CAMERA_TARGET, _CAMERA_POSITION)
    forward /= np.linalg.norm(forward)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    up = np.cross(forward, right)
    sub_pixel = (np.arange(supersample) + 0.5) / supersample
    position = np.arange(IMAGE_SIZE)[None, :] + sub_pixel[:, None]  # [S, 64]
    coords = (position / IMAGE_SIZE * 2 - 1) * np.tan(np.deg2rad(_VERTICAL_FOV_DEG) / 2)
    horizontal = coords[None, :, None, :]  # [1, S (sub-column), 1, 64 (column)]
    vertical = coords[:, None, :, None]  # [S (sub-row), 1, 64 (row), 1]
    rays = (
        forward[:, None, None, None, None]
        + right[:, None, None, None, None] * horizontal
        - up[:, None, None, None, None] * vertical
    )
    rays = rays.reshape(3, supersample * supersample, IMAGE_SIZE, IMAGE_SIZE)
    return (rays / np.linalg.norm(rays, axis=0)).astype(np.float32)


def _dot(a: Vector, b: Vector) -> jax.Array:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _along(origin: Vector, direction: Vector, t: jax.Array) -> Vector:
    return tuple(o + t * d for o, d in zip(origin, direction, strict=True))


def _positive_or_far(t: jax.Array, hit: jax.Array) -> jax.Array:
    return jnp.where(hit & (t > 0), t, _FAR)


def _nonzero(x: jax.Array) -> jax.Array:
    """Moves divisors off 0 without changing their sign."""
    return jnp.where(jnp.abs(x) < 1e-9, 1e-9, x)


def _sphere(origin: Vector, direction: Vector, center_y, radius) -> jax.Array:
    """Distance along unit rays to the sphere at (0, center_y, 0); _FAR on a miss."""
    offset = (origin[0], origin[1] - center_y, origin[2])
    half_b = _dot(offset, direction)
    discriminant = half_b**2 - _dot(offset, offset) + radius**2
    t = -half_b - jnp.sqrt(jnp.maximum(discriminant, 0.0))
    return _positive_or_far(t, discriminant >= 0)


def _cube(origin: Vector, direction: Vector, half_edge) -> jax.Array:
    """Distance to the cube [-a, a] x [0, 2a] x [-a, a] (a = half_edge); _FAR on a miss."""
    t_near, t_far = -_FAR, _FAR
    for o, d, center in zip(origin, direction, (0.0, half_edge, 0.0), strict=True):
        inverse = 1.0 / _nonzero(d)
        t_low = (center - half_edge - o) * inverse
        t_high = (center + half_edge - o) * inverse
        t_near = jnp.maximum(t_near, jnp.minimum(t_low, t_high))
        t_far = jnp.minimum(t_far, jnp.maximum(t_low, t_high))
    return _positive_or_far(t_near, t_near <= t_far)


def _upright(origin: Vector, direction: Vector, radius, span_low, span_high, rounded):
    """Distance to an upright cylinder over heights [span_low, span_high], and top-cap hits.

    The ends are flat (cylinder) or, where `rounded`, spheres of the same radius
    (capsule; a sphere when the span is empty). Returns (distance, hit_flat_top).
    """
    a = _nonzero(direction[0] ** 2 + direction[2] ** 2)
    half_b = origin[0] * direction[0] + origin[2] * direction[2]
    discriminant = half_b**2 - a * (origin[0] ** 2 + origin[2] ** 2 - radius**2)
    t_side = (-half_b - jnp.sqrt(jnp.maximum(discriminant, 0.0))) / a
    y_side = origin[1] + t_side * direction[1]
    in_span = (discriminant >= 0) & (y_side >= span_low) & (y_side <= span_high)
    t_side = _positive_or_far(t_side, in_span)
    t_top = (span_high - origin[1]) / _nonzero(direction[1])
    x_top, _, z_top = _along(origin, direction, t_top)
    t_top = _positive_or_far(t_top, ~rounded & (x_top**2 + z_top**2 <= radius**2))
    t_ends = jnp.minimum(
        _sphere(origin, direction, span_low, radius), _sphere(origin, direction, span_high, radius)
    )
    t = jnp.minimum(jnp.minimum(t_side, t_top), jnp.where(rounded, t_ends, _FAR))
    return t, t_top <= t


def _intersect_object(origin: Vector, direction: Vector, solid: _Solid):
    """Distance to the object (_FAR on a miss), and whether a flat top was hit."""
    t_upright, hit_flat_top = _upright(
        origin, direction, solid.radius, solid.span_low, solid.span_high, solid.rounded
    )
    t_cube = _cube(origin, direction, solid.radius)
    return jnp.where(solid.is_cube, t_cube, t_upright), hit_flat_top


def _object_cosine(point: Vector, hit_flat_top: jax.Array, solid: _Solid) -> jax.Array:
    """Cosine between the object's outward normal at surface `point` and the light."""
    x, y, z = point
    axis_y = jnp.clip(y, solid.span_low, solid.span_high)  # nearest point on the solid's axis
    upright = (x, jnp.where(solid.rounded, y - axis_y, 0.0), z)
    upright = _dot(upright, _TO_LIGHT) / jnp.sqrt(_dot(upright, upright))
    upright = jnp.where(hit_flat_top & ~solid.rounded, _TO_LIGHT[1], upright)
    local = (x, y - solid.radius, z)  # cube normal: the axis its surface point is farthest along
    farthest = jnp.maximum(jnp.maximum(jnp.abs(x), jnp.abs(local[1])), jnp.abs(z))
    cube = sum(
        jnp.where(jnp.abs(q) >= farthest, jnp.sign(q) * light, 0.0)
        for q, light in zip(local, _TO_LIGHT, strict=True)
    )
    return jnp.where(solid.is_cube, cube, upright)


def _intersect_room(origin: Vector, direction: Vector):
    """Distance to the floor or walls, a floor mask, and their normal's cosine with the light."""
    t_floor = _positive_or_far(-origin[1] / _nonzero(direction[1]), direction[1] < 0)
    t_back = _positive_or_far((_BACK_WALL_Z - origin[2]) / _nonzero(direction[2]), direction[2] > 0)
    side_x = jnp.where(direction[0] > 0, _SIDE_WALL_X, -_SIDE_WALL_X)
    t_side = (side_x - origin[0]) / _nonzero(direction[0])
    on_floor = t_floor <= jnp.minimum(t_back, t_side)
    side_cosine = jnp.where(direction[0] > 0, -_TO_LIGHT[0], _TO_LIGHT[0])
    wall_cosine = jnp.where(t_back <= t_side, -_TO_LIGHT[2], side_cosine)
    cosine = jnp.where(on_floor, _TO_LIGHT[1], wall_cosine)
    return jnp.minimum(jnp.minimum(t_floor, t_back), t_side), on_floor, cosine


def _orbit(vector: Vector, cos: jax.Array, sin: jax.Array) -> Vector:
    """Rotates about the vertical axis by the angle whose cosine and sine are given."""
    x, y, z = vector
    return cos * x + sin * z, y, cos * z - sin * x


def _cast(factors: jax.Array, rays: jax.Array) -> jax.Array:
    """Ray-casts one scene: factors int [6], rays [3, R, 64, 64] -> packed float32 [R, 64, 64].

    Packed value: surface index (_FLOOR, _WALL or _OBJECT) + brightness / 2, with
    brightness in [0, 1]. One output lets XLA emit the ray cast as a single loop.
    """
    scale = jnp.asarray(SCALES, jnp.float32)[factors[3]]
    shape = factors[4]
    solid = _Solid(
        jnp.asarray(_RADIUS)[shape] * scale,
        jnp.asarray(_SPAN_LOW)[shape] * scale,
        jnp.asarray(_SPAN_HIGH)[shape] * scale,
        shape >= SHAPE_NAMES.index("sphere"),
        shape == SHAPE_NAMES.index("cube"),
    )
    angle = jnp.deg2rad(jnp.asarray(ORIENTATIONS_DEG, jnp.float32)[factors[5]])
    origin = _orbit(_CAMERA_POSITION, jnp.cos(angle), jnp.sin(angle))
    direction = _orbit(tuple(rays), jnp.cos(angle), jnp.sin(angle))

    t_room, on_floor, room_cosine = _intersect_room(origin, direction)
    t_object, hit_flat_top = _intersect_object(origin, direction, solid)
    on_object = t_object < t_room
    object_cosine = _object_cosine(_along(origin, direction, t_object), hit_flat_top, solid)
    # Only the object casts shadows, and a convex object never shades its own lit side.
    t_blocker, _ = _intersect_object(_along(origin, direction, t_room), _TO_LIGHT, solid)
    room_cosine = jnp.where(t_blocker < _FAR, 0.0, room_cosine)
    cosine = jnp.maximum(jnp.where(on_object, object_cosine, room_cosine), 0.0)
    brightness = _AMBIENT + (1.0 - _AMBIENT) * cosine
    surface = jnp.where(on_object, _OBJECT, jnp.where(on_floor, _FLOOR, _WALL))
    return surface + 0.5 * brightness


@partial(jax.jit, static_argnames="supersample")
def render(classes: jax.typing.ArrayLike, supersample: int = 1) -> jax.Array:
    """Renders Shapes3D-like scenes.

    Args:
      classes: int [B, 6], FoV indices in FACTOR_NAMES order, each in
        [0, FACTOR_SIZES[i]) (not checked: values are unknown under jit).
      supersample: rays per pixel along each axis (1: one ray through each
        pixel centre; 2: 2 x 2 rays averaged, anti-aliased, ~4x the work).

    Returns:
      float32 [B, 64, 64, 3], RGB in [0, 1].
    """
    classes = jnp.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"classes must be [B, {len(FACTOR_SIZES)}], got {classes.shape}")
    batch = classes.shape[0]
    rays = jnp.asarray(_camera_rays(supersample))
    # At least two loop steps: XLA would inline a single one and fuse the ray cast into
    # every colour channel of the output, recomputing it per channel.
    rays_per_scene = rays[0].size
    steps = max(2, math.ceil(batch * rays_per_scene / _RAYS_PER_CHUNK))
    chunk = math.ceil(batch / steps)
    padded = jnp.pad(classes, ((0, steps * chunk - batch), (0, 0)))
    packed = jax.lax.map(
        jax.vmap(partial(_cast, rays=rays)), padded.reshape(steps, chunk, len(FACTOR_SIZES))
    )
    packed = packed.reshape(steps * chunk, *packed.shape[2:])[:batch]
    surface = jnp.floor(packed)
    brightness = 2.0 * (packed - surface)
    hue_rgb = jnp.asarray(_hue_to_rgb(HUES))
    image = jnp.zeros((batch, IMAGE_SIZE, IMAGE_SIZE, 3), jnp.float32)
    for surface_index in (_FLOOR, _WALL, _OBJECT):
        weight = jnp.where(surface == surface_index, brightness, 0.0).mean(axis=1)
        colour = hue_rgb[classes[:, surface_index]]
        image += weight[..., None] * colour[:, None, None, :]
    return image
