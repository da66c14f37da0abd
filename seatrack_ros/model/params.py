"""Parameter report: total and trainable-by-design parameter counts."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .checkpoint import is_peft_key


@dataclass(frozen=True)
class ParameterReport:
    total: int
    trainable_by_design: int
    lora: int
    hmoe: int
    guidance_scalars: int

    def __str__(self) -> str:
        return (
            f"parameters: {self.total / 1e6:.2f}M total, {self.trainable_by_design / 1e6:.2f}M trainable by "
            f"design ({self.trainable_by_design:,}: LoRA {self.lora:,}, HMoE {self.hmoe:,}, "
            f"guidance scalars {self.guidance_scalars:,})"
        )


def count_parameters(model: nn.Module) -> ParameterReport:
    """Count parameters; "trainable by design" = LoRA, HMoE and the guidance scalars (PEFT training)."""
    total = lora = hmoe = scalars = 0
    for name, param in model.named_parameters():
        n = param.numel()
        total += n
        if not is_peft_key(name):
            continue
        if "moe" in name:
            hmoe += n
        elif "scaling" in name:
            scalars += n
        else:
            lora += n
    return ParameterReport(total, lora + hmoe + scalars, lora, hmoe, scalars)


def main() -> None:
    from .build import build_seatrack

    print(count_parameters(build_seatrack()))


if __name__ == "__main__":
    main()
