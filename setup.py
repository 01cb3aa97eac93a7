"""The one compiled module of the package; everything else is in pyproject.toml.

``hmi.bus.broker._tapc``: the broker tap's per-message work in C (hmi/bus/broker/tapc.py
says why). Optional: where it cannot be built (no C compiler), the install goes on and the
broker does the same work in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hmi.bus.broker._tapc",
            sources=["hmi/bus/broker/_tapc.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
