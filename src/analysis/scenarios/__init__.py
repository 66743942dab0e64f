"""Scenarios: simulated logs with ground-truth labels, and the evaluation of the answers against them."""
