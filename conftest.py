"""Root pytest configuration: the nbval regression plugin (tests/nbregression.py) for the chapters."""

pytest_plugins = ["tests.nbregression"]
