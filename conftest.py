"""Shared fixtures of tests/ and benchmarks/: the real split files and published samples, and tiny datasets on disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real split files and published samples); skip where it is absent."""
    if not (SHARED_DATA / "pose-transfer-splits").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (../shared/data beside the checkout)")
    return SHARED_DATA


class _SqrtmMemo:
    """``scipy.linalg.sqrtm`` remembered for the last few large inputs, by their exact bytes.

    The FID tests compute the Frechet distance twice on bit-identical covariance products: once
    through the harness, once through the test's transcription of the scripts (their
    statistics agree exactly). At 2048 dimensions each square root takes ~10 s on a 2-core
    machine, half of CI's FID time. The function is deterministic, so the second call gets the
    first's result (a copy) and SciPy's warnings again, whether or not it passes the scripts'
    ``disp=False`` (SciPy computes the root before looking at it; the deprecation warning and
    the error estimate are then given as SciPy gives them); inputs that differ in a single bit
    are computed. Small matrices are not remembered.
    """

    MIN_SIZE, KEEP = 256, 4

    def __init__(self, sqrtm) -> None:
        self.sqrtm = sqrtm
        self.kept: dict[bytes, tuple] = {}

    def __call__(self, a, *args, **kwargs):
        import copy
        import hashlib
        import warnings

        arr = np.asarray(a)
        disp = kwargs.pop("disp", None)  # None: not given
        if args or kwargs or arr.ndim != 2 or arr.shape[0] < self.MIN_SIZE:
            return self.sqrtm(a, *args, **kwargs, **({} if disp is None else {"disp": disp}))
        key = hashlib.sha256(arr.tobytes() + repr((arr.dtype.str, arr.shape)).encode()).digest()
        if key not in self.kept:
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                result = self.sqrtm(a)
            self.kept[key] = (result, [(w.message, w.category) for w in seen])
            while len(self.kept) > self.KEEP:
                self.kept.pop(next(iter(self.kept)))
        result, seen = self.kept[key]
        if disp is not None:  # the scripts' sqrtm(..., disp=False): the same root (SciPy
            # computes it before looking at disp), its deprecation, and the error estimate
            warnings.warn("The `disp` argument is deprecated and will be removed in SciPy "
                          "1.18.0.", DeprecationWarning, stacklevel=2)
        for message, category in seen:
            warnings.warn(message, category, stacklevel=2)
        root = copy.deepcopy(result)
        if disp is False:
            try:
                error = np.linalg.norm(root @ root - arr, "fro") ** 2 / np.linalg.norm(arr, "fro")
            except ValueError:  # NaNs
                error = np.inf
            return root, error
        return root


@pytest.fixture(autouse=True, scope="session")
def _sqrtm_memo():
    import scipy.linalg

    original = scipy.linalg.sqrtm
    scipy.linalg.sqrtm = _SqrtmMemo(original)
    yield
    scipy.linalg.sqrtm = original


def write_annotation_csv(path: Path, keypoints: dict[str, np.ndarray]) -> None:
    """PATN annotation format from {name: (18, 2) (x, y)}."""
    lines = ["name:keypoints_y:keypoints_x"]
    for name, kp in keypoints.items():
        ys = json.dumps([int(v) for v in kp[:, 1]])
        xs = json.dumps([int(v) for v in kp[:, 0]])
        lines.append(f"{name}: {ys}: {xs}")
    path.write_text("\n".join(lines) + "\n")


def write_pairs_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    path.write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))


def make_market_folder(root: Path, shared: Path, n_images: int = 12, size=(128, 64)) -> Path:
    """A Market-layout folder: real keypoints of the first annotated test images, and
    deterministic textured images (PNG content under .jpg names, like the synthetic set)."""
    import pandas as pd

    ann = pd.read_csv(shared / "pose-transfer-splits" / "market-annotation-test.csv", sep=":")
    rows = []
    for _, row in ann.iterrows():
        ys, xs = json.loads(row["keypoints_y"]), json.loads(row["keypoints_x"])
        if sum(v >= 0 for v in ys) >= 10:
            rows.append((row["name"].strip(), np.stack([xs, ys], axis=1).astype(np.float32)))
        if len(rows) == n_images:
            break
    (root / "test").mkdir(parents=True)
    rng = np.random.default_rng(0)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    for i, (name, _) in enumerate(rows):
        base = rng.integers(30, 220, size=3)
        img = (base[None, None, :] + 25 * np.sin(xx / (3 + i % 4) + i)[..., None]
               + 15 * np.cos(yy / 5.0)[..., None] + rng.normal(0, 6, (h, w, 3)))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / "test" / name, "PNG")
    keypoints = dict(rows)
    write_annotation_csv(root / "market-annotation-test.csv", keypoints)
    names = list(keypoints)
    pairs = [(a, b) for a in names for b in names if a != b][:40]
    write_pairs_csv(root / "market-pairs-test.csv", pairs)
    return root


@pytest.fixture
def market_folder(tmp_path, shared_data) -> Path:
    return make_market_folder(tmp_path / "market", shared_data)


@pytest.fixture(scope="session")
def synthetic_parent(tmp_path_factory) -> Path:
    """The default synthetic set, generated once per test session into a temporary cache;
    pass it as ``data_root`` for dataset 'synthetic'."""
    from bench.data import DATASETS, synthetic_spec
    from bench.data.synthetic import ensure_synthetic

    parent = tmp_path_factory.mktemp("synthetic-cache")
    ensure_synthetic(synthetic_spec(DATASETS.get("synthetic")), parent)
    return parent


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (tox and CI do)")


def pytest_collection_modifyitems(config, items):
    import torch

    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow (tox and CI do)")
    skip_gpu = pytest.mark.skip(reason="gpu: needs a CUDA device, none available here")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


# -- deterministic stand-in networks (pretrained weights cannot be downloaded here) -----------
# Each is written to a weights file that the code under test loads through the same path users
# take (--weights NETWORK=PATH or the torch hub cache).


def _kaiming(module) -> None:
    """Scale-preserving init so a deep random network gives O(1), input-dependent features."""
    import torch

    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                torch.nn.init.normal_(m.bias, std=0.1)


@pytest.fixture(scope="session")
def standin_alexnet(tmp_path_factory) -> Path:
    """A seeded torchvision AlexNet state dict (stands in for alexnet-owt-7be5be79.pth)."""
    import torch
    import torchvision

    torch.manual_seed(11)
    net = torchvision.models.alexnet()
    _kaiming(net)
    path = tmp_path_factory.mktemp("standin") / "alexnet-standin.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def standin_inception(tmp_path_factory) -> Path:
    """A seeded torch-fidelity InceptionV3 state dict (stands in for
    weights-inception-2015-12-05-6726825d.pth): the real architecture, random weights."""
    from unittest import mock

    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    folder = tmp_path_factory.mktemp("standin")
    empty = folder / "empty.pth"
    torch.save({}, empty)
    torch.manual_seed(12)
    with mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict",
                           lambda self, *a, **k: None):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                             feature_extractor_weights_path=str(empty))
    _kaiming(net)
    path = folder / "inception-standin.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def standin_tv_inception(tmp_path_factory) -> Path:
    """A seeded torchvision inception_v3 state dict (aux classifier kept), standing in for
    inception_v3_google-*.pth (inception-torchvision, inception-torchvision-v0)."""
    import torch
    import torchvision

    torch.manual_seed(21)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    _kaiming(net)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("standin") / "inception-torchvision-standin.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def standin_keypointrcnn(tmp_path_factory) -> Path:
    """A seeded torchvision Keypoint R-CNN state dict (stands in for
    keypointrcnn_resnet50_fpn_coco-fc266e95.pth)."""
    import torch
    import torchvision

    torch.manual_seed(13)
    net = torchvision.models.detection.keypointrcnn_resnet50_fpn(weights=None,
                                                                 weights_backbone=None)
    path = tmp_path_factory.mktemp("standin") / "keypointrcnn-standin.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache for the test (nothing downloaded, nothing found)."""
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch" / "hub" / "checkpoints"
