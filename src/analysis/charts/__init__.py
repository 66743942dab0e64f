"""Altair chart builders: one pure `chart_<name>(result) -> alt.Chart` per chart, one module per question.

Each module `analysis.charts.qN` lists its builders in `CHARTS`, in the order a page shows them.
Encodings are given as channel objects (`x=alt.X("date:T")`, `alt.XValue(0)`), not as shorthand strings
or dicts: altair turns each string or dict into a channel with `from_dict`, which builds its table of
every schema class anew each time (about 3 ms; the same spec). `alt.condition(...)` is still a dict.
"""

from __future__ import annotations

import importlib

import altair as alt

from analysis.results import QuestionResult


def charts_for(result: QuestionResult) -> list[alt.TopLevelMixin]:
    module = importlib.import_module(f"analysis.charts.q{result.number}")
    return [builder(result) for builder in module.CHARTS]
