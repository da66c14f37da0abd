"""Centre head (OSTrack's CENTER predictor): score, size and offset maps on the 16x16 search grid."""

from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def _branch(in_ch: int, channel: int, out_ch: int) -> list[nn.Module]:
    widths = [in_ch, channel, channel // 2, channel // 4, channel // 8]
    layers: list[nn.Module] = [_conv_bn_relu(widths[i], widths[i + 1]) for i in range(4)]
    layers.append(nn.Conv2d(widths[-1], out_ch, kernel_size=1))
    return layers


class CenterHead(nn.Module):
    """Three conv branches (ctr, offset, size), each 4 x [Conv3x3+BN+ReLU] then a 1x1 conv.

    features: (B, dim, 16, 16) -> score_map (B,1,16,16) and size_map (B,2,16,16), both sigmoids clamped
    to [1e-4, 1-1e-4]; offset_map (B,2,16,16) raw sub-cell (x, y) offsets.
    """

    def __init__(self, in_channels: int = 768, channel: int = 256, feat_size: int = 16) -> None:
        super().__init__()
        self.feat_size = feat_size
        for name, out_ch in (("ctr", 1), ("offset", 2), ("size", 2)):
            for i, layer in enumerate(_branch(in_channels, channel, out_ch), start=1):
                setattr(self, f"conv{i}_{name}", layer)

    def _run(self, name: str, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"conv{i}_{name}")(x)
        return x

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        score_map = clamped_sigmoid(self._run("ctr", features))
        size_map = clamped_sigmoid(self._run("size", features))
        offset_map = self._run("offset", features)
        return score_map, size_map, offset_map


CLAMP_LOW, CLAMP_HIGH = 1e-4, 1 - 1e-4  # the score and size maps' range after the sigmoid


def clamped_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x.sigmoid(), min=CLAMP_LOW, max=CLAMP_HIGH)


def decode_box(
    score_map: torch.Tensor, size_map: torch.Tensor, offset_map: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Box at the peak of ``score_map``.

    score_map (B,1,F,F), size_map (B,2,F,F), offset_map (B,2,F,F) -> boxes (B,4) as normalised
    (cx, cy, w, h) in search-crop units, ``cx = (ix + off_x) / F``; the peak values (B,) and the flat
    peak indices ``iy * F + ix`` (B,).
    """
    feat = score_map.shape[-1]
    peak, index = torch.max(score_map.flatten(1), dim=1, keepdim=True)  # (B,1)
    iy = torch.div(index, feat, rounding_mode="floor")
    ix = index % feat
    gather = index.unsqueeze(1).expand(-1, 2, 1)
    size = size_map.flatten(2).gather(2, gather).squeeze(-1)  # (B,2)
    offset = offset_map.flatten(2).gather(2, gather).squeeze(-1)  # (B,2)
    cx = (ix.to(offset.dtype) + offset[:, :1]) / feat
    cy = (iy.to(offset.dtype) + offset[:, 1:]) / feat
    return torch.cat([cx, cy, size], dim=1), peak.squeeze(1), index.squeeze(1)
