"""The one compiled part: the deterministic-CBOR check (transport/_cbor_check.c).

Everything else is declared in pyproject.toml.  The extension is optional: without a C
compiler the install still succeeds and transport.canonical uses its reference path
alone (slower, same decisions); the test suite reports that the check is missing.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "transport._cbor_check",
            ["transport/_cbor_check.c"],
            extra_compile_args=["-Wall", "-Wextra"],
            optional=True,
        )
    ]
)
