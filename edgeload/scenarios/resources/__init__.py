"""`edgeload resources`: RAM and VRAM of one detector per combination of a YAML matrix."""
