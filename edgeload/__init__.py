"""edgeload: load tests for the Groundlight Edge Endpoint, built on Locust."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("edgeload")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
