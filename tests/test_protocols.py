import numpy as np
import pytest

from bench.protocols import PROTOCOLS
from bench.types import Pair, PairBatch


def _batch(h, w, n=2):
    rng = np.random.default_rng(0)
    kpts = np.full((n, 18, 2), -1, np.float32)
    kpts[:, 1] = (10, 20)
    return PairBatch(
        pairs=tuple(Pair(f"a{i}.jpg", f"b{i}.jpg", i) for i in range(n)),
        src_img=rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8),
        tgt_img=rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8),
        src_kpts=kpts.copy(), tgt_kpts=kpts.copy(),
    )


def test_patn_pads_deepfashion_crops_to_256_with_white_and_shifts_keypoints():
    batch = _batch(256, 176)
    fake = batch.src_img.copy()
    padded_fake, padded = PROTOCOLS.get("patn").prepare(fake, batch, padded_width=256)
    assert padded_fake.shape == (2, 256, 256, 3) and padded.tgt_img.shape == (2, 256, 256, 3)
    assert (padded_fake[:, :, :40] == 255).all() and (padded_fake[:, :, 216:] == 255).all()
    np.testing.assert_array_equal(padded_fake[:, :, 40:216], fake)
    np.testing.assert_array_equal(padded.tgt_img[:, :, 40:216], batch.tgt_img)
    assert tuple(padded.tgt_kpts[0, 1]) == (50, 20)
    assert tuple(padded.tgt_kpts[0, 0]) == (-1, -1)  # missing stays missing
    assert tuple(batch.tgt_kpts[0, 1]) == (10, 20)  # the input batch is not modified


@pytest.mark.parametrize("name, h, w, padded_width", [
    ("patn", 128, 64, None),   # Market: PATN never padded
    ("patn", 256, 256, 256),   # DeepFashion already in the 256 frame
    ("modern", 256, 176, 256),  # modern protocol: native size
])
def test_no_padding_where_the_protocol_or_dataset_has_none(name, h, w, padded_width):
    batch = _batch(h, w)
    fake = batch.src_img.copy()
    out_fake, out = PROTOCOLS.get(name).prepare(fake, batch, padded_width=padded_width)
    assert out_fake is fake and out is batch


def test_protocols_are_versioned():
    for name in PROTOCOLS.names():
        p = PROTOCOLS.get(name)
        assert p.version and p.description
