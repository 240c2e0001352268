"""A worked example for skship's type handlers (docs: "Supporting your own types").

Kept empty on purpose: skship imports ``skship_plugin_example._skship`` to learn which
types the handler covers, and that should not import scikit-learn.
"""
