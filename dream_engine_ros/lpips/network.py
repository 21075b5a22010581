"""LPIPS v0.1 with the AlexNet trunk (Zhang et al. 2018), forward pass in plain torch.

d(x0, x1) = sum over the five ReLU outputs l of mean_hw( w_l . (f0_l - f1_l)^2 ), where f_l are
the trunk's activations unit-normalised along channels (eps 1e-10) and w_l the learned
non-negative v0.1 heads. Inputs are scaled to [-1, 1] and then by the fixed "scaling layer"
(shift/scale below), as the reference implementation does. No resizing: frames are scored at
their own size (at least 32 x 32, so the last maxpool keeps one cell).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# (stride, padding, maxpool before this conv) of AlexNet's five convolutions.
CONV_LAYOUT: tuple[tuple[int, int, bool], ...] = (
    (4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False),
)
MIN_SIZE = 32
EPS = 1e-10


class AlexLpips:
    """The network as frozen tensors; call ``distance`` on [-1, 1] images (N, 3, H, W)."""

    def __init__(self, tensors: dict[str, torch.Tensor], device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.w = {k: v.to(self.device, torch.float32) for k, v in tensors.items()}
        self.shift = torch.tensor(SHIFT, device=self.device).view(1, 3, 1, 1)
        self.scale = torch.tensor(SCALE, device=self.device).view(1, 3, 1, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.shift) / self.scale
        out = []
        for i, (stride, pad, pool_first) in enumerate(CONV_LAYOUT):
            if pool_first:
                h = F.max_pool2d(h, kernel_size=3, stride=2)
            h = F.relu(F.conv2d(h, self.w[f"conv{i}.weight"], self.w[f"conv{i}.bias"], stride=stride, padding=pad))
            out.append(h)
        return out

    @torch.inference_mode()
    def distance(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """(N,) LPIPS distances of two [-1, 1] batches; one trunk pass over both."""
        if x0.shape != x1.shape or x0.ndim != 4 or x0.shape[1] != 3:
            raise ValueError(f"lpips: expected two (N, 3, H, W) batches of one shape, got {tuple(x0.shape)} "
                             f"and {tuple(x1.shape)}")
        if min(x0.shape[-2:]) < MIN_SIZE:
            raise ValueError(f"lpips: frames {tuple(x0.shape[-2:])} are smaller than {MIN_SIZE}x{MIN_SIZE}")
        n = x0.shape[0]
        feats = self.features(torch.cat([x0, x1]).to(self.device, torch.float32))
        total = torch.zeros(n, device=self.device)
        for i, f in enumerate(feats):
            f = f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + EPS)
            diff = (f[:n] - f[n:]) ** 2
            total += F.conv2d(diff, self.w[f"lin{i}.weight"]).mean(dim=(1, 2, 3))
        return total.cpu()

    def images(self, a: np.ndarray, b: np.ndarray, batch: int = 16) -> list[float]:
        """Per-image LPIPS of two (N, H, W, 3) uint8 arrays, in batches of `batch`."""
        if a.shape != b.shape or a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8 or b.dtype != np.uint8:
            raise ValueError(f"lpips: expected two uint8 (N, H, W, 3) arrays of one shape, got {a.shape} {a.dtype} "
                             f"and {b.shape} {b.dtype}")
        out: list[float] = []
        for i in range(0, a.shape[0], batch):
            x0, x1 = (torch.from_numpy(np.ascontiguousarray(v[i:i + batch])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
                      for v in (a, b))
            out.extend(float(d) for d in self.distance(x0, x1))
        return out
