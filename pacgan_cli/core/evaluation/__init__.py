"""`pacgan evaluate`: synthetic images measured against real ones, written as metrics.json and report.md.

`evaluate.py` holds the entry points (`evaluate_files` for the command, `evaluate` on image sets already read,
and `generate_and_evaluate` for the end of a training run, which `end_of_run.py` calls), `inputs.py` reads and
checks the image sets, `registry.py` names the metrics, one module per metric
declares what it needs, computes and renders, and `report.py` writes the Markdown around them. This file
imports nothing, so that the command line can read the registry without loading torch.
"""
