"""The scene's fixed pinhole camera, as plain matrices.

Why our own matrices (not PyBullet's helpers): the same numbers render the frame and project the
simulator's ground truth into it, so a test can hold the pixel reader to the true cube position
without a renderer in the loop. Conventions are OpenGL's (the ones PyBullet's renderers take):
a right-handed view looking down -z, clip space in [-1, 1], and image row 0 at the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """A square camera looking from `eye` at `target` with z up."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_deg: float
    size: int = 96
    near: float = 0.05
    far: float = 5.0

    def view_matrix(self) -> np.ndarray:
        """World -> camera (4, 4), row-major."""
        eye, target = np.asarray(self.eye, np.float64), np.asarray(self.target, np.float64)
        forward = target - eye
        forward /= np.linalg.norm(forward)
        side = np.cross(forward, np.array([0.0, 0.0, 1.0]))
        side /= np.linalg.norm(side)
        up = np.cross(side, forward)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = side, up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view

    def projection_matrix(self) -> np.ndarray:
        """Camera -> clip (4, 4), row-major; aspect 1."""
        f = 1.0 / np.tan(np.radians(self.fov_deg) / 2.0)
        n, far = self.near, self.far
        return np.array([[f, 0.0, 0.0, 0.0],
                         [0.0, f, 0.0, 0.0],
                         [0.0, 0.0, (far + n) / (n - far), 2.0 * far * n / (n - far)],
                         [0.0, 0.0, -1.0, 0.0]])

    def gl_matrices(self) -> tuple[list[float], list[float]]:
        """View and projection as the column-major 16-lists `getCameraImage` takes."""
        return ([float(v) for v in self.view_matrix().T.ravel()],
                [float(v) for v in self.projection_matrix().T.ravel()])

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> pixel coordinates (..., 2) as (column, row), pixel centres at +0.5."""
        pts = np.asarray(points, np.float64)
        homogeneous = np.concatenate([pts, np.ones((*pts.shape[:-1], 1))], axis=-1)
        clip = homogeneous @ (self.projection_matrix() @ self.view_matrix()).T
        ndc = clip[..., :2] / clip[..., 3:4]
        return np.stack([(ndc[..., 0] + 1.0) * 0.5 * self.size, (1.0 - ndc[..., 1]) * 0.5 * self.size], axis=-1)


DEFAULT_CAMERA = Camera(eye=(0.3, 0.42, 0.8), target=(-0.1, 0.0, 0.0), fov_deg=44.0)
"""Above the table's corner, looking down at about 50 degrees across the pushing area towards the arm:
the hand, the forearm, the whole area the hand may reach and two of the table's edges are in view. A view
this steep leaves the cube in sight most of the time; the hand still hides it while it pushes the cube
away from the camera."""
