"""Single-client FPS test as a locustfile: one user submits back to back and the run stops by
itself after the warm-up and the timed iterations of every image size.

    uv run locust -f locustfiles/fps.py --headless --detector-mode BINARY \\
        --image-size 640x480 --image-size 1920x1080 --warmup-iterations 300 --iterations 1000

Without GROUNDLIGHT_ENDPOINT it measures an embedded simulated endpoint. Wiring only: the user,
the shape and the run live in edgeload/scenarios/fps/ (the same run, log and report as
`edgeload fps`). One client means one process: distributed runs are refused.
"""

from locust import events

from edgeload.scenarios.fps import locust_run
from edgeload.scenarios.fps.locust_run import FpsUser, OneClient  # noqa: F401  (Locust finds them here)

locust_run.register(events)
