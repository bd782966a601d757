"""PG2 baseline: Ma et al. Pose Guided Person Image Generation. NeurIPS 2017."""
