"""`pacgan evaluate`: synthetic images measured against real ones, written as metrics.json and report.md.

`evaluate.py` holds the one entry point (`evaluate`, and `generate_and_evaluate` for the end of a training
run), `inputs.py` reads and checks the image sets, `registry.py` names the metrics, one module per metric
declares what it needs, computes and renders, and `report.py` writes the Markdown around them. This file
imports nothing, so that the command line can read the registry without loading torch.
"""
