"""PG2's two-stage generator (Ma et al., NeurIPS 2017), layer for layer as the official graph.

    import torch
    from baselines.pg2.network import PG2Config, PG2Generator

    net = PG2Generator(PG2Config.for_dataset("market"), size=(128, 64), seed=0)
    src_img, tgt_pose = net.example_inputs(batch=2)        # [-1, 1] image, [-1, 1] disks
    final, g1 = net(src_img, tgt_pose, return_g1=True)     # (2, 3, 128, 64) each, unclipped
    fake = net.render(src01, src_kpts, tgt_kpts)           # harness convention: [0, 1] out
    net.parameter_counts()                                 # {"g1": 70795075, "g2": 6058883}

Official code: github.com/charliememory/Pose-Guided-Person-Image-Generation (TensorFlow 1,
NHWC, slim layers: every conv/fully-connected layer has weights and biases, SAME padding, no
normalisation), models.py (Market) and models256.py (DeepFashion), trainer.py / trainer256.py
(``activation_fn=tf.nn.relu``, ``noise_dim=0``, ``repeat_num = int(log2(H)) - 2``,
``conv_hidden_num`` n = 128, ``z_num`` = 64; main.py forces ``data_format='NHWC'``):

* **G1** ``GeneratorCNN_Pose_UAEAfterResidual`` on concat(image, target pose) (3 + 18 ch):
  conv 3x3 -> n; ``repeat_num`` R levels, level i (width c = n(i+1)): ``x + relu(conv(relu(
  conv(x))))`` (two 3x3 convs c -> c), kept as skip i, then (i < R-1) a stride-2 conv 3x3 ->
  n(i+2) + ReLU. Fully connected bottleneck (no activation): flatten the final map -> z_num ->
  ``h_f * w_f * n``, reshaped to (h_f, w_f, n). Decoder level i (0..R-1): concat(x, skip R-1-i),
  two 3x3 convs keeping that width + residual, then (i < R-1) nearest-neighbour x2 upsampling
  and a 1x1 conv -> n(R-i-1) + ReLU. Output conv 3x3 -> 3, linear.
* **G2** ``UAE_noFC_After2Noise`` (Market) / ``UAE_noFC_AfterNoise`` (DeepFashion), depth
  R - 2, on concat(G1 output, image) (6 ch): conv 3x3 -> n; level i: conv (-> n(i+1)), conv,
  both ReLU, then (i < depth-1) a stride-2 conv keeping the width + ReLU; no fully connected
  layer; decoder level i: concat with encoder level depth-1-i (Market: only levels >= 1, so the
  last decoder level has no skip; DeepFashion: every level), two 3x3 convs -> n + ReLU, then
  (i < depth-1) nearest x2 upsampling; output conv 3x3 -> 3, linear. It outputs a difference
  map: the final image is G1 + G2 (trainer.py ``G2 = G1 + DiffMap``), clipped only when denormed.

What we add for sizes the official code does not handle (PROTOCOL.md 4.2; README.md here):

* Strided convs use TensorFlow's SAME padding exactly (for even sides: zero rows/columns only
  after the map, not on both sides as ``padding=1`` would), so converted weights see the
  pixels they were trained on. Each stride-2 conv gives ``ceil(side / 2)``.
* The fully connected sizes follow the input: the final map is what R - 1 stride-2 convs leave,
  ``h_f = ceil(H / 2^(R-1))``, ``w_f = ceil(W / 2^(R-1))``; ``fc_in = h_f * w_f * n * R`` and
  ``fc_out = h_f * w_f * n``. For 128x64 this is models.py's hard-coded 8x4, for 256x256
  models256.py's 8x8; 256x176 gives 8x6 (fc_in 36,864), a network the official code cannot
  build (its sizes are fixed per file) and for which no official weights exist.
* Upsampling goes to the size of the skip it meets next (nearest, as ``tf.image.
  resize_nearest_neighbor``): exactly x2 whenever the sides are powers of two, and the
  odd sides of 256x176 (11 -> 6 -> 11) still line up.
* We flatten the bottleneck in PyTorch's (C, H, W) order; TensorFlow flattens NHWC in (H, W, C)
  order. The converter (:mod:`baselines.pg2.convert`) permutes both fully connected layers'
  weights accordingly, so the network computes what the TF graph computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench.keypoints import MISSING
from bench.models.base import NetworkConfig
from bench.models.pose_maps import DISK_RADIUS, disk_maps

#: G2's first encoder level with a skip connection: UAE_noFC_After2Noise skips level 0
#: (``if idx > 0``), UAE_noFC_AfterNoise keeps all.
VARIANTS = {"market": 1, "deepfashion": 0}
G2_FEWER_LEVELS = 2  # G2 is built with repeat_num - 2 (models.py / models256.py)
_FASHION_DATASETS = ("deepfashion", "synthetic-fashion")


@dataclass(frozen=True)
class PG2Config(NetworkConfig):
    """What a PG2 generator is built from (the image size is given separately)."""

    label = "PG2"

    variant: str = "market"  # "market" (models.py) or "deepfashion" (models256.py): G2's skips
    hidden_num: int = 128  # n, config.py --conv_hidden_num
    z_num: int = 64  # the fully connected bottleneck, --z_num in the run scripts
    pose_channels: int = 18  # one disk map per OpenPose COCO-18 joint
    disk_radius: int = DISK_RADIUS  # pose_sparse_r4

    def __post_init__(self) -> None:
        problems = []
        if self.variant not in VARIANTS:
            problems.append(f"variant must be one of {tuple(VARIANTS)}, got {self.variant!r}")
        for name in ("hidden_num", "z_num", "pose_channels"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be positive, got {getattr(self, name)}")
        if self.disk_radius < 0:
            problems.append(f"disk_radius must be >= 0, got {self.disk_radius}")
        if problems:
            raise ValueError("invalid PG2 configuration: " + "; ".join(problems))

    @classmethod
    def for_dataset(cls, dataset: str, **changes) -> PG2Config:
        """The official configuration for ``dataset``: DeepFashion-like sets get models256.py's
        G2 (all skips), everything else models.py's (Market)."""
        variant = "deepfashion" if dataset in _FASHION_DATASETS else "market"
        return cls(variant=variant, **changes)

    @property
    def g2_first_skip(self) -> int:
        return VARIANTS[self.variant]


def repeat_num(height: int) -> int:
    """G1's number of levels, ``int(np.log2(H)) - 2`` as trainer.py computes it."""
    return int(math.floor(math.log2(height))) - 2


def level_sizes(size: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """(H, W) of each level: every stride-2 SAME conv gives ``ceil(side / 2)``."""
    sizes = [(int(size[0]), int(size[1]))]
    for _ in range(levels - 1):
        h, w = sizes[-1]
        sizes.append((-(-h // 2), -(-w // 2)))
    return sizes


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(v) for v in size)
    if h < 32 or w < 1:
        raise ValueError(f"PG2 needs images at least 32 pixels high (G2 has log2(H) - 4 levels), "
                         f"got {h}x{w}")
    return h, w


class SameConv2d(nn.Conv2d):
    """A conv with bias and TensorFlow's SAME padding (slim.conv2d's default).

    Stride 1 with an odd kernel pads symmetrically, as ``padding=k // 2`` does. Stride 2 pads
    ``max((ceil(s / 2) - 1) * 2 + k - s, 0)`` in total per side length s, the smaller half
    before: an even side gets its one extra row/column after the map only."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        symmetric = stride == 1 and kernel % 2 == 1
        super().__init__(cin, cout, kernel, stride=stride,
                         padding=kernel // 2 if symmetric else 0, bias=True)
        self._symmetric = symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._symmetric:
            k, s = self.kernel_size[0], self.stride[0]
            pads = []
            for side in (x.shape[-1], x.shape[-2]):  # F.pad wants the last dimension first
                total = max((-(-side // s) - 1) * s + k - side, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


def _upsample(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """tf.image.resize_nearest_neighbor (align_corners=False): source index floor(i * in / out)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="nearest")


class ResidualLevel(nn.Module):
    """G1's level: ``x + relu(conv2(relu(conv1(x))))`` at constant width, then an optional
    resampling conv (stride-2 3x3 in the encoder, 1x1 after upsampling in the decoder)."""

    def __init__(self, channels: int, resample_to: int | None, resample_kernel: int,
                 resample_stride: int) -> None:
        super().__init__()
        self.conv1 = SameConv2d(channels, channels, 3)
        self.conv2 = SameConv2d(channels, channels, 3)
        self.resample = (SameConv2d(channels, resample_to, resample_kernel, resample_stride)
                         if resample_to is not None else None)

    def block(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.conv2(F.relu(self.conv1(x))))


class StageOne(nn.Module):
    """G1, ``GeneratorCNN_Pose_UAEAfterResidual(_256)``: concat(image, pose) -> coarse image."""

    def __init__(self, size: tuple[int, int], hidden_num: int = 128, z_num: int = 64,
                 in_channels: int = 21, out_channels: int = 3) -> None:
        super().__init__()
        n, levels = hidden_num, repeat_num(size[0])
        self.size, self.levels = tuple(size), levels
        self.sizes = level_sizes(size, levels)
        self.bottleneck_size = self.sizes[-1]  # (h_f, w_f)
        hf, wf = self.bottleneck_size
        self.conv_in = SameConv2d(in_channels, n, 3)
        self.encoder = nn.ModuleList(
            ResidualLevel(n * (i + 1), n * (i + 2) if i < levels - 1 else None, 3, 2)
            for i in range(levels)
        )
        self.fc_encode = nn.Linear(hf * wf * n * levels, z_num)
        self.fc_decode = nn.Linear(z_num, hf * wf * n)
        self.decoder = nn.ModuleList(
            ResidualLevel(n * (levels + 1) if i == 0 else 2 * n * (levels - i),
                          n * (levels - i - 1) if i < levels - 1 else None, 1, 1)
            for i in range(levels)
        )
        self.conv_out = SameConv2d(2 * n, out_channels, 3)
        self.hidden_num = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_in(x))
        skips = []
        for level in self.encoder:
            x = level.block(x)
            skips.append(x)
            if level.resample is not None:
                x = F.relu(level.resample(x))
        # fully connected bottleneck, no activations; (C, H, W) flatten order (see convert.py)
        z = self.fc_encode(x.flatten(1))
        hf, wf = self.bottleneck_size
        x = self.fc_decode(z).view(-1, self.hidden_num, hf, wf)
        for i, level in enumerate(self.decoder):
            x = level.block(torch.cat([x, skips[-1 - i]], dim=1))
            if level.resample is not None:
                x = F.relu(level.resample(_upsample(x, skips[-2 - i].shape[-2:])))
        return self.conv_out(x)


class PlainLevel(nn.Module):
    """G2's level: two ReLU 3x3 convs, then (encoder) an optional stride-2 conv."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.conv1 = SameConv2d(cin, cout, 3)
        self.conv2 = SameConv2d(cout, cout, 3)
        self.down = SameConv2d(cout, cout, 3, 2) if down else None

    def block(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class StageTwo(nn.Module):
    """G2, ``UAE_noFC_After2Noise`` (first_skip 1) / ``UAE_noFC_AfterNoise`` (first_skip 0):
    concat(G1 output, image) -> difference map."""

    def __init__(self, size: tuple[int, int], levels: int, hidden_num: int = 128,
                 first_skip: int = 1, in_channels: int = 6, out_channels: int = 3) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"G2 needs at least one level, got {levels}")
        n = hidden_num
        self.size, self.levels, self.first_skip = tuple(size), levels, first_skip
        self.sizes = level_sizes(size, levels)
        self.conv_in = SameConv2d(in_channels, n, 3)
        self.encoder = nn.ModuleList(
            PlainLevel(n if i == 0 else n * i, n * (i + 1), down=i < levels - 1)
            for i in range(levels)
        )
        decoder = []
        for i in range(levels):
            cin = n * levels if i == 0 else n
            skip = levels - 1 - i
            if skip >= first_skip:
                cin += n * (skip + 1)
            decoder.append(PlainLevel(cin, n, down=False))
        self.decoder = nn.ModuleList(decoder)
        self.conv_out = SameConv2d(n, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv_in(x))
        features = []
        for level in self.encoder:
            x = level.block(x)
            features.append(x)
            if level.down is not None:
                x = F.relu(level.down(x))
        for i, level in enumerate(self.decoder):
            skip = self.levels - 1 - i
            if skip >= self.first_skip:
                x = torch.cat([x, features[skip]], dim=1)
            x = level.block(x)
            if i < self.levels - 1:
                x = _upsample(x, features[skip - 1].shape[-2:])
        return self.conv_out(x)


class PG2Generator(nn.Module):
    """Both stages as they run at inference: ``final = G1(x, pose) + G2(G1, x)``."""

    network_name = "pg2"
    config_class = PG2Config

    def __init__(self, config: PG2Config | None = None, size: tuple[int, int] = (128, 64),
                 seed: int | None = 0) -> None:
        super().__init__()
        config = config or PG2Config()
        self.config = config
        self.size = check_size(size)
        levels = repeat_num(self.size[0])
        # a seeded build leaves the caller's random stream as it was
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.g1 = StageOne(self.size, config.hidden_num, config.z_num,
                               in_channels=3 + config.pose_channels)
            self.g2 = StageTwo(self.size, levels - G2_FEWER_LEVELS, config.hidden_num,
                               first_skip=config.g2_first_skip)
            if seed is not None:
                init_weights(self)

    def forward(self, src_img: torch.Tensor, tgt_pose: torch.Tensor,
                return_g1: bool = False):
        """Source image and target disk maps, both in [-1, 1] -> the final image (and G1's),
        unclipped, in the generator's [-1, 1] convention. PG2 never sees the source pose."""
        g1 = self.g1(torch.cat([src_img, tgt_pose], dim=1))
        final = g1 + self.g2(torch.cat([g1, src_img], dim=1))
        return (final, g1) if return_g1 else final

    def pose_maps(self, kpts: torch.Tensor) -> torch.Tensor:
        """(N, 18, 2) (x, y) keypoints, -1 missing -> (N, 18, H, W) disks rescaled to [-1, 1]."""
        return disk_maps(kpts, self.size, self.config.disk_radius) * 2 - 1

    def render(self, src_img: torch.Tensor, src_kpts: torch.Tensor, tgt_kpts: torch.Tensor,
               return_g1: bool = False):
        """The harness convention: [0, 1] images and keypoints in, [0, 1] images out
        (``clip((G + 1) * 127.5, 0, 255)`` as trainer.py's denorm_img, without the uint8 step).

        Images as high as the network and narrower are centre-padded to its width by edge
        replication, keypoints shifted with them, and the output cropped back: the inverse of
        PATN's 256 -> 176 crop, so 256x256 DeepFashion weights run on 256x176 images."""
        del src_kpts  # PG2's generator is conditioned on the target pose only
        h, w = src_img.shape[-2:]
        left = _frame_offset((h, w), self.size)
        if left:
            right = self.size[1] - w - left
            src_img = F.pad(src_img, (left, right, 0, 0), mode="replicate")
            present = (tgt_kpts != MISSING).all(-1, keepdim=True)
            shift = torch.tensor([float(left), 0.0], device=tgt_kpts.device, dtype=tgt_kpts.dtype)
            tgt_kpts = torch.where(present, tgt_kpts + shift, tgt_kpts)
        out = self(src_img * 2 - 1, self.pose_maps(tgt_kpts), return_g1=return_g1)
        outs = out if return_g1 else (out,)
        outs = tuple(((o[..., left:left + w] + 1) / 2).clamp(0, 1) for o in outs)
        return outs if return_g1 else outs[0]

    def example_inputs(self, batch: int = 1, device: str | torch.device = "cpu"):
        """Deterministic inputs of the right shapes (shape checks and efficiency probes)."""
        g = torch.Generator().manual_seed(0)
        h, w = self.size
        img = torch.rand(batch, 3, h, w, generator=g) * 2 - 1
        pose = (torch.rand(batch, self.config.pose_channels, h, w, generator=g) > 0.97).float()
        return img.to(device), (pose * 2 - 1).to(device)

    def parameter_counts(self) -> dict[str, int]:
        return {"g1": count_parameters(self.g1), "g2": count_parameters(self.g2)}


def _frame_offset(image_size: tuple[int, int], net_size: tuple[int, int]) -> int:
    """Columns of padding on the left to fit ``image_size`` into the network's frame."""
    (h, w), (nh, nw) = image_size, net_size
    if (h, w) == (nh, nw):
        return 0
    if h != nh or w > nw:
        raise ValueError(f"PG2 was built for {nh}x{nw} images (or narrower ones of the same "
                         f"height, centre-padded), got {h}x{w}")
    return (nw - w) // 2


def fits(image_size: tuple[int, int], net_size: tuple[int, int]) -> bool:
    """Whether a network of ``net_size`` can run images of ``image_size`` (equal, or as high
    and narrower: centre-padded)."""
    (h, w), (nh, nw) = image_size, net_size
    return h == nh and w <= nw


def init_weights(net: nn.Module) -> None:
    """slim's defaults: Xavier/Glorot uniform weights, zero biases (conv and fully connected)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
