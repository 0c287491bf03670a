"""Image sizes of the progressive stages (4, 8, 16, ...); free of torch so the cohort commands stay light."""

from __future__ import annotations

import re

SMALLEST_SIZE = 4
STAGE_FILE_PATTERN = re.compile(r"Real(\d+)x\1\.nii\.gz")


def stage_size(stage: int) -> int:
    """Image side length at a stage: 4 * 2**stage."""
    return SMALLEST_SIZE * 2**stage


def is_stage_size(size: int) -> bool:
    """True for 4, 8, 16, ...: the sizes progressive training has a stage for."""
    return size >= SMALLEST_SIZE and size & (size - 1) == 0


def stage_file_name(size: int) -> str:
    """`Real{S}x{S}.nii.gz`, the stack name `pacgan train` and the published code look for."""
    return f"Real{size}x{size}.nii.gz"


def size_to_stage(size: int) -> int:
    """Inverse of `stage_size`; raises ValueError for sizes that are not 4 * 2**k."""
    if not is_stage_size(size):
        raise ValueError(f"image size {size} is not a power of two of at least 4")
    return size.bit_length() - 3
