"""The numerical side of the metrics, on plain arrays: FID/KID, SSIM, memorisation, artifacts, classification,
and the report's figures. What `pacgan evaluate` offers, and how each appears in a report, is
`pacgan_cli.core.evaluation`."""

# How images are resized to 299 for InceptionV3. antialias: the torchmetrics >= 1.8 default; legacy:
# TF1-compatible bilinear without antialiasing (torch-fidelity, and torchmetrics 0.11 as used for the
# published numbers).
RESIZE_MODES = ("antialias", "legacy")
