"""baselines.patn: the official architecture and key layout, released-weight loading, the adapter."""

from __future__ import annotations

import pytest
import torch

from baselines.patn.network import PATBlock, PATNConfig, PATNGenerator
from baselines.patn.weights import infer_config, load_patn
from bench.api import run
from bench.config import RunConfig
from bench.errors import ModelUnavailableError
from bench.models import GENERATORS, UNTRAINED, ModelSpec
from ctat.checkpoint import CheckpointError, file_sha256, save_checkpoint
from ctat.network import CTATGenerator, count_parameters


def official_parameter_count(norm: str, ngf: int = 64, blocks: int = 9, pose: int = 36) -> int:
    """PATNModel's parameters written out from models/model_variants.py (PROTOCOL.md 4.1)."""
    bias = norm == "instance"  # use_bias = norm_layer == InstanceNorm2d

    def conv(cin, cout, k, with_bias=bias):
        return cin * cout * k * k + (cout if with_bias else 0)

    def norm_params(c):
        return 2 * c if norm == "batch" else 0  # BatchNorm affine; InstanceNorm affine=False

    def encoder(cin):
        return (conv(cin, ngf, 7) + norm_params(ngf) + conv(ngf, 2 * ngf, 3) + norm_params(2 * ngf)
                + conv(2 * ngf, 4 * ngf, 3) + norm_params(4 * ngf))

    c = 4 * ngf
    image_branch = 2 * (conv(c, c, 3) + norm_params(c))
    first_pose = conv(c, c, 3) + norm_params(c) + conv(c, c, 3)
    later_pose = conv(2 * c, 2 * c, 3) + norm_params(2 * c) + conv(2 * c, c, 3)
    blocks_total = blocks * image_branch + first_pose + (blocks - 1) * later_pose
    decoder = (conv(c, c // 2, 3) + norm_params(c // 2) + conv(c // 2, ngf, 3) + norm_params(ngf)
               + conv(ngf, 3, 7, with_bias=True))
    return encoder(3) + encoder(pose) + blocks_total + decoder


@pytest.mark.parametrize(("dataset", "expected"), [("market", 41_365_763), ("deepfashion", 41_358_019)])
def test_parameter_count_is_the_official_one(dataset, expected):
    config = PATNConfig.for_dataset(dataset)
    with torch.device("meta"):
        net = PATNGenerator(config, (128, 64), seed=None)
    assert count_parameters(net) == official_parameter_count(config.norm) == expected
    assert abs(expected / 1e6 - 41.36) < 0.01  # the published 41.36 M (PROTOCOL.md 2.2)


def test_state_dict_keys_follow_the_official_layout():
    with torch.device("meta"):
        keys = set(PATNGenerator(PATNConfig(norm="instance"), (128, 64), seed=None).state_dict())
    expected_present = {
        "model.stream1_down.1.weight", "model.stream1_down.1.bias", "model.stream1_down.4.weight",
        "model.stream1_down.7.weight", "model.stream2_down.1.weight",
        "model.att.0.conv_block_stream1.1.weight",
        "model.att.0.conv_block_stream1.6.weight",  # after ReLU (3) and Dropout (4), pad (5)
        "model.att.0.conv_block_stream2.6.weight", "model.att.8.conv_block_stream2.1.weight",
        "model.stream1_up.0.weight", "model.stream1_up.3.weight", "model.stream1_up.7.weight",
        "model.stream1_up.7.bias",
    }
    assert expected_present <= keys
    assert not any("running" in k for k in keys)  # InstanceNorm tracks nothing
    assert len(keys) == 2 * 6 + 9 * 8 + 2 * 2 + 2  # convs with bias: encoders, blocks, decoder


def test_pat_block_computes_the_published_update():
    torch.manual_seed(0)
    block = PATBlock(8, "instance", dropout=False, bias=True, cated_stream2=True).eval()
    image, pose = torch.randn(1, 8, 6, 4), torch.randn(1, 16, 6, 4)
    with torch.no_grad():
        new_image, new_pose = block(image, pose)
        pose_out = block.conv_block_stream2(pose)
        expected = image + block.conv_block_stream1(image) * torch.sigmoid(pose_out)
    torch.testing.assert_close(new_image, expected)
    torch.testing.assert_close(new_pose, torch.cat((pose_out, expected), 1))


@pytest.mark.parametrize(("size", "ngf"), [((128, 64), 64), ((256, 176), 16)])
def test_shapes_and_ranges(size, ngf):
    net = PATNGenerator(PATNConfig(ngf=ngf), size).eval()
    with torch.no_grad():
        out = net(*net.example_inputs(2))
    assert out.shape == (2, 3, *size) and out.min() >= -1 and out.max() <= 1 and out.std() > 0


def _official_file(tmp_path, norm: str, name="latest_net_netG.pth", size=(32, 16)):
    """A checkpoint as PATN's PyTorch 0.3.1 wrote it: plain state dict, legacy serialisation,
    InstanceNorm running statistics present, no BatchNorm num_batches_tracked."""
    net = PATNGenerator(PATNConfig(ngf=8, n_blocks=3, norm=norm), size, seed=5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    if norm == "instance":
        for name_, module in net.named_modules():
            if isinstance(module, torch.nn.InstanceNorm2d):
                c = module.num_features
                state[f"{name_}.running_mean"] = torch.zeros(c)
                state[f"{name_}.running_var"] = torch.ones(c)
    path = tmp_path / name
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return net.eval(), path


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_released_weights_load_strictly_and_run_identically(tmp_path, norm):
    net, path = _official_file(tmp_path, norm)
    loaded, info = load_patn(path, (32, 16))
    assert info.source == "official" and info.config == net.config
    assert bool(info.dropped) == (norm == "instance")
    x = net.example_inputs(2)
    with torch.no_grad():
        assert torch.equal(net(*x), loaded.eval()(*x))


def test_dataparallel_prefixes_and_missing_model_prefix(tmp_path):
    net, path = _official_file(tmp_path, "batch")
    state = torch.load(path, weights_only=True)
    torch.save({"module." + k.removeprefix("model."): v for k, v in state.items()}, tmp_path / "dp.pth")
    loaded, _ = load_patn(tmp_path / "dp.pth", (32, 16))
    x = net.example_inputs(1)
    with torch.no_grad():
        assert torch.equal(net(*x), loaded.eval()(*x))


def test_bad_official_files_name_the_keys(tmp_path):
    _, path = _official_file(tmp_path, "instance")
    state = torch.load(path, weights_only=True)
    del state["model.stream1_up.7.bias"]
    state["model.extra.weight"] = torch.zeros(1)
    state["model.stream1_down.4.weight"] = torch.zeros(16, 8, 5, 5)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError) as err:
        load_patn(tmp_path / "bad.pth", (32, 16))
    text = str(err.value)
    assert "missing: model.stream1_up.7.bias" in text
    assert "unexpected: model.extra.weight" in text
    assert "mis-shaped: model.stream1_down.4.weight (16, 8, 5, 5) (expected (16, 8, 3, 3))" in text
    torch.save({"conv.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not PATN's generator layout"):
        load_patn(tmp_path / "other.pth", (32, 16))
    (tmp_path / "cut.pth").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_patn(tmp_path / "cut.pth", (32, 16))


def test_config_is_read_from_the_tensors(tmp_path):
    net = PATNGenerator(PATNConfig(ngf=8, n_blocks=2, dropout=False, norm="instance"), (32, 16))
    assert infer_config(net.state_dict()) == net.config


def test_own_checkpoints_load_and_other_networks_are_refused(tmp_path):
    net = PATNGenerator(PATNConfig(ngf=8, n_blocks=2), (32, 16), seed=1).eval()
    path = save_checkpoint(tmp_path / "p.pt", net, "synthetic", 7)
    loaded, info = load_patn(path, (32, 16))
    assert info.source == "ctat-bench" and info.step == 7
    with pytest.raises(CheckpointError, match="trained at 32x16"):
        load_patn(path, (64, 32))
    other = save_checkpoint(tmp_path / "c.pt", CTATGenerator(None, (32, 16)), "synthetic", 1)
    with pytest.raises(CheckpointError, match="holds a ctat network, not patn"):
        load_patn(other, (32, 16))


def test_adapter_weights_labels_and_untrained_policy(tmp_path, synthetic_parent):
    _, path = _official_file(tmp_path, "batch", size=(128, 64))
    gen = GENERATORS.get("pata")(ModelSpec(name="patn", size=(128, 64), dataset="market",
                                           checkpoint=path))
    assert gen.weights.label == str(path) and gen.weights.sha256 == file_sha256(path)
    src, kp = torch.rand(1, 3, 128, 64), torch.rand(1, 18, 2) * 60
    out = gen.generate(src, kp, kp)
    assert out.shape == (1, 3, 128, 64) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ModelUnavailableError, match="--checkpoint patn=untrained"):
        GENERATORS.get("patn")(ModelSpec(name="patn", size=(128, 64), dataset="market"))
    fashion = GENERATORS.get("patn")(ModelSpec(name="patn", size=(256, 176), dataset="deepfashion",
                                               untrained=True))
    assert fashion.module.config.norm == "instance" and fashion.weights.label == UNTRAINED
    result = run(RunConfig(models=("patn",), data_root=synthetic_parent, limit=4, efficiency=False,
                           metrics=("ssim",), out=tmp_path / "run", batch_size=4),
                 progress=False, echo=lambda s: None)
    assert all(r.checkpoint == UNTRAINED for r in result.records)
