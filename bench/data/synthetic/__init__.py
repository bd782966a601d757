"""The embedded synthetic dataset: procedurally rendered people in the Market-1501 layout.

Deterministic from a seed, generated on first use into a cache folder and reused afterwards;
PATN's loader (and ours) reads it like Market-1501. Each identity has its own proportions,
skin, hair and clothes; poses come from an articulated 18-joint skeleton seen from the front,
back, side or at an angle, with self-occlusion removing joints as a detector would; every
visible joint carries a saturated marker of its own colour, so
:class:`bench.pose.markers.MarkerDetector` recovers keypoints from any image, generated ones
included::

    from pathlib import Path
    from bench.data.synthetic import MARKET_LIKE, FASHION_LIKE, ensure_synthetic
    root = ensure_synthetic(MARKET_LIKE, Path("/tmp/cache"))
    # /tmp/cache/synthetic-market-128x64-seed0-v1/{test,train}/, market-*-{test,train}.csv

    from bench.data.synthetic import SyntheticSpec, iter_split
    tiny = SyntheticSpec(name="tiny", identities_test=2, identities_train=1,
                         images_per_identity=3, test_pairs=10, junk_test=1)
    for item in iter_split(tiny, "test"):          # in memory, no files
        item.name, item.image.shape, item.keypoints.shape

Images are PNG-encoded under Market's ``.jpg`` names so the ground truth is lossless.
"""

from bench.data.synthetic.palette import MARKER_RGB
from bench.data.synthetic.spec import FASHION_LIKE, MARKET_LIKE, SyntheticSpec
from bench.data.synthetic.write import (
    SyntheticImage,
    ensure_synthetic,
    is_complete,
    iter_split,
    read_manifest,
    write_synthetic,
)

__all__ = [
    "FASHION_LIKE",
    "MARKER_RGB",
    "MARKET_LIKE",
    "SyntheticImage",
    "SyntheticSpec",
    "ensure_synthetic",
    "is_complete",
    "iter_split",
    "read_manifest",
    "write_synthetic",
]
