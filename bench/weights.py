"""The pretrained files the project knows, where they are looked for, and how to provide them.

Every network is loaded through its library's own mechanism: the torch hub cache
(``torch.hub.get_dir()/checkpoints``, ``$TORCH_HOME``), a file the library ships, or an explicit
path (``--weights NAME=PATH``). On a machine with internet access a missing hub file is
downloaded the way the library does it (``torch.hub.download_url_to_file`` with the hash prefix
of the file name checked); offline, :func:`resolve` raises :class:`WeightsUnavailableError`
naming the file, every place looked in and how to provide it::

    from bench.weights import WEIGHTS, resolve, locate_all
    path = resolve("inception-fid", download=False)      # Path, or WeightsUnavailableError
    for status in locate_all():                          # what ``python -m bench weights`` prints
        print(status.spec.name, status.present, status.path)
    install(Path("~/Downloads/alexnet-owt-7be5be79.pth"))  # ``python -m bench weights add FILE``

A file is identified by the first 8 hex digits of its SHA-256, which the torch hub convention
puts in the file name (``alexnet-owt-7be5be79.pth``); a file whose checksum does not match
is never installed or used silently.

Weights are data, never code: every file is read by :func:`load_state_dict` (the bytes are
hashed, then unpickled with ``torch.load(weights_only=True)``, which refuses anything but
tensors and plain containers) and the libraries are handed tensors, never a path they would
unpickle themselves. The result says which file it was and whether it is the published one,
which every metric record carries (``extra["weights"]``, :mod:`bench.provenance`)::

    state, used = load_state_dict("alexnet", path)   # WeightsUnavailableError naming the file
    used.record()    # {"file": "...", "sha256": "<64 hex>", "published": True}
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError, WeightsUnavailableError
from bench.registry import Registry

HUB = "torch hub cache"
PACKAGE = "installed package"


@dataclass(frozen=True)
class WeightsSpec:
    """One pretrained file: what it is, where its library keeps it, who uses it."""

    name: str  # our name, used by --weights NAME=PATH
    file: str  # the file name the library uses
    url: str | None  # where the library downloads it from (None: shipped with the package)
    sha256_prefix: str | None  # hash prefix the library publishes (in the file name), if any
    used_by: tuple[str, ...]  # metrics / models / losses that need it
    library: str
    location: str = HUB  # HUB or PACKAGE
    package_path: tuple[str, ...] = ()  # for PACKAGE: (module, relative path inside it)
    description: str = ""
    # the whole SHA-256 of the published file, where it is known (files shipped in a package)
    published_sha256: str | None = None

    def is_published(self, sha256: str) -> bool:
        """Whether a file with this SHA-256 is the one the library publishes: the whole hash
        where it is known, else the prefix of the hub file name (torch hub's own check)."""
        if self.published_sha256 is not None:
            return sha256 == self.published_sha256
        return self.sha256_prefix is not None and sha256.startswith(self.sha256_prefix)

    def default_path(self) -> Path:
        """Where the library itself looks for the file."""
        if self.location == HUB:
            return hub_checkpoints_dir() / self.file
        import importlib.util

        module, rel = self.package_path
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            return Path(f"<package {module} not installed>") / rel
        return Path(spec.origin).parent / rel


WEIGHTS: Registry[WeightsSpec] = Registry("network weights")


def _register(spec: WeightsSpec) -> None:
    WEIGHTS.register(spec.name)(spec)


_register(WeightsSpec(
    name="inception-fid", file="weights-inception-2015-12-05-6726825d.pth",
    url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
        "weights-inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d", used_by=("is", "mask_is", "fid", "kid", "fid_train", "kid_train"),
    library="torch-fidelity",
    description="TF inception-2015-12-05 graph ported to PyTorch (IS of PATN, FID of TTUR)",
))
_register(WeightsSpec(
    name="inception-torchvision", file="inception_v3_google-0cc3c7bd.pth",
    url="https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
    sha256_prefix="0cc3c7bd", used_by=("fid_tv (protocols pidm, cfld)",),
    library="torchvision",
    description="ImageNet Inception v3 of torchvision >= 0.10 (IMAGENET1K_V1; CFLD, PIDM)",
))
_register(WeightsSpec(
    name="inception-torchvision-v0", file="inception_v3_google-1a9a5a14.pth",
    url="https://download.pytorch.org/models/inception_v3_google-1a9a5a14.pth",
    sha256_prefix="1a9a5a14", used_by=("fid_tv (protocols gfla, dptn)",),
    library="torchvision",
    description="ImageNet Inception v3 of torchvision <= 0.9 (GFLA, DPTN)",
))
_register(WeightsSpec(
    name="alexnet", file="alexnet-owt-7be5be79.pth",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    sha256_prefix="7be5be79", used_by=("lpips", "lpips_script"), library="torchvision",
    description="ImageNet AlexNet, the LPIPS trunk",
))
_register(WeightsSpec(
    name="lpips-alex-v0.1", file="alex.pth", url=None, sha256_prefix=None,
    used_by=("lpips", "lpips_script"), library="lpips", location=PACKAGE,
    package_path=("lpips", "weights/v0.1/alex.pth"),
    description="LPIPS v0.1 linear layers on AlexNet (shipped with the lpips package)",
    # sha256 of lpips/weights/v0.1/alex.pth as shipped in the lpips 0.1.4 wheel (PyPI)
    published_sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
))
_register(WeightsSpec(
    name="keypointrcnn", file="keypointrcnn_resnet50_fpn_coco-fc266e95.pth",
    url="https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth",
    sha256_prefix="fc266e95", used_by=("pckh (estimator keypointrcnn)",), library="torchvision",
    description="Keypoint R-CNN ResNet-50 FPN, COCO 17 keypoints (torchvision COCO_V1)",
))
_register(WeightsSpec(
    name="vgg19", file="vgg19-dcbb9e9d.pth",
    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    sha256_prefix="dcbb9e9d", used_by=("ctat perceptual loss",), library="torchvision",
    description="ImageNet VGG19 (perceptual loss of CTAT / PATN training)",
))


def hub_checkpoints_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torchvision and torch-fidelity cache weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class WeightsStatus:
    spec: WeightsSpec
    looked_in: tuple[Path, ...]  # explicit path first (if any), then the library's location
    path: Path | None  # the file found, or None
    sha256: str | None = None  # of the file found (only when asked)

    @property
    def present(self) -> bool:
        return self.path is not None

    @property
    def checksum_ok(self) -> bool | None:
        """Whether the file is the published one; None when its hash was not computed."""
        if self.sha256 is None:
            return None
        return self.spec.is_published(self.sha256)


def locate(name: str, explicit: str | Path | None = None, *, checksum: bool = False) -> WeightsStatus:
    """Find ``name``'s file without downloading: the explicit path, else the library's place."""
    spec = WEIGHTS.get(name)
    looked = []
    found = None
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        looked.append(explicit)
        if explicit.is_file():
            found = explicit
    if found is None and explicit is None:
        default = spec.default_path()
        looked.append(default)
        if default.is_file():
            found = default
    sha = sha256_file(found) if (checksum and found is not None) else None
    return WeightsStatus(spec=spec, looked_in=tuple(looked), path=found, sha256=sha)


def locate_all(explicit: Mapping[str, str | Path] | None = None, *, checksum: bool = True
               ) -> list[WeightsStatus]:
    explicit = dict(explicit or {})
    return [locate(n, explicit.get(n), checksum=checksum) for n in WEIGHTS.names()]


def how_to_provide(spec: WeightsSpec) -> str:
    source = f"download {spec.url}" if spec.url else f"reinstall the {spec.library} package"
    return (f"{source}, then `python -m bench weights add FILE` (installs it into "
            f"{spec.default_path().parent}) or pass --weights {spec.name}=PATH")


def resolve(name: str, explicit: str | Path | None = None, *, download: bool = True) -> Path:
    """The file of ``name``: an explicit path, the library's cache, or a download into the
    cache (as the library would do it); :class:`WeightsUnavailableError` otherwise."""
    status = locate(name, explicit)
    spec = status.spec
    if status.present:
        return status.path
    if explicit is not None:
        raise WeightsUnavailableError(
            f"{spec.name} weights ({spec.file}) not found at the given path {status.looked_in[0]}"
        )
    target = spec.default_path()
    attempt = ""
    if download and spec.url and spec.location == HUB:
        import torch

        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(spec.url, str(target), hash_prefix=spec.sha256_prefix,
                                           progress=False)
            return target
        except Exception as exc:  # no network, proxy, checksum: say what happened
            attempt = f"; downloading {spec.url} failed ({type(exc).__name__}: {exc})"
    elif spec.url and spec.location == HUB:
        attempt = "; downloading is off (--offline)"
    raise WeightsUnavailableError(
        f"{spec.name} weights ({spec.file}, {spec.library}) not found: looked in "
        f"{', '.join(str(p) for p in status.looked_in)}{attempt}. To provide them: "
        f"{how_to_provide(spec)}"
    )


@dataclass(frozen=True)
class WeightsUsed:
    """The file a network was loaded from: what every metric record names."""

    network: str
    path: Path
    sha256: str
    published: bool

    def record(self) -> dict:
        """The entry of ``extra["weights"][network]`` on a metric record."""
        return {"file": str(self.path), "sha256": self.sha256, "published": self.published}


def load_state_dict(network: str, path: str | Path) -> tuple[dict, WeightsUsed]:
    """Read a weights file as data: ``(state dict of tensors, WeightsUsed)``.

    The bytes are read once, hashed, and unpickled with ``torch.load(weights_only=True)``
    (which refuses to construct anything but tensors and plain containers, so a crafted pickle
    cannot run code); the result must be a mapping of names to tensors. Any failure is a
    :class:`WeightsUnavailableError` naming the file. ``network`` is the registry name
    (:data:`WEIGHTS`) the file stands for, which decides whether it is the published file."""
    import torch

    spec = WEIGHTS.get(network)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsUnavailableError(
            f"{spec.name} weights file {path} cannot be read: {exc.strerror or exc}") from None
    sha = hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4" of a plain pickle
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds on foreign or crafted bytes
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise WeightsUnavailableError(
            f"{spec.name} weights file {path} (sha256 {sha[:16]}...) is not a state dict of "
            f"tensors that torch.load(weights_only=True) accepts, and files are never loaded "
            f"any other way: {type(exc).__name__}: {first}") from None
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        found = (f"a mapping with values {sorted({type(v).__name__ for v in state.values()})}"
                 if isinstance(state, Mapping) else f"a {type(state).__name__}")
        raise WeightsUnavailableError(
            f"{spec.name} weights file {path} holds {found}, not a state dict of tensors")
    used = WeightsUsed(network=spec.name, path=path, sha256=sha, published=spec.is_published(sha))
    return dict(state), used


def identify(path: Path) -> tuple[WeightsSpec | None, str]:
    """The known network a file is (by its SHA-256 prefix), and its SHA-256."""
    sha = sha256_file(path)
    for name in WEIGHTS.names():
        spec = WEIGHTS.get(name)
        if spec.sha256_prefix and sha.startswith(spec.sha256_prefix):
            return spec, sha
    return None, sha


def install(path: str | Path, name: str | None = None) -> tuple[WeightsSpec, Path]:
    """Copy a user-provided file into the place its library looks (``weights add FILE``).

    The file is identified by its checksum; ``name`` may say which network it is, and is then
    checked against the checksum the library publishes. Nothing is installed on a mismatch."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BenchError(f"weights file {path} does not exist")
    found, sha = identify(path)
    if name is not None:
        spec = WEIGHTS.get(name)
        if spec.sha256_prefix and not sha.startswith(spec.sha256_prefix):
            raise BenchError(
                f"{path} has sha256 {sha[:16]}..., but {spec.name} ({spec.file}) must start with "
                f"{spec.sha256_prefix}: not installed (a different or corrupt file)"
            )
    elif found is None:
        by_name = [n for n in WEIGHTS.names() if WEIGHTS.get(n).file == path.name]
        hint = (f"; its name matches {by_name[0]} but the checksum does not "
                f"(expected {WEIGHTS.get(by_name[0]).sha256_prefix}...)") if by_name else ""
        raise BenchError(
            f"{path} (sha256 {sha[:16]}...) is none of the known weight files{hint}. Known: "
            + ", ".join(f"{n} ({WEIGHTS.get(n).file})" for n in WEIGHTS.names())
        )
    else:
        spec = found
    if spec.location != HUB:
        raise BenchError(
            f"{spec.name} is shipped with the {spec.library} package ({spec.default_path()}); "
            f"reinstall the package or pass --weights {spec.name}={path}"
        )
    target = spec.default_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() != path.resolve():
        tmp = target.with_name(target.name + ".partial")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
    return spec, target


def format_status(statuses: list[WeightsStatus]) -> str:
    """The table ``python -m bench weights`` prints."""
    lines = []
    for st in statuses:
        spec = st.spec
        if st.present:
            expected = (spec.published_sha256 or spec.sha256_prefix or "")[:16]
            check = {True: "checksum ok (the published file)",
                     False: f"NOT the published file (expected sha256 {expected}...): values "
                            "computed with it are labelled (other weights)",
                     None: "checksum not computed"}[st.checksum_ok]
            state = f"present  sha256 {st.sha256}  {check}"
        else:
            state = "MISSING  " + (f"download: {spec.url}" if spec.url
                                   else f"reinstall the {spec.library} package")
        lines += [
            f"{spec.name} ({spec.library}; used by {', '.join(spec.used_by)})",
            f"  file:      {spec.file}",
            f"  looked in: {', '.join(str(p) for p in st.looked_in)}",
            f"  {state}",
        ]
    lines.append("add a file you downloaded: python -m bench weights add FILE "
                 "(or pass --weights NETWORK=PATH to run)")
    return "\n".join(lines)
