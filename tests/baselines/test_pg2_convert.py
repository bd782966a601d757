"""baselines.pg2.convert: official TF variable names and layouts -> our state dict, without
TensorFlow: the official-layout dicts are built here, and a NumPy re-implementation of the
official NHWC graph checks that the converted network computes what the TF graph computes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from baselines.pg2.checkpoint import load_pg2_checkpoint
from baselines.pg2.cli import main
from baselines.pg2.convert import (
    ConversionError,
    convert_checkpoint,
    convert_variables,
    infer_config,
)
from baselines.pg2.network import PG2Config, PG2Generator

G1, G2 = "Pose_AE/G/", "UAEnoFC/G/"


def _name(scope: str, i: int) -> str:
    return scope + ("Conv" if i == 0 else f"Conv_{i}")


def _tf_variables(net: PG2Generator) -> dict[str, np.ndarray]:
    """Our weights in the official graph's naming and layout (written independently of
    convert.py): slim numbers the convs of a scope in creation order; kernels are HWIO, dense
    weights (in, out), and TF's dense layers see the NHWC map flattened in (h, w, c) order."""
    def arr(t):
        return t.detach().double().numpy()

    g1, g2 = net.g1, net.g2
    convs1 = [g1.conv_in]
    for level in g1.encoder:
        convs1 += [level.conv1, level.conv2] + ([level.resample] if level.resample else [])
    for level in g1.decoder:
        convs1 += [level.conv1, level.conv2] + ([level.resample] if level.resample else [])
    convs1.append(g1.conv_out)
    convs2 = [g2.conv_in]
    for level in g2.encoder:
        convs2 += [level.conv1, level.conv2] + ([level.down] if level.down else [])
    for level in g2.decoder:
        convs2 += [level.conv1, level.conv2]
    convs2.append(g2.conv_out)
    out = {}
    for scope, convs in ((G1, convs1), (G2, convs2)):
        for i, conv in enumerate(convs):
            out[_name(scope, i) + "/weights"] = arr(conv.weight).transpose(2, 3, 1, 0)  # OIHW->HWIO
            out[_name(scope, i) + "/biases"] = arr(conv.bias)
    hf, wf = g1.bottleneck_size
    enc, dec = arr(g1.fc_encode.weight), arr(g1.fc_decode.weight)  # (z, C*hf*wf), (n*hf*wf, z)
    z, c, n = enc.shape[0], enc.shape[1] // (hf * wf), dec.shape[0] // (hf * wf)
    out[G1 + "fully_connected/weights"] = enc.reshape(z, c, hf, wf).transpose(2, 3, 1, 0).reshape(-1, z)
    out[G1 + "fully_connected/biases"] = arr(g1.fc_encode.bias)
    out[G1 + "fully_connected_1/weights"] = dec.reshape(n, hf, wf, z).transpose(3, 1, 2, 0).reshape(z, -1)
    out[G1 + "fully_connected_1/biases"] = arr(g1.fc_decode.bias).reshape(n, hf, wf).transpose(1, 2, 0).reshape(-1)
    return out


# --- the official graph in NumPy (NHWC, SAME padding, slim layer naming) -------------------

def _tf_conv(x, w, b, stride=1):
    n, h, wd, _ = x.shape
    kh, kw = w.shape[:2]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    out = np.zeros((n, oh, ow, w.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += xp[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] @ w[i, j]
    return out + b


class _Layers:
    def __init__(self, v, scope):
        self.v, self.scope, self.count = v, scope, 0

    def conv(self, x, stride=1, relu=True):
        name = _name(self.scope, self.count)
        self.count += 1
        y = _tf_conv(x, self.v[name + "/weights"], self.v[name + "/biases"], stride)
        return np.maximum(y, 0) if relu else y


def _up2(x):  # tf.image.resize_nearest_neighbor to (2h, 2w)
    return x.repeat(2, axis=1).repeat(2, axis=2)


def _official_forward(v, image, pose, market: bool):
    """GeneratorCNN_Pose_UAEAfterResidual + UAE_noFC_After2Noise / _AfterNoise, relu,
    noise_dim 0, as in models.py / models256.py; NHWC arrays in, NHWC G2 and G1 out."""
    n_img = image.shape[0]
    hidden = v[G1 + "Conv/weights"].shape[3]
    levels = int(np.log2(image.shape[1])) - 2
    layers = _Layers(v, G1)
    x = layers.conv(np.concatenate([image, pose], -1))
    skips = []
    for idx in range(levels):
        res = x
        x = layers.conv(layers.conv(x)) + res
        skips.append(x)
        if idx < levels - 1:
            x = layers.conv(x, stride=2)
    hf, wf = x.shape[1], x.shape[2]
    x = x.reshape(n_img, -1) @ v[G1 + "fully_connected/weights"] + v[G1 + "fully_connected/biases"]
    x = x @ v[G1 + "fully_connected_1/weights"] + v[G1 + "fully_connected_1/biases"]
    x = x.reshape(n_img, hf, wf, hidden)
    for idx in range(levels):
        x = np.concatenate([x, skips[levels - 1 - idx]], -1)
        res = x
        x = layers.conv(layers.conv(x)) + res
        if idx < levels - 1:
            x = layers.conv(_up2(x))
    g1 = layers.conv(x, relu=False)

    depth = levels - 2
    layers = _Layers(v, G2)
    x = layers.conv(np.concatenate([g1, image], -1))
    kept = []
    for idx in range(depth):
        x = layers.conv(layers.conv(x))
        if idx > 0 or not market:
            kept.append(x)
        if idx < depth - 1:
            x = layers.conv(x, stride=2)
    for idx in range(depth):
        if idx < depth - 1 or not market:
            x = np.concatenate([x, kept[-1 - idx]], -1)
        x = layers.conv(layers.conv(x))
        if idx < depth - 1:
            x = _up2(x)
    return g1 + layers.conv(x, relu=False), g1


def _random_net(variant, size, seed=0, n=4, z=8):
    net = PG2Generator(PG2Config(variant=variant, hidden_num=n, z_num=z), size, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():  # non-zero biases, weights unlike a fresh init
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return net.eval()


def _inputs(size, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(1, 3, *size, generator=g) * 2 - 1
    pose = (torch.rand(1, 18, *size, generator=g) > 0.9).float() * 2 - 1
    return img, pose


@pytest.mark.parametrize("variant,size", [("market", (64, 32)), ("deepfashion", (64, 64)),
                                          ("market", (32, 16))])
def test_converted_network_computes_the_official_graph(variant, size):
    source = _random_net(variant, size, seed=3)
    tf_vars = _tf_variables(source)
    config, found_size, state = convert_variables(tf_vars)
    assert config == source.config and found_size == size
    net = PG2Generator(config, size, seed=None).eval()
    net.load_state_dict(state, strict=True)
    img, pose = _inputs(size)
    with torch.no_grad():
        final, g1 = net(img, pose, return_g1=True)
    ref_final, ref_g1 = _official_forward(
        tf_vars, img.permute(0, 2, 3, 1).double().numpy(), pose.permute(0, 2, 3, 1).double().numpy(),
        market=variant == "market")
    for ours, ref in ((g1, ref_g1), (final, ref_final)):
        ref = torch.from_numpy(ref).permute(0, 3, 1, 2).float()
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_round_trip_loads_strict_and_gives_identical_outputs():
    source = _random_net("deepfashion", (64, 32), seed=1)
    config, size, state = convert_variables(_tf_variables(source))
    net = PG2Generator(config, size, seed=None).eval()
    net.load_state_dict(state, strict=True)
    assert all(v.dtype == torch.float32 for v in state.values())
    x = _inputs(size)
    with torch.no_grad():
        assert torch.equal(net(*x), source(*x))


def test_bottleneck_flatten_order_is_tensorflows_nhwc():
    """TF flattens the (h, w, c) map row by row with channels fastest; a conversion that only
    transposed the dense weights would feed every weight the wrong feature."""
    source = _random_net("market", (64, 32), seed=2)
    hf, wf = source.g1.bottleneck_size
    assert (hf, wf) == (8, 4)  # not square: a transposed spatial order would also show
    tf_vars = _tf_variables(source)
    _, _, state = convert_variables(tf_vars)
    c = source.g1.fc_encode.in_features // (hf * wf)
    n = source.g1.fc_decode.out_features // (hf * wf)
    feat = torch.randn(1, c, hf, wf, dtype=torch.float64)

    w_enc, b_enc = tf_vars[G1 + "fully_connected/weights"], tf_vars[G1 + "fully_connected/biases"]
    tf_z = feat.permute(0, 2, 3, 1).reshape(1, -1).numpy() @ w_enc + b_enc  # NHWC flatten
    ours = torch.nn.functional.linear(feat.flatten(1), state["g1.fc_encode.weight"].double(),
                                      state["g1.fc_encode.bias"].double())
    np.testing.assert_allclose(ours.numpy(), tf_z, rtol=1e-5, atol=1e-6)
    naive = feat.flatten(1).numpy() @ w_enc + b_enc  # NCHW flatten against TF's rows
    assert not np.allclose(naive, tf_z, atol=1e-3)

    z = torch.randn(1, w_enc.shape[1], dtype=torch.float64)
    w_dec, b_dec = tf_vars[G1 + "fully_connected_1/weights"], tf_vars[G1 + "fully_connected_1/biases"]
    tf_map = (z.numpy() @ w_dec + b_dec).reshape(1, hf, wf, n).transpose(0, 3, 1, 2)
    ours = torch.nn.functional.linear(z, state["g1.fc_decode.weight"].double(),
                                      state["g1.fc_decode.bias"].double()).view(1, n, hf, wf)
    np.testing.assert_allclose(ours.numpy(), tf_map, rtol=1e-5, atol=1e-6)
    naive = (z.numpy() @ w_dec + b_dec).reshape(1, n, hf, wf)
    assert not np.allclose(naive, tf_map, atol=1e-3)


def test_non_generator_variables_are_skipped():
    tf_vars = _tf_variables(_random_net("market", (32, 16)))
    extra = {
        G1 + "Conv/weights/Adam": tf_vars[G1 + "Conv/weights"],
        G2 + "Conv_2/biases/Adam_1": tf_vars[G2 + "Conv_2/biases"],
        "Discriminator.1.Filters": np.zeros((5, 5, 3, 64)),
        "Discriminator.BN2.moving_mean": np.zeros(128),
        "beta1_power": np.float32(0.5), "step": np.int64(59999), "g_lr": np.float32(2e-5),
    }
    _, _, state = convert_variables({**tf_vars, **extra})
    assert len(state) == len(tf_vars)


def test_missing_extra_and_misshaped_variables_are_named():
    tf_vars = _tf_variables(_random_net("market", (64, 32)))
    broken = dict(tf_vars)
    del broken[G1 + "Conv_5/biases"]
    del broken[G2 + "Conv_4/weights"]
    broken[G2 + "Conv_3/weights"] = np.zeros((3, 3, 5, 4))
    broken[G1 + "fully_connected_2/weights"] = np.zeros((8, 8))
    broken[G1 + "Conv_99/weights"] = np.zeros((3, 3, 4, 4))
    with pytest.raises(ConversionError) as err:
        convert_variables(broken)
    text = str(err.value)
    assert "missing 2: Pose_AE/G/Conv_5/biases, UAEnoFC/G/Conv_4/weights" in text
    assert "unexpected 2: Pose_AE/G/Conv_99/weights, Pose_AE/G/fully_connected_2/weights" in text
    assert "wrong shape 1: UAEnoFC/G/Conv_3/weights (3, 3, 5, 4) (expected (3, 3, 4, 4))" in text
    assert "64x32" in text


def test_key_variables_of_the_wrong_rank():
    tf_vars = _tf_variables(_random_net("market", (32, 16)))
    tf_vars[G1 + "fully_connected/weights"] = np.zeros(10)
    with pytest.raises(ConversionError, match="do not have the official graph's shapes"):
        convert_variables(tf_vars)


def test_something_else_is_not_a_pg2_generator():
    with pytest.raises(ConversionError, match=r"not a PG2 generator .*missing Pose_AE/G/Conv/weights"
                                              r".*found 2 variables: conv1/W, conv1/b"):
        convert_variables({"conv1/W": np.zeros(3), "conv1/b": np.zeros(3)})


def test_config_is_read_off_the_shapes_and_checked_against_what_is_given():
    shapes = {k: v.shape for k, v in _tf_variables(_random_net("deepfashion", (64, 64))).items()}
    config, size = infer_config(shapes)
    assert (config.variant, config.hidden_num, config.z_num, size) == ("deepfashion", 4, 8, (64, 64))
    assert infer_config(shapes, size=(64, 57))[1] == (64, 57)  # the same 8x8 bottleneck
    with pytest.raises(ConversionError, match="not 128"):
        infer_config(shapes, size=(128, 64))
    with pytest.raises(ConversionError, match="do not give"):
        infer_config(shapes, size=(64, 32))
    with pytest.raises(ConversionError, match="deepfashion variant, not market"):
        infer_config(shapes, variant="market")


def test_convert_command_from_npz_and_info(tmp_path, capsys):
    source = _random_net("market", (64, 32), seed=4)
    npz = tmp_path / "vars.npz"
    np.savez(npz, step=np.int64(59999), **{k: v.astype(np.float32)
                                            for k, v in _tf_variables(source).items()})
    out = tmp_path / "pg2.pt"
    assert main(["convert", str(npz), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    ckpt = load_pg2_checkpoint(out, image_size=(64, 32))
    assert ckpt.config == source.config and ckpt.size == (64, 32) and ckpt.dataset == "market"
    assert ckpt.source["kind"] == "npz" and ckpt.source["step"] == 59999
    assert ckpt.source["ignored"] == 1 and len(ckpt.source["sha256"]) == 64
    x = _inputs((64, 32))
    with torch.no_grad():
        torch.testing.assert_close(ckpt.build().eval()(*x), source(*x))
    assert main(["info", str(out)]) == 0
    assert "G1" in capsys.readouterr().out
    assert main(["convert", str(npz), str(tmp_path / "x.pt"), "--variant", "deepfashion"]) == 2
    assert "market variant, not deepfashion" in capsys.readouterr().err


def test_missing_tensorflow_names_the_extra(tmp_path, monkeypatch):
    prefix = tmp_path / "model.ckpt-59999"
    (tmp_path / "model.ckpt-59999.index").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow -> ImportError
    with pytest.raises(ConversionError, match=r"needs TensorFlow.*pip install tensorflow.*"
                                              r"ctat-bench\[pg2-convert\]"):
        convert_checkpoint(prefix, tmp_path / "out.pt")
    with pytest.raises(ConversionError, match="no TensorFlow checkpoint at"):
        convert_checkpoint(tmp_path / "absent", tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_tensorflow_is_not_imported_by_the_package():
    import baselines.pg2.adapter  # noqa: F401
    import baselines.pg2.cli  # noqa: F401
    import baselines.pg2.convert  # noqa: F401

    assert "tensorflow" not in sys.modules or sys.modules["tensorflow"] is None


def test_a_real_tensorflow_checkpoint(tmp_path):
    """Only where TensorFlow is installed (the pg2-convert extra): a TF1-style checkpoint
    saved under the official names converts to the same network."""
    tf = pytest.importorskip("tensorflow")
    source = _random_net("market", (32, 16), seed=5)
    tf_vars = _tf_variables(source)
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(v.astype(np.float32), name=k) for k, v in tf_vars.items()]
        variables.append(tf.compat.v1.Variable(np.zeros((5, 5, 3, 64), np.float32),
                                               name="Discriminator.1.Filters"))
        variables.append(tf.compat.v1.Variable(7, name="step"))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=7)
    out = convert_checkpoint(prefix, tmp_path / "pg2.pt")
    ckpt = load_pg2_checkpoint(out)
    assert ckpt.source["step"] == 7 and ckpt.source["ignored"] == 2
    x = _inputs((32, 16))
    with torch.no_grad():
        torch.testing.assert_close(ckpt.build().eval()(*x), source(*x))
