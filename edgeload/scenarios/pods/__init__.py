"""The pod scenarios (memory pressure, repeated rollouts): the machinery they share.

options        the options both take and their validated `Inputs`
runner         one run from start to report, shared by both commands
observers      background watchers: pods, RAM/VRAM, model versions
signals        Ctrl-C and SIGTERM during a run
recorder       what a run observes, streamed into load_test.log (edgeload.runlog)
clock          the endpoint's seconds (simulated seconds under a time scale)
detector_loop  image queries to N detectors, each answer classified; connect-with-retry
podwatch       Kubernetes access and the pod watcher (I/O)
podtimeline    pod facts and the replay of pod events into timelines (pure)
memory         RAM/VRAM over time and the VRAM-balance check across GPUs (pure)
versions       model versions per detector from /status/metrics.json (pure)
edgeconfig     edge configs with this run's detectors filled in, applied via the SDK
observed       a run's observations read back from its log (pure)
checks         checks and warnings on the verdict model (pure)
metrics        the metric table of the headline figures
analysis       analyze(log) -> ScenarioAnalysis, summary_lines (pure)

Plots: edgeload.reporting.plots.pods.
"""
