"""Test-session setup.

A pytest process that runs tests alone is gevent-patched before anything else is imported,
exactly as a Locust process is (importing locust patches on import): tests can then fire
synthetic events into a real locust `Environment`, and the patch happens at one known point.

A pytest-xdist worker is not patched: its own threads already run when this file is imported,
and patching under them makes its test queue block forever. Locust is imported here told not
to patch (LOCUST_SKIP_MONKEY_PATCH, then removed again, so that the Locust processes tests start
patch as always); the in-process Locust tests use greenlets and Locust's own gevent-based HTTP
client, which need no patch.
"""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    try:
        import locust  # noqa: F401 - imported once, unpatched, for the whole worker
    finally:
        del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
else:
    from gevent import monkey

    monkey.patch_all()

# Tests start from a known environment: no endpoint (so runs use the embedded simulator) and
# no token of the developer's. Every SDK a test builds is given the simulator's URL explicitly,
# so nothing can default to the Groundlight cloud.
os.environ.pop("GROUNDLIGHT_ENDPOINT", None)
os.environ.pop("GROUNDLIGHT_API_TOKEN", None)
