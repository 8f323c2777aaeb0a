"""Sphinx configuration of fastprop's API reference, built from the docstrings.

Build (as .ci/run does, warnings as errors):

    python -m sphinx -W --keep-going -b html docs/api docs/api/_build/html

Needs the `docs` extra (sphinx, numpydoc); no network access.
"""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import fastprop  # noqa: E402

project = "fastprop"
author = "fastprop developers"
release = fastprop.__version__
version = release

extensions = ["sphinx.ext.autodoc", "numpydoc"]

root_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []

# Signatures show the type hints; the numpydoc sections describe every argument.
autodoc_typehints = "signature"
autodoc_member_order = "bysource"


# Members are documented by autodoc's :members:, not by numpydoc's autosummary tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Every documented callable must describe each of its parameters (PR01, PR02), in
# the section order numpydoc expects (GL07); a numpydoc validation failure is a
# warning, which -W makes an error.
numpydoc_validation_checks = {"PR01", "PR02", "GL07"}
