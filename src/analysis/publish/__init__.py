"""Publishing: the site (site.py), the slide (slide.py) and the email (email.py) from one report.

render.py runs the .qmd sources (Quarto, or jupytext -> nbclient -> nbconvert -> pandoc) and swaps the
outputs in; pages.py is what the .qmd cells display; privacy.py masks what a public build shows.
"""
