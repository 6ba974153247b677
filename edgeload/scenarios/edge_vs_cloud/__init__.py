"""`edgeload edge-vs-cloud DETECTOR_ID`: a detector's recent images answered by the edge's own
model and by the cloud, side by side (the upstream compare_edge_cloud_inference.py)."""
