"""The centre head for the engine path: BatchNorm folded, three branches as one grouped network.

`FoldedCenterHead` computes what `seatrack_ros.model.head.CenterHead` computes in eval mode (proven
equal in float64 to <= 1e-12 by test/test_collapsed.py):

- every BatchNorm (running statistics) is folded into the convolution before it, in float64, and the
  result rounded once to the weights' dtype, before any half-precision cast;
- the three branches' first convolutions read the same features, so they are one convolution with
  3 x 256 output channels; the later layers read disjoint channel thirds, so each is one grouped
  convolution (groups=3) instead of three; the last 1x1 convolutions become one grouped convolution
  with two outputs per branch (the score branch's second output is a zero filter, discarded);
- weights are channels-last, the layout of the backbone's tokens viewed as a feature map.

Branch order in the merged channels: score (ctr), size, offset.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.head import CLAMP_HIGH, CLAMP_LOW, CenterHead

BRANCHES = ("ctr", "size", "offset")


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) in float64 of ``bn(conv(x))`` as one convolution (eval-mode statistics)."""
    scale = bn.weight.to(torch.float64) / torch.sqrt(bn.running_var.to(torch.float64) + bn.eps)
    weight = conv.weight.to(torch.float64) * scale[:, None, None, None]
    bias = conv.bias.to(torch.float64) if conv.bias is not None else torch.zeros_like(scale)
    return weight, (bias - bn.running_mean.to(torch.float64)) * scale + bn.bias.to(torch.float64)


def _conv(weight: torch.Tensor, bias: torch.Tensor, groups: int, dtype: torch.dtype) -> nn.Conv2d:
    out_ch, in_per_group, kh, kw = weight.shape
    conv = nn.Conv2d(in_per_group * groups, out_ch, (kh, kw), padding=kh // 2, groups=groups)
    with torch.no_grad():
        conv.weight = nn.Parameter(weight.to(dtype).contiguous(memory_format=torch.channels_last))
        conv.bias = nn.Parameter(bias.to(dtype))
    return conv


class FoldedCenterHead(nn.Module):
    """`CenterHead` folded and merged (see module docstring); same forward and outputs.

    ``conv5_ctr``, ``conv5_size`` and ``conv5_offset`` all name the one merged output convolution, so the
    half precision policy, which keeps those three float32, keeps it float32.
    """

    def __init__(self, head: CenterHead) -> None:
        super().__init__()
        self.feat_size = head.feat_size
        dtype = head.conv5_ctr.weight.dtype
        with torch.no_grad():
            layers = []
            for i in range(1, 5):
                folded = [fold_conv_bn(*getattr(head, f"conv{i}_{name}")[:2]) for name in BRANCHES]
                weight = torch.cat([w for w, _ in folded])
                bias = torch.cat([b for _, b in folded])
                layers.append(_conv(weight, bias, 1 if i == 1 else len(BRANCHES), dtype))
            last = [getattr(head, f"conv5_{name}") for name in BRANCHES]
            width = last[0].weight.shape[1]
            device = last[0].weight.device
            weight = torch.zeros(2 * len(BRANCHES), width, 1, 1, dtype=torch.float64, device=device)
            bias = torch.zeros(2 * len(BRANCHES), dtype=torch.float64, device=device)
            for i, conv in enumerate(last):
                out_ch = conv.weight.shape[0]
                weight[2 * i : 2 * i + out_ch] = conv.weight.to(torch.float64)
                bias[2 * i : 2 * i + out_ch] = conv.bias.to(torch.float64)
        self.convs = nn.ModuleList(layers)
        self.relu = nn.ReLU(inplace=True)
        self.conv5_ctr = _conv(weight, bias, len(BRANCHES), dtype)
        self.conv5_size = self.conv5_ctr
        self.conv5_offset = self.conv5_ctr

    def maps(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, dim, F, F) -> (B, 6, F, F) channels-last: [score, unused, size w, size h,
        offset x, offset y], the first four squashed by `clamped_sigmoid` in place (the same two
        operators, sigmoid then clamp), so one gather at a cell reads all of them."""
        x = features
        for conv in self.convs:
            x = self.relu(conv(x))
        out = self.conv5_ctr(x)
        out[:, :4].sigmoid_().clamp_(min=CLAMP_LOW, max=CLAMP_HIGH)
        return out

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features (B, dim, F, F) -> score_map (B,1,F,F), size_map (B,2,F,F), offset_map (B,2,F,F)
        (views of `maps`)."""
        out = self.maps(features)
        return out[:, 0:1], out[:, 2:4], out[:, 4:6]
