"""Builds the optional C accelerator; everything else about the package is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # Optional: without a C compiler the install goes on and alerting.labels hashes in Python.
        Extension("alerting._labels", ["alerting/_labels.c"], optional=True),
        # Likewise: without it, alerting.gojson encodes messages in Python.
        Extension("alerting._gojson", ["alerting/_gojson.c"], optional=True),
    ],
)
