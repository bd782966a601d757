"""Faithful re-implementations of published baselines, one package each (patn/, pg2/)."""
