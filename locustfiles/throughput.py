"""The multiple-client throughput test: clients ramp up step by step against an edge endpoint.

    uv run locust -f locustfiles/throughput.py --headless --detector-mode BINARY \\
        --max-clients 10 --step-size 1 --time-between-ramp 30 --requests-per-second 10

Without GROUNDLIGHT_ENDPOINT it measures an embedded simulated endpoint. Wiring only: the
user, the shape, the run's glue and its live web-UI tab live in edgeload/ and shapes/.
"""

from locust import events

from edgeload.scenarios.throughput import run as throughput_run
from edgeload.scenarios.throughput import webui
from edgeload.scenarios.throughput.users import EdgeQueryUser  # noqa: F401  (Locust finds the user class here)
from edgeload.shapes.step_ramp import StepRampShape  # noqa: F401  (and the shape)

throughput_run.register(events, webui.install)
