"""The pod scenarios (memory pressure, repeated rollouts): the machinery they share.

clock          the endpoint's seconds (simulated seconds under a time scale)
detector_loop  image queries to N detectors, each answer classified; connect-with-retry
podwatch       Kubernetes pod timelines, restarts, OOM kills, Pending, rollout overlaps
memory         RAM/VRAM over time and the VRAM-balance check across GPUs
versions       model versions per detector from /status/metrics.json
edgeconfig     edge configs with this run's detectors filled in, applied via the SDK
results        the result file (schema_version) and the run folder
runlog         load_test.log in the edgeload.logschema format
plots          figures (matplotlib Agg)
runner         one run from start to report, shared by both commands
"""
