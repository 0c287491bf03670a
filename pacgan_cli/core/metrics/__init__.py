"""Image and classifier metrics. `METRIC_NAMES` lists what `pacgan evaluate --metrics` offers, without
importing torch (the registry of functions is `pacgan_cli.core.evaluate.METRICS`, keyed by these names)."""

METRIC_NAMES = ("fid", "kid", "ssim", "memorisation", "classification")
