"""Companion library of the book: data models, two-layer networks, gradient flow, KKT diagnostics, robustness."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("implicit-bias")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
