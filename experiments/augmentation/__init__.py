"""augment none vs diffaugment vs ada on two small data sets: `run.py`, `results/`, docs/augmentation.md."""
