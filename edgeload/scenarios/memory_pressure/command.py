"""`edgeload memory-pressure NUM_DETECTORS MODE`: how long until every detector's inference
pod is online, and whether memory held (the upstream Memory Pressure Test)."""

from __future__ import annotations

from edgeload.scenarios.pods.command import pod_command

HELP = (
    "Memory pressure test: waits for the endpoint to answer (install it while this runs), then "
    "queries NUM_DETECTORS detectors until each answers from the edge within one iteration; "
    "reports how long all inference pods took to come online, pod restarts/OOM kills/Pending, "
    "and RAM/VRAM per GPU."
)


add_arguments, run = pod_command("edgeload.scenarios.memory_pressure.options")
