"""Image and classifier metrics. `METRIC_NAMES` lists what `pacgan evaluate --metrics` offers, without
importing torch (the registry of functions is `pacgan_cli.core.evaluate.METRICS`, keyed by these names)."""

METRIC_NAMES = ("fid", "kid", "ssim", "memorisation", "artifacts", "classification")

# How images are resized to 299 for InceptionV3. antialias: the torchmetrics >= 1.8 default; legacy:
# TF1-compatible bilinear without antialiasing (torch-fidelity, and torchmetrics 0.11 as used for the
# published numbers).
RESIZE_MODES = ("antialias", "legacy")
