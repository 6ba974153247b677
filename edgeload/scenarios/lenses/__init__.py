"""`edgeload lenses CONFIG.yaml`: camera and lens sweeps (see README, Camera and lens sweeps)."""
