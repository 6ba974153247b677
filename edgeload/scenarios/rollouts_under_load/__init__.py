"""Rollouts under inference load: clients query one detector at a fixed rate while labels keep
new models rolling out; every error and latency spike is placed in its rollout window.

options   its options and validated `Inputs` (on the pod scenarios' `Inputs`)
command   `edgeload rollouts-under-load`
load      the fixed-rate clients (threads, `edgeload.clients`) and their request batches
revisions the detector's inference Deployments: revisions and rollout status (I/O + pure)
run       the run: the pod scenarios' `PodRun` with this scenario's detector and load
windows   rollout windows, and the requests, errors and spikes in each (pure)
metrics   the metric table of the headline figures
analysis  analyze(log) -> ScenarioAnalysis, summary_lines (pure)

Plots: edgeload.reporting.plots.rollouts_under_load.
"""
