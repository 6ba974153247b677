"""`edgeload rollouts NUM_DETECTORS`: do model rollouts land one detector at a time, without
errors? (the upstream Repeated Rollouts Test)."""

from __future__ import annotations

from edgeload.scenarios.pods.command import pod_command

HELP = (
    "Repeated rollouts test: primes NUM_DETECTORS detectors to at least 30 labels, then queries "
    "each every iteration and labels them every few seconds to keep training and model "
    "downloads going; reports when every detector has an edge answer, then runs --duration "
    "more counting rollouts, overlapping pod updates, non-edge answers and errors. Start from a "
    "fresh install of the endpoint."
)


add_arguments, run = pod_command("edgeload.scenarios.rollouts.options")
