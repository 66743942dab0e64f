"""Publishing: the site (site.py), the slide (slide.py) and the email (email.py) from one report.

summary.py computes what the slide, the email and the summary page share (lead finding, bullets, chart,
footer, notes, key numbers) once; they only lay it out (slide.py and email.py never import each other).

render.py runs the .qmd sources (Quarto, or jupytext -> nbclient -> nbconvert -> pandoc) and swaps the
outputs in; pages.py is what the .qmd cells display; privacy.py masks what a public build shows.
"""
