"""Quality studies: what a setting does to the images and the classifiers, measured on small real data sets.

One package per study, each a script (`python -m experiments.<study>.run`) and its results (JSON) beside it;
the tables and what they say are in docs/*.md. Speed and memory are measured in benchmarks/ instead.
"""
