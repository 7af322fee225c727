"""Reference data shipped with the project (package data, read with ``importlib.resources``).

A package, not a plain folder, so that setuptools ships the CSV files with the wheel. See ``README.md`` here
for the sources and the licence.
"""
