"""Weights and checkpoint files are data: a crafted pickle placed wherever a loader looks (an
explicit path, the torch hub cache) runs nothing, and the error names the file.

Every payload below creates a marker file when unpickled by a plain unpickler; each test checks
that (so the file really is hostile), feeds it to a loader and asserts the marker never
appears."""

from __future__ import annotations

import io
import pathlib
import pickle
import re
import tarfile
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.errors import BenchError, WeightsUnavailableError
from bench.metrics.settings import MetricSettings, with_settings
from bench.weights import HUB, WEIGHTS, load_state_dict

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this touches ``marker``: what a malicious weights file would do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _torch_zip(path: Path, marker: Path) -> None:
    torch.save({"conv.weight": torch.zeros(2), "evil": Payload(marker)}, path)


def _torch_legacy(path: Path, marker: Path) -> None:  # PyTorch <= 1.5 (PATN's 0.3.1 files)
    torch.save({"conv.weight": torch.zeros(2), "evil": Payload(marker)}, path,
               _use_new_zipfile_serialization=False)


def _plain_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"evil": Payload(marker)}))


def _legacy_tar(path: Path, marker: Path) -> None:  # PyTorch < 0.1.10's tar layout
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("sys_info", "pickle", "storages", "tensors"):
            payload = pickle.dumps(Payload(marker))
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(buffer.getvalue())


WRITERS = {"torch-zip": _torch_zip, "torch-legacy": _torch_legacy, "plain-pickle": _plain_pickle}


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran"


def _hostile(path: Path, marker: Path, writer=_torch_zip) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(path, marker)
    return path


def test_the_payload_runs_code_when_unpickled_the_unsafe_way(tmp_path, marker):
    """Control: every crafted file does run code under a plain unpickler."""
    for name, writer in WRITERS.items():
        path = _hostile(tmp_path / f"{name}.pth", marker, writer)
        torch.load(path, weights_only=False) if name != "plain-pickle" else \
            pickle.loads(path.read_bytes())
        assert marker.exists(), name
        marker.unlink()


@pytest.mark.parametrize("writer", list(WRITERS))
def test_load_state_dict_refuses_a_crafted_pickle_and_names_the_file(tmp_path, marker, writer):
    path = _hostile(tmp_path / "weights.pth", marker, WRITERS[writer])
    with pytest.raises(WeightsUnavailableError) as info:
        load_state_dict("alexnet", path)
    assert not marker.exists()
    assert str(path) in str(info.value) and "weights_only=True" in str(info.value)


def test_load_state_dict_refuses_a_legacy_tar_file(tmp_path, marker):
    path = _hostile(tmp_path / "old.pth", marker, _legacy_tar)
    with pytest.raises(WeightsUnavailableError, match=re.escape(str(path))):
        load_state_dict("alexnet", path)
    assert not marker.exists()


def test_load_state_dict_accepts_tensors_only(tmp_path):
    path = tmp_path / "not-a-state-dict.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsUnavailableError, match="holds a list, not a state dict"):
        load_state_dict("alexnet", path)


# -- each network of `bench weights`, where its loader looks ----------------------------------


def _metric_reason(name: str, settings: MetricSettings) -> str:
    """The unavailable reason of metric ``name`` built as the run builds it."""
    from bench.api import build_metrics
    from bench.metrics import METRICS
    from bench.metrics.base import UnavailableMetric

    (metric,) = build_metrics([METRICS.get(name)], with_settings({}, settings), "m")
    assert isinstance(metric, UnavailableMetric), f"{name} was built from a crafted file"
    return metric.reason


def _vgg19_reason(path: Path | None) -> str:
    from ctat.losses import vgg19_relu1_2

    with pytest.raises(WeightsUnavailableError) as info:
        vgg19_relu1_2(path, download=False)
    return str(info.value)


def _torchvision_inception_reason(network: str, explicit) -> str:
    from bench.gfla.inception import load_torchvision_inception
    from bench.weights import resolve

    with pytest.raises(WeightsUnavailableError) as info:
        path = resolve(network, explicit[0][1] if explicit else None, download=False)
        load_torchvision_inception(path, network=network)
    return str(info.value)


# network -> how its user is built (explicit path or None: the library's place)
USERS = {
    "inception-fid": lambda explicit, extra: _metric_reason("fid", MetricSettings(
        weights=explicit + extra, download=False, use_cache=False)),
    "alexnet": lambda explicit, extra: _metric_reason("lpips", MetricSettings(
        weights=explicit + extra, download=False)),
    "lpips-alex-v0.1": lambda explicit, extra: _metric_reason("lpips", MetricSettings(
        weights=explicit + extra, download=False)),
    "keypointrcnn": lambda explicit, extra: _metric_reason("pckh", MetricSettings(
        weights=explicit + extra, download=False, pose_estimator="keypointrcnn")),
    "vgg19": lambda explicit, extra: _vgg19_reason(Path(explicit[0][1]) if explicit else None),
    "inception-torchvision": lambda explicit, extra: _torchvision_inception_reason(
        "inception-torchvision", explicit),
    "inception-torchvision-v0": lambda explicit, extra: _torchvision_inception_reason(
        "inception-torchvision-v0", explicit),
}


def test_every_registered_network_is_covered():
    assert set(USERS) == set(WEIGHTS.names())


# every network where a user can put a file: an explicit path, and the hub cache for those the
# library keeps there (lpips-alex-v0.1 ships inside its package)
PLACES = [(n, place) for n in sorted(USERS) for place in ("explicit", "hub")
          if place == "explicit" or WEIGHTS.get(n).location == HUB]


@pytest.mark.parametrize(("network", "place"), PLACES)
def test_a_crafted_weights_file_runs_nothing_and_is_named(network, place, tmp_path, marker,
                                                          empty_hub, standin_alexnet):
    spec = WEIGHTS.get(network)
    path = _hostile((tmp_path / "given" / spec.file) if place == "explicit"
                    else empty_hub / spec.file, marker)
    explicit = ((network, str(path)),) if place == "explicit" else ()
    # LPIPS needs both files: the other one is a good stand-in
    extra = (("alexnet", str(standin_alexnet)),) if network == "lpips-alex-v0.1" else ()
    reason = USERS[network](explicit, extra)
    assert not marker.exists()
    assert str(path) in reason


def test_torch_fidelity_never_unpickles_the_users_file(standin_inception, monkeypatch):
    """torch-fidelity loads its weights with ``torch.load(weights_only=False)``: it is handed
    a buffer of the checked tensors, never the file."""
    from bench.metrics.inception import InceptionFeatures

    calls = []
    real_load = torch.load

    def spy(f, *args, **kwargs):
        calls.append((f, kwargs.get("weights_only")))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    net = InceptionFeatures(MetricSettings(weights=(("inception-fid", str(standin_inception)),),
                                           download=False))
    assert calls, "nothing was loaded"
    for f, weights_only in calls:
        assert not isinstance(f, str | Path), f"torch.load was given the path {f}"
        assert weights_only is True or isinstance(f, io.BytesIO)
    assert net.weights_used.path == standin_inception


# -- model checkpoints (CTAT, PATN incl. its legacy files, PG2) ---------------------------------


def _ctat(path):
    from ctat.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _patn(path):
    from baselines.patn.weights import load_patn

    return load_patn(path, size=(128, 64))


def _pg2(path):
    from baselines.pg2.checkpoint import load_pg2_checkpoint

    return load_pg2_checkpoint(path)


CHECKPOINT_LOADERS = {"ctat": _ctat, "patn": _patn, "pg2": _pg2}


@pytest.mark.parametrize("writer", [*WRITERS, "legacy-tar"])
@pytest.mark.parametrize("model", sorted(CHECKPOINT_LOADERS))
def test_a_crafted_checkpoint_runs_nothing_and_is_named(model, writer, tmp_path, marker):
    write = _legacy_tar if writer == "legacy-tar" else WRITERS[writer]
    path = _hostile(tmp_path / "latest_net_netG.pth", marker, write)
    with pytest.raises(BenchError) as info:
        CHECKPOINT_LOADERS[model](path)
    assert not marker.exists()
    assert str(path) in str(info.value)


def test_a_crafted_checkpoint_given_to_the_harness_runs_nothing(tmp_path, marker):
    """The way users pass it: --checkpoint MODEL=PATH through the model registry."""
    from bench.models import GENERATORS, ModelSpec

    path = _hostile(tmp_path / "ctat.pt", marker)
    with pytest.raises(BenchError, match=re.escape(str(path))):
        GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(128, 64), checkpoint=path))
    assert not marker.exists()


def _object_npz(path: Path, marker: Path) -> None:
    np.savez(path, meta=np.array([Payload(marker)], dtype=object))


def test_pg2_npz_with_pickled_objects_runs_nothing(tmp_path, marker):
    from baselines.pg2.convert import ConversionError, convert_checkpoint

    control = _hostile(tmp_path / "control.npz", marker, _object_npz)
    np.load(control, allow_pickle=True)["meta"]
    assert marker.exists()
    marker.unlink()
    for name, writer in (("objects.npz", _object_npz), ("pickle.npz", _plain_pickle)):
        path = _hostile(tmp_path / name, marker, writer)
        with pytest.raises(ConversionError, match=re.escape(str(path))):
            convert_checkpoint(path, tmp_path / "out.pt")
        assert not marker.exists()


# -- the real-statistics cache ------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["objects.npz", "pickle"])
def test_a_crafted_real_statistics_cache_runs_nothing_and_is_named(tmp_path, marker, writer):
    from types import SimpleNamespace

    from bench.metrics.inception import RealTargets

    (tmp_path / "images").mkdir()
    settings = MetricSettings(stats_cache=tmp_path / "stats", image_dir=tmp_path / "images",
                              target_names=("a.jpg",), pairs_sha256="p")
    net = SimpleNamespace(extractor_id="stand-in")
    path = RealTargets(settings, net).cache_path
    path.parent.mkdir(parents=True)
    (_object_npz if writer == "objects.npz" else _plain_pickle)(path, marker)
    real = RealTargets(settings, net)
    assert not marker.exists()
    assert real.cache_state.startswith(f"miss {path}: not used, unreadable")
    assert not real._rows  # nothing taken from it: recomputed and rewritten


# -- no path of ours hands a file to an unpickler -------------------------------------------------


def _calls(text: str, name: str) -> list[str]:
    """The argument text of every call of ``name(`` (balanced parentheses)."""
    out = []
    for match in re.finditer(re.escape(name) + r"\(", text):
        depth, i = 1, match.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        out.append(text[match.end():i - 1])
    return out


def _code(text: str) -> str:
    """``text`` without its comments and string literals (docstrings may name what is banned)."""
    tokens = [(t.type, "''" if t.type == tokenize.STRING else
               "" if t.type == tokenize.COMMENT else t.string, t.start, t.end, t.line)
              for t in tokenize.generate_tokens(io.StringIO(text).readline)]
    return tokenize.untokenize(tokens)


def test_no_loader_in_the_code_can_unpickle_a_file():
    sources = [p for d in ("bench", "ctat", "baselines") for p in (REPO / d).rglob("*.py")]
    assert len(sources) > 50
    problems = []
    for path in sources:
        text = _code(path.read_text())
        where = path.relative_to(REPO)
        for args in _calls(text, "torch.load"):
            if "weights_only=True" not in args:
                problems.append(f"{where}: torch.load({args})")
        for args in _calls(text, "load_state_dict_from_url"):
            if "weights_only=True" not in args:
                problems.append(f"{where}: load_state_dict_from_url({args})")
        for args in _calls(text, "np.load"):
            if "allow_pickle=False" not in args:
                problems.append(f"{where}: np.load({args})")
        for pattern in ("pickle.load", "joblib", "pretrained=True", "hub.load(",
                        "allow_pickle=True", "weights_only=False"):
            if pattern in text:
                problems.append(f"{where}: {pattern}")
        for args in _calls(text, "create_feature_extractor"):
            if "_tensors_only_buffer(" not in args:
                problems.append(f"{where}: create_feature_extractor({args})")
    assert not problems, "\n".join(problems)
