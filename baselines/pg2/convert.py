"""Convert the official PG2 TensorFlow checkpoints into our PyTorch state dict (.pt).

    python -m baselines.pg2 convert Market1501/model.ckpt-59999 pg2-market.pt   # needs TensorFlow
    python -m baselines.pg2 convert variables.npz pg2-market.pt                 # {TF name: array}
    python -m bench run --models pg2 --dataset market --checkpoint pg2=pg2-market.pt

    from baselines.pg2.convert import convert_variables, official_layout
    config, size, state = convert_variables({"Pose_AE/G/Conv/weights": ..., ...})

The official graph (trainer.py / trainer256.py ``build_model``) puts G1 under the variable
scope ``Pose_AE/G`` and G2 under ``UAEnoFC/G``. slim names layers by creation order in their
scope: ``Conv``, ``Conv_1``, ``Conv_2``, ... and ``fully_connected``, ``fully_connected_1``, each
holding ``weights`` and ``biases``. The order is that of :mod:`baselines.pg2.network`'s
docstring: G1 = input conv; per level conv, conv, [stride-2 conv]; the two fully connected
layers; per decoder level conv, conv, [1x1 conv]; output conv. G2 = input conv; per level conv,
conv, [stride-2 conv]; per decoder level conv, conv; output conv.

Layouts: conv kernels are HWIO (kh, kw, in, out) -> our OIHW; dense weights are (in, out) ->
(out, in). TensorFlow flattens the NHWC bottleneck map in (h, w, c) order, we flatten NCHW in
(c, h, w) order: ``fully_connected/weights`` has its input rows permuted (h, w, c) -> (c, h, w),
``fully_connected_1`` its output columns and its biases. Every other variable in a TF
checkpoint (the discriminator ``Discriminator.*``, the Adam slots ``.../Adam``,
``.../Adam_1``, ``beta1_power``, ``step``, the learning rates) is not part of the generator and
is skipped (counted in the converted file's ``source``).

The configuration is read off the shapes (depth, n, z_num, the bottleneck's width, and G2's
variant from whether its last decoder level has a skip); the image size is
``2^(R+2) x (w_f * 2^(R-1))`` unless given. TensorFlow is imported only when a TF checkpoint
is read (``pip install tensorflow``; the optional extra ``ctat-bench[pg2-convert]``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from baselines.pg2.checkpoint import save_converted
from baselines.pg2.network import (
    G2_FEWER_LEVELS,
    VARIANTS,
    PG2Config,
    PG2Generator,
    level_sizes,
    repeat_num,
)
from bench.errors import BenchError

G1_SCOPE = "Pose_AE/G/"
G2_SCOPE = "UAEnoFC/G/"
EXTRA = "pg2-convert"  # the optional dependency group that installs TensorFlow
_SLOT = re.compile(r"/(weights|biases)/[^/]+$")  # optimizer slots: .../weights/Adam, /Adam_1
_LIST_AT_MOST = 12


class ConversionError(BenchError):
    """The input is not a PG2 generator in the official graph's naming, or cannot be read."""


@dataclass(frozen=True)
class TFVariable:
    """One variable of the official graph and where it goes in our state dict."""

    name: str  # e.g. "Pose_AE/G/Conv_3/weights"
    key: str  # e.g. "g1.encoder.1.conv1.weight"
    shape: tuple[int, ...]  # its shape in the TF checkpoint
    to_torch: Callable[[np.ndarray], np.ndarray]


def _conv_weight(w: np.ndarray) -> np.ndarray:
    return np.transpose(w, (3, 2, 0, 1))  # HWIO -> OIHW


def _same(a: np.ndarray) -> np.ndarray:
    return a


def _fc_encode_weight(hf: int, wf: int, c: int):
    def convert(w: np.ndarray) -> np.ndarray:  # (hf*wf*c, z) rows (h, w, c) -> (z, c*hf*wf)
        z = w.shape[1]
        return w.reshape(hf, wf, c, z).transpose(3, 2, 0, 1).reshape(z, c * hf * wf)
    return convert


def _fc_decode_weight(hf: int, wf: int, c: int):
    def convert(w: np.ndarray) -> np.ndarray:  # (z, hf*wf*c) columns (h, w, c) -> (c*hf*wf, z)
        z = w.shape[0]
        return w.reshape(z, hf, wf, c).transpose(3, 1, 2, 0).reshape(c * hf * wf, z)
    return convert


def _fc_decode_bias(hf: int, wf: int, c: int):
    def convert(b: np.ndarray) -> np.ndarray:
        return b.reshape(hf, wf, c).transpose(2, 0, 1).reshape(-1)
    return convert


def official_layout(net: PG2Generator) -> list[TFVariable]:
    """Every generator variable of the official graph for ``net``'s configuration and size,
    in creation order, with its TF shape and the conversion to our parameter."""
    out: list[TFVariable] = []

    def convs(scope: str, prefix: str, modules: list[tuple[str, torch.nn.Conv2d]]) -> None:
        for i, (attr, conv) in enumerate(modules):
            name = f"{scope}Conv" + (f"_{i}" if i else "")
            o, c, kh, kw = conv.weight.shape
            out.append(TFVariable(f"{name}/weights", f"{prefix}.{attr}.weight", (kh, kw, c, o),
                                  _conv_weight))
            out.append(TFVariable(f"{name}/biases", f"{prefix}.{attr}.bias", (o,), _same))

    g1, g2 = net.g1, net.g2
    first = [("conv_in", g1.conv_in)]
    for i, level in enumerate(g1.encoder):
        first += [(f"encoder.{i}.conv1", level.conv1), (f"encoder.{i}.conv2", level.conv2)]
        if level.resample is not None:
            first.append((f"encoder.{i}.resample", level.resample))
    for i, level in enumerate(g1.decoder):
        first += [(f"decoder.{i}.conv1", level.conv1), (f"decoder.{i}.conv2", level.conv2)]
        if level.resample is not None:
            first.append((f"decoder.{i}.resample", level.resample))
    first.append(("conv_out", g1.conv_out))
    convs(G1_SCOPE, "g1", first)

    hf, wf = g1.bottleneck_size
    deep = g1.fc_encode.in_features // (hf * wf)
    z = g1.fc_encode.out_features
    n = g1.fc_decode.out_features // (hf * wf)
    out += [
        TFVariable(f"{G1_SCOPE}fully_connected/weights", "g1.fc_encode.weight",
                   (hf * wf * deep, z), _fc_encode_weight(hf, wf, deep)),
        TFVariable(f"{G1_SCOPE}fully_connected/biases", "g1.fc_encode.bias", (z,), _same),
        TFVariable(f"{G1_SCOPE}fully_connected_1/weights", "g1.fc_decode.weight",
                   (z, hf * wf * n), _fc_decode_weight(hf, wf, n)),
        TFVariable(f"{G1_SCOPE}fully_connected_1/biases", "g1.fc_decode.bias", (hf * wf * n,),
                   _fc_decode_bias(hf, wf, n)),
    ]

    second = [("conv_in", g2.conv_in)]
    for i, level in enumerate(g2.encoder):
        second += [(f"encoder.{i}.conv1", level.conv1), (f"encoder.{i}.conv2", level.conv2)]
        if level.down is not None:
            second.append((f"encoder.{i}.down", level.down))
    for i, level in enumerate(g2.decoder):
        second += [(f"decoder.{i}.conv1", level.conv1), (f"decoder.{i}.conv2", level.conv2)]
    second.append(("conv_out", g2.conv_out))
    convs(G2_SCOPE, "g2", second)
    return out


def is_generator_variable(name: str) -> bool:
    """A variable of G1 or G2 itself (not an optimizer slot of one)."""
    return name.startswith((G1_SCOPE, G2_SCOPE)) and not _SLOT.search(name)


def _names(names, limit: int = _LIST_AT_MOST) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" ... and {len(names) - limit} more" if len(names) > limit else "")


def infer_config(shapes: Mapping[str, tuple[int, ...]],
                 size: tuple[int, int] | None = None,
                 variant: str | None = None,
                 found: list[str] | None = None) -> tuple[PG2Config, tuple[int, int]]:
    """The configuration and image size the official variables were built for (``found``:
    every name in the source, for the message when it is not PG2 at all)."""
    need = [f"{G1_SCOPE}Conv/weights", f"{G1_SCOPE}fully_connected/weights",
            f"{G1_SCOPE}fully_connected_1/weights"]
    absent = [k for k in need if k not in shapes]
    if absent:
        found = sorted(shapes if found is None else found)
        raise ConversionError(
            f"not a PG2 generator in the official graph's naming: missing {_names(absent)} "
            f"(found {len(found)} variables: {_names(found, 6) or 'none'})"
        )
    conv_in = shapes[f"{G1_SCOPE}Conv/weights"]
    fc_in, z_num = shapes[f"{G1_SCOPE}fully_connected/weights"]
    fc_out = shapes[f"{G1_SCOPE}fully_connected_1/weights"][-1]
    n, cin = int(conv_in[-1]), int(conv_in[-2])
    # fc_in = h_f * w_f * n * R and fc_out = h_f * w_f * n: the depth is their ratio
    levels, rest = divmod(int(fc_in), int(fc_out))
    if rest or levels < 3:
        raise ConversionError(
            f"{G1_SCOPE}fully_connected has {fc_in} inputs and fully_connected_1 {fc_out} "
            "outputs: not the official G1 (inputs = outputs x repeat_num, repeat_num >= 3)"
        )
    height = 2 ** (levels + 2)
    if size is not None:
        height = int(size[0])
        if repeat_num(height) != levels:
            raise ConversionError(f"the checkpoint's G1 has {levels} levels, which is "
                                  f"{2 ** (levels + 2)}-pixel-high images, not {height}")
    hf = level_sizes((height, 1), levels)[-1][0]
    wf, rest = divmod(int(fc_out), hf * n)
    if rest or wf < 1:
        raise ConversionError(f"{G1_SCOPE}fully_connected_1 has {fc_out} outputs, not a "
                              f"multiple of h_f * n = {hf}*{n}")
    width = wf * 2 ** (levels - 1)
    if size is not None:
        width = int(size[1])
        if level_sizes((height, width), levels)[-1][1] != wf:
            raise ConversionError(f"the checkpoint's bottleneck is {hf}x{wf}, which "
                                  f"{height}x{width} images do not give")
    # G2's last decoder level takes n channels (Market: no level-0 skip) or 2n (DeepFashion)
    g2_levels = levels - G2_FEWER_LEVELS
    last = f"{G2_SCOPE}Conv_{5 * g2_levels - 2}/weights"
    found_variant = None
    if last in shapes:
        found_variant = {n: "market", 2 * n: "deepfashion"}.get(int(shapes[last][2]))
    if variant is not None:
        if variant not in VARIANTS:
            raise ConversionError(f"variant must be one of {tuple(VARIANTS)}, got {variant!r}")
        if found_variant is not None and found_variant != variant:
            raise ConversionError(f"the checkpoint's G2 is the {found_variant} variant, "
                                  f"not {variant}")
    variant = variant or found_variant
    if variant is None:
        raise ConversionError(f"cannot tell G2's variant: {last} is missing or has an "
                              "unexpected shape (pass --variant market|deepfashion)")
    config = PG2Config(variant=variant, hidden_num=n, z_num=int(z_num), pose_channels=cin - 3)
    return config, (height, width)


def convert_variables(variables: Mapping[str, np.ndarray],
                      size: tuple[int, int] | None = None,
                      variant: str | None = None
                      ) -> tuple[PG2Config, tuple[int, int], dict[str, torch.Tensor]]:
    """{TF variable name: array} -> (config, image size, our state dict). Variables outside
    the generator (discriminator, optimizer slots, counters) are ignored; a generator variable
    that is missing, unexpected or of the wrong shape fails with all of them named."""
    generator = {k: v for k, v in variables.items() if is_generator_variable(k)}
    shapes = {k: tuple(np.shape(v)) for k, v in generator.items()}
    try:
        config, size = infer_config(shapes, size, variant, found=list(variables))
    except (ValueError, IndexError, TypeError) as exc:  # key variables of unexpected rank
        raise ConversionError(f"the G1 input conv and fully connected variables do not have "
                              f"the official graph's shapes: {exc}") from None
    with torch.device("meta"):
        net = PG2Generator(config, size, seed=None)
    layout = official_layout(net)
    expected = {v.name: v for v in layout}
    missing = [v.name for v in layout if v.name not in generator]
    unexpected = sorted(set(generator) - set(expected))
    wrong = [f"{k} {shapes[k]} (expected {expected[k].shape})"
             for k in expected if k in shapes and shapes[k] != expected[k].shape]
    if missing or unexpected or wrong:
        parts = [f"missing {len(missing)}: {_names(missing)}" if missing else "",
                 f"unexpected {len(unexpected)}: {_names(unexpected)}" if unexpected else "",
                 f"wrong shape {len(wrong)}: {_names(wrong)}" if wrong else ""]
        raise ConversionError(
            f"the variables do not match the official PG2 graph for {size[0]}x{size[1]} "
            f"({config.variant}, n={config.hidden_num}, z={config.z_num}): "
            + "; ".join(p for p in parts if p)
        )
    state = {}
    for v in layout:
        array = np.asarray(generator[v.name], dtype=np.float32)
        state[v.key] = torch.from_numpy(np.ascontiguousarray(v.to_torch(array)))
    return config, size, state


def read_tf_checkpoint(prefix: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The generator variables of a TF checkpoint (needs TensorFlow), and what else it held."""
    prefix = Path(prefix)
    index = Path(str(prefix) + ".index")
    if not prefix.is_dir() and not index.is_file():
        raise ConversionError(
            f"no TensorFlow checkpoint at {prefix}: expected the prefix of a checkpoint, e.g. "
            f".../model.ckpt-59999 beside model.ckpt-59999.index and .data-00000-of-00001 "
            "(or a folder with a 'checkpoint' file, or an .npz of {TF name: array})"
        )
    try:
        import tensorflow as tf
    except ImportError:
        raise ConversionError(
            "reading the official PG2 checkpoints needs TensorFlow, which is not installed "
            f"here: pip install tensorflow (the optional extra: pip install "
            f"'ctat-bench[{EXTRA}]'), or dump the variables to an .npz of {{TF name: array}} "
            "elsewhere and convert that; the converted .pt runs without TensorFlow"
        ) from None
    if prefix.is_dir():
        latest = tf.train.latest_checkpoint(str(prefix))
        if latest is None:
            raise ConversionError(f"{prefix} is a folder without a TensorFlow 'checkpoint' file")
        prefix, index = Path(latest), Path(latest + ".index")
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
        variables = {k: reader.get_tensor(k) for k in shapes if is_generator_variable(k)}
        step = int(reader.get_tensor("step")) if "step" in shapes else None
    except Exception as exc:  # TF raises its own error kinds for damaged files
        raise ConversionError(f"cannot read the TensorFlow checkpoint {prefix}: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                              ) from None
    source = {"kind": "tensorflow-checkpoint", "path": str(prefix),
              "index_sha256": _sha256(index), "step": step,
              "variables_in_file": len(shapes), "ignored": len(shapes) - len(variables)}
    return variables, source


def read_npz(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    try:
        with np.load(path, allow_pickle=False) as data:
            everything = {k: data[k] for k in data.files}
    except Exception as exc:
        raise ConversionError(f"cannot read {path} as an .npz of {{TF name: array}}: "
                              f"{exc}") from None
    variables = {k: v for k, v in everything.items() if is_generator_variable(k)}
    step = int(everything["step"]) if "step" in everything else None
    source = {"kind": "npz", "path": str(path), "sha256": _sha256(path), "step": step,
              "variables_in_file": len(everything), "ignored": len(everything) - len(variables)}
    return variables, source


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert_checkpoint(source: Path, out: Path, size: tuple[int, int] | None = None,
                       variant: str | None = None, dataset: str | None = None) -> Path:
    """Official TF checkpoint (prefix or folder; or an .npz of its variables) -> our .pt."""
    source = Path(source)
    if source.suffix == ".npz":
        if not source.is_file():
            raise ConversionError(f"{source}: no such file")
        variables, info = read_npz(source)
    else:
        variables, info = read_tf_checkpoint(source)
    config, size, state = convert_variables(variables, size=size, variant=variant)
    net = PG2Generator(config, size, seed=None)
    net.load_state_dict(state, strict=True)
    info["converted_by"] = "baselines.pg2.convert"
    return save_converted(out, net, dataset=dataset or config.variant, source=info)
