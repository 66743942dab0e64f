"""curriculum-insights: curriculum access logs -> answers to leadership's eight questions."""

__version__ = "0.1.0"
