"""Test-session setup.

The whole pytest process is gevent-patched before anything else is imported, exactly as a
Locust process is (importing locust patches on import). Tests can then fire synthetic events
into a real locust `Environment`, and the patch happens at one known point instead of whenever
the first test module that imports locust is collected.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

# Tests start from a known environment: no endpoint (so runs use the embedded simulator) and
# no token of the developer's. Every SDK a test builds is given the simulator's URL explicitly,
# so nothing can default to the Groundlight cloud.
os.environ.pop("GROUNDLIGHT_ENDPOINT", None)
os.environ.pop("GROUNDLIGHT_API_TOKEN", None)
