"""Command-line options every tool spells the same way (ROS-free, torch-free).

One spelling of the LoRA convention: ``--lora-merged true|false`` (the node's parameter is
``lora_merged``). The spellings of earlier releases, ``--lora merged|unmerged`` (seatrack-run) and
``--no-lora-merged`` / a bare ``--lora-merged`` (seatrack-bench), still work for one release and print
a deprecation warning.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional

from .errors import ConfigError


def _bool_text(text: str) -> bool:
    from .model.build import parse_bool

    try:
        return parse_bool(text, "--lora-merged")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_lora_merged_option(group, help_suffix: str = "") -> None:
    """``--lora-merged true|false`` plus the deprecated aliases (all land in ``args.lora_merged``)."""
    group.add_argument(
        "--lora-merged",
        type=_bool_text,
        nargs="?",
        const="true",
        default=None,
        metavar="{true,false}",
        help="the checkpoint's LoRA convention: true when its qkv weights already hold the LoRA update "
        "(the released RGB-T and RGB-D files), false for base weights (the released RGB-E file)"
        + help_suffix,
    )
    group.add_argument(
        "--lora", choices=("merged", "unmerged"), dest="deprecated_lora", default=None, help=argparse.SUPPRESS
    )
    group.add_argument(
        "--no-lora-merged", action="store_true", dest="deprecated_no_lora_merged", help=argparse.SUPPRESS
    )


def resolve_lora_merged(
    args: argparse.Namespace, prog: str, warn: Callable[[str], None] | None = None
) -> Optional[bool]:
    """``args.lora_merged`` after folding in the deprecated aliases (each warns once); None if not given."""
    warn = warn or (lambda text: print(text, file=sys.stderr))
    value = args.lora_merged
    if getattr(args, "deprecated_lora", None) is not None:
        warn(
            f"{prog}: --lora {args.deprecated_lora} is deprecated; use --lora-merged "
            f"{'true' if args.deprecated_lora == 'merged' else 'false'}"
        )
        value = args.deprecated_lora == "merged"
    if getattr(args, "deprecated_no_lora_merged", False):
        warn(f"{prog}: --no-lora-merged is deprecated; use --lora-merged false")
        value = False
    args.lora_merged = value
    return value
