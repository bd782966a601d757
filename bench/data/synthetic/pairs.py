"""Pairs as PATN / Def-GAN build them (tool/create_pairs_dataset.py, PROTOCOL.md 3.1).

Keep the images whose right and left shoulders and hips are annotated and that are not
distractors (names starting with ``-1`` or ``0000``); pair every ordered permutation of the
kept images of one identity (the name's first ``_`` field), identities in order of first
appearance; the test list is then a seeded sample, identical to pandas'
``pairs.sample(n, replace=False, random_state=seed)``::

    from bench.data.synthetic.pairs import make_pairs, pairable, sample_pairs
    names = [n for n, k in annotations.items() if pairable(n, k)]
    pairs = sample_pairs(make_pairs(names), n=2000, seed=0)      # [(from, to), ...]
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from bench.keypoints import JOINTS, present

REQUIRED_JOINTS = tuple(JOINTS.index(j) for j in ("r_shoulder", "l_shoulder", "r_hip", "l_hip"))


def pairable(name: str, keypoints: np.ndarray) -> bool:
    """Whether PATN's filter keeps an image: not a distractor, shoulders and hips present."""
    if name.startswith("-1") or name.startswith("0000"):
        return False
    return bool(present(keypoints)[list(REQUIRED_JOINTS)].all())


def make_pairs(names: list[str]) -> list[tuple[str, str]]:
    """All ordered same-identity pairs, identities in order of first appearance."""
    by_person: dict[str, list[str]] = {}
    for name in names:
        by_person.setdefault(name.split("_")[0], []).append(name)
    return [pair for group in by_person.values() for pair in permutations(group, 2)]


def sample_pairs(pairs: list[tuple[str, str]], n: int, seed: int) -> list[tuple[str, str]]:
    """``min(n, len(pairs))`` pairs drawn without replacement, in draw order (pandas' sample)."""
    k = min(n, len(pairs))
    if k <= 0:
        return []
    idx = np.random.RandomState(seed).choice(len(pairs), size=k, replace=False)
    return [pairs[i] for i in idx]
