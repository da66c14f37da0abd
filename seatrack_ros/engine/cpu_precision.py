"""Which precision the network runs in on a CPU: float32, or bfloat16 where the CPU has native bfloat16
matrix units.

bfloat16 pays off only on CPUs that multiply bfloat16 matrices natively: Intel AMX tiles (Sapphire Rapids
and later) or the AVX512-BF16 instructions (Cooper Lake, Zen 4 and later). Elsewhere oneDNN emulates it,
which is slower than float32, so ``auto`` picks bfloat16 only where one of them is present and says why.
The float32 islands of the half policy (`seatrack_ros.engine.precision.apply_half_policy`) apply: HMoE
routing, the attention softmax (inside the fused kernel), the head's last convolutions and the score
sigmoid run in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PRECISIONS = ("auto", "float32", "bfloat16")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class PrecisionChoice:
    """What runs (``name`` float32 or bfloat16, its ``dtype``) and why (``reason``, for the log)."""

    name: str
    reason: str

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.name]


def native_bf16_units() -> list[str]:
    """The CPU's native bfloat16 matrix units PyTorch detects: "AMX", "AVX512-BF16" (empty if none)."""
    units = []
    probes = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
    for name, probe in probes:
        check = getattr(torch.cpu, probe, None)  # private probes; absent in older torch: treated as no
        try:
            if check is not None and check():
                units.append(name)
        except RuntimeError:
            pass
    return units


def choose_cpu_precision(requested: str, units: list[str] | None = None) -> PrecisionChoice:
    """Resolve a ``precision`` setting (auto, float32, bfloat16) for the CPU.

    ``units``: the native bfloat16 units (default: detected). An explicit bfloat16 on a CPU without them
    runs (emulated, slower) and the reason says so. Raises ValueError for another setting.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    units = native_bf16_units() if units is None else units
    have = ", ".join(units)
    if requested == "float32":
        return PrecisionChoice("float32", "float32 as asked")
    if requested == "bfloat16":
        if units:
            return PrecisionChoice("bfloat16", f"bfloat16 as asked, native on this CPU ({have})")
        return PrecisionChoice("bfloat16", "bfloat16 as asked, but this CPU has no native bfloat16 units "
                                           "(AMX or AVX512-BF16): emulated, likely slower than float32")
    if units:
        return PrecisionChoice("bfloat16", f"auto: bfloat16, this CPU has native bfloat16 units ({have})")
    return PrecisionChoice("float32", "auto: float32, this CPU has no native bfloat16 units (AMX or AVX512-BF16)")
