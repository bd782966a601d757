"""What a synthetic dataset contains: one frozen :class:`SyntheticSpec` per variant.

    from bench.data.synthetic.spec import MARKET_LIKE, SyntheticSpec
    MARKET_LIKE.folder_name                    # 'synthetic-market-128x64-seed0-v1'
    tiny = SyntheticSpec(name="tiny", identities_test=3, identities_train=2,
                         images_per_identity=4, test_pairs=20)

Changing anything that alters the generated files must bump ``version`` (or change ``name``):
the cache folder is named by name, size, seed and version only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class SyntheticSpec:
    name: str = "synthetic-market"
    size: tuple[int, int] = (128, 64)  # (H, W) of every image
    identities_test: int = 100
    identities_train: int = 50
    images_per_identity: int = 8
    test_pairs: int = 2000  # seeded sample of the test permutations (PATN samples 12,000)
    junk_test: int = 12  # background-only test images named 0000_*, all joints missing
    person_height: tuple[float, float] = (0.74, 0.9)  # standing height / frame height
    supersample: int = 2  # anti-aliasing: render at this factor, then area-average
    seed: int = 0
    version: str = "1"

    def __post_init__(self) -> None:
        h, w = self.size
        if h < 32 or w < 16:
            raise ValueError(f"size must be at least 32x16 (H, W), got {self.size}")
        for field in ("identities_test", "identities_train", "images_per_identity"):
            if getattr(self, field) < 0:
                raise ValueError(f"{field} must be >= 0, got {getattr(self, field)}")
        if self.identities_test + self.identities_train > 9999:
            raise ValueError("at most 9999 identities fit the 4-digit Market names")
        if self.images_per_identity > 99:
            raise ValueError("at most 99 images per identity")
        if self.supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {self.supersample}")
        lo, hi = self.person_height
        if not 0.2 <= lo <= hi <= 1.2:
            raise ValueError(f"person_height must satisfy 0.2 <= lo <= hi <= 1.2, got {lo, hi}")

    @property
    def folder_name(self) -> str:
        h, w = self.size
        return f"{self.name}-{h}x{w}-seed{self.seed}-v{self.version}"

    def to_dict(self) -> dict:
        """JSON-ready fields (tuples as lists), as stored in the manifest."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


MARKET_LIKE = SyntheticSpec(
    name="synthetic-market",
    size=(128, 64),
    identities_test=100,
    identities_train=50,
    images_per_identity=8,
    test_pairs=2000,
    junk_test=12,
    person_height=(0.74, 0.9),
)

FASHION_LIKE = SyntheticSpec(
    name="synthetic-fashion",
    size=(256, 176),
    identities_test=40,
    identities_train=20,
    images_per_identity=6,
    test_pairs=500,
    junk_test=0,
    person_height=(0.82, 0.95),
)
