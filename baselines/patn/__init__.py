"""PATN baseline: Zhu et al. Progressive Pose Attention Transfer for Person Image Generation. CVPR 2019."""
