"""Files the commands need at run time, shipped inside the package (`importlib.resources`).

The locustfiles, simulator profiles and edge configs live in the top-level `locustfiles/` and
`configs/` folders of a checkout; `edgeload/locustfiles` and `edgeload/configs` are links to
them, so a source checkout and an installed wheel (which carries real copies) find them the
same way.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def package_file(*parts: str) -> Path:
    """A real filesystem path of a packaged file or folder (e.g. "locustfiles", "fps.py")."""
    resource = files("edgeload").joinpath(*parts)
    # wheels install as plain files, so the context manager yields a lasting path
    with as_file(resource) as path:
        return Path(path)


def locustfile(name: str) -> Path:
    """The path of a packaged locustfile, e.g. locustfile("throughput")."""
    return package_file("locustfiles", f"{name}.py")


def profiles_dir() -> Path:
    """The folder of the named simulator profiles."""
    return package_file("configs", "profiles")


def edge_configs_dir() -> Path:
    """The folder of the shipped edge configs."""
    return package_file("configs")
