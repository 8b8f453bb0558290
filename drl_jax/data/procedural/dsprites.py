"""Procedural dSprites: the square, ellipse and heart sprites on the dSprites FoV grid.

`render` draws binary 64 x 64 images for dSprites classes (shape, scale, orientation, pos_x,
pos_y) with the geometry of the real dataset, measured on 20,000 real images (pixels, y down,
pixel j spanning [j, j + 1)):
- The sprite's reference point sits at 16 + 32 * pos pixels (pos in [0, 1]); pos_x moves it
  along columns, pos_y along rows. Sizes scale about that point by the scale value (0.5..1.0).
- Orientation turns the sprite counter-clockwise as seen on screen about the same point, by
  the angle itself: squares and ellipses are not folded onto their symmetry periods, as in the
  real data, so their images nearly repeat every 10 (square) or 20 (ellipse) orientation
  classes, and classes 0 and 39 (0 and 2 pi) give identical images for every shape.
- Pixels are point-sampled at their centres, as the real rasteriser does (no antialiasing).
- Square side 19.2 px; ellipse semi-axes 12.76 x 7.22 px (long axis horizontal at
  orientation 0); heart pointing down at orientation 0, its outline a star-shaped polygon of
  48 vertices fitted to the real silhouette (mirror-symmetric).

IoU of the foreground with the real image at the same classes (all 20,000 subset images):
square 0.9997, ellipse 0.9993, heart 0.9964, mean 0.9985; 83% of images are identical.
Residual differences, in pixels per image:
- heart 0.48 on average (at most 5), growing with scale: the 48-gon only approximates the
  real curved outline, so pixel centres very near it fall either way;
- ellipse 0.11 (at most 2): pixel centres within a few hundredths of a pixel of the outline,
  where the real ellipse (other axes by a hair, or a polygon) and ours disagree;
- square 0.05, but a handful of images lose a whole row or column (IoU down to 0.84): pixel
  centres within 0.002 px of an edge (e.g. scale 0.6 at pos_x class 23), which the real
  rasteriser rounds the other way.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from drl_jax.data.ground_truth import IMAGE_SIZE

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)

# Geometry in pixels at scale 1.0; sprites are scaled by the scale value (0.5..1.0).
POSITION_ORIGIN = 16.0  # centre at pos 0 (pixels from the image's top-left corner)
POSITION_SPAN = 32.0  # pixels between pos 0 and pos 1
SQUARE_HALF_SIDE = 9.6
ELLIPSE_SEMI_AXES = (12.76, 7.22)  # along x and y at orientation 0
# Heart outline: a mirror-symmetric star-shaped polygon of 48 vertices about (0, HEART_CENTRE_Y).
# HEART_RADII are the distances of its right-half vertices, at angles -90 (the notch, straight up)
# to +90 degrees (the tip, straight down) in 7.5 degree steps from +x towards +y (y down).
HEART_CENTRE_Y = -1.0
HEART_RADII = (
    4.27, 6.17, 7.68, 8.84, 9.65, 10.22, 10.51, 10.65, 10.57, 10.33, 9.95, 9.38, 8.79, 8.16,
    7.64, 7.21, 6.91, 6.72, 6.64, 6.67, 6.81, 7.12, 7.65, 8.48, 10.37
)  # fmt: skip


def _heart_edges() -> tuple[np.ndarray, np.ndarray]:
    """Right-half heart polygon as per-sector edge lines and sector bounds.

    Returns:
      edges: float32 [24, 3] (a, b, c): a point (x >= 0, y) of sector k is inside iff
        a * y - b * x >= c (pixels at scale 1, y down).
      bounds: float32 [23] pseudo-angles (see `_inside_heart`) of the inner vertices, increasing.
    """
    angle = np.linspace(-np.pi / 2, np.pi / 2, len(HEART_RADII))
    direction_x, direction_y = np.cos(angle), np.sin(angle)
    vertex_x = np.asarray(HEART_RADII) * direction_x
    vertex_y = HEART_CENTRE_Y + np.asarray(HEART_RADII) * direction_y
    edge_x, edge_y = np.diff(vertex_x), np.diff(vertex_y)
    offset = edge_x * vertex_y[:-1] - edge_y * vertex_x[:-1]
    edges = np.stack([edge_x, edge_y, offset], -1).astype(np.float32)
    bounds = direction_y / (direction_x + np.abs(direction_y))
    return edges, bounds[1:-1].astype(np.float32)


_HEART_EDGES, _HEART_SECTOR_BOUNDS = _heart_edges()


def _inside_square(x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.maximum(jnp.abs(x), jnp.abs(y)) <= SQUARE_HALF_SIDE


def _inside_ellipse(x: jax.Array, y: jax.Array) -> jax.Array:
    semi_x, semi_y = ELLIPSE_SEMI_AXES
    return (x / semi_x) ** 2 + (y / semi_y) ** 2 <= 1.0


def _inside_heart(x: jax.Array, y: jax.Array) -> jax.Array:
    """Star-polygon test on the mirrored point: inside the edge of the sector it falls in."""
    x = jnp.abs(x)
    from_centre_y = y - HEART_CENTRE_Y
    # Monotone in the angle from +x on [-90, 90] degrees, so it orders sectors; cheaper than atan2.
    pseudo_angle = from_centre_y / jnp.maximum(x + jnp.abs(from_centre_y), 1e-6)
    sector = jnp.searchsorted(_HEART_SECTOR_BOUNDS, pseudo_angle, method="compare_all")
    edge = jnp.asarray(_HEART_EDGES)[sector]
    return edge[..., 0] * y - edge[..., 1] * x >= edge[..., 2]


@jax.jit
def render(classes: jax.typing.ArrayLike) -> jax.Array:
    """Renders dSprites images from FoV classes.

    Args:
      classes: int [B, 5] class indices in FACTOR_NAMES order: shape (0 square, 1 ellipse,
        2 heart), scale (6 values linspace(0.5, 1, 6)), orientation (40 angles
        linspace(0, 2 pi, 40), radians), pos_x and pos_y (32 values linspace(0, 1, 32)).
        Indices must lie in range; they are not checked inside jit.

    Returns:
      float32 [B, 64, 64, 1], 1 on the sprite and 0 elsewhere; rows run down (pos_y),
      columns right (pos_x).
    """
    classes = jnp.asarray(classes)
    if classes.ndim != 2 or classes.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"classes must be [B, {len(FACTOR_SIZES)}], got {classes.shape}")
    shape, scale_class, orientation_class, pos_x_class, pos_y_class = (
        classes[:, i, None, None] for i in range(len(FACTOR_SIZES))
    )
    scale = 0.5 + 0.5 * scale_class / (FACTOR_SIZES[1] - 1)
    # Class 39 is 2 pi, class 0's turn: taken mod 39 so both give identical images, as in the
    # real data, whatever the float rounding of sin(2 pi).
    angle = 2 * math.pi * (orientation_class % (FACTOR_SIZES[2] - 1)) / (FACTOR_SIZES[2] - 1)
    centre_x = POSITION_ORIGIN + POSITION_SPAN * pos_x_class / (FACTOR_SIZES[3] - 1)
    centre_y = POSITION_ORIGIN + POSITION_SPAN * pos_y_class / (FACTOR_SIZES[4] - 1)

    pixel_centres = jnp.arange(IMAGE_SIZE, dtype=jnp.float32) + 0.5
    offset_x = pixel_centres[None, None, :] - centre_x  # [B, 1, W]
    offset_y = pixel_centres[None, :, None] - centre_y  # [B, H, 1]
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    # Undo the sprite's on-screen counter-clockwise turn and its scale: sprite frame, [B, H, W].
    x = (cos * offset_x - sin * offset_y) / scale
    y = (sin * offset_x + cos * offset_y) / scale

    inside = jnp.select(
        [shape == 0, shape == 1],
        [_inside_square(x, y), _inside_ellipse(x, y)],
        _inside_heart(x, y),
    )
    return inside.astype(jnp.float32)[..., None]
