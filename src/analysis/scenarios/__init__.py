"""Scenarios: simulated logs with ground-truth labels, and the evaluation of the answers against them.

A package of its own beside the product code (only the CLI imports it). `simulate.simulate` writes a
scenario's files; `library` holds the scenarios, `calendar`, `curriculum`, `population`, `injections`,
`sessions` and `writer` the simulator's parts; `evaluate` scores the analysis on a simulated log.
"""
