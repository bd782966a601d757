"""How a record key becomes a table column: display name, unit, scale and precision, decided here
once for every output (CSV, Markdown, LaTeX, plots, HTML)::

    from bench.report.columns import column_format, efficiency_column, EFFICIENCY_COLUMNS
    column_format("psnr", unit="dB", precision=4)        # ColumnFormat(label="PSNR", unit="dB", ...)
    efficiency_column("latency_ms@cuda-bf16")            # the "latency_ms" spec, device "cuda-bf16"
    efficiency_column("params_trainable")                # None: not a table column by default

Quality metrics keep their records' own unit and precision (``extra.precision``, set on the
metric class). Efficiency records (``bench.efficiency``: parameters, MACs, latency, ...) are
picked by key prefix from :data:`EFFICIENCY_COLUMNS`: a key matches a prefix when it equals it
or continues with ``@DEVICE`` (``latency_ms@cpu``). Adjust the list here to change the
efficiency columns of every report. Any other key renders with its record's unit.

The order of the quality columns is data too: :data:`FIELD_ORDER` holds the order the published
tables of each dataset family print their main metrics in, :data:`SECONDARY_ORDER` the other
keys after them; :func:`metric_order` sorts a run's keys by them::

    metric_order(["psnr", "lpips", "ssim"], dataset="market")   # ['ssim', 'lpips', 'psnr']
"""

from __future__ import annotations

from dataclasses import dataclass

# Paper names of the metrics the harness computes; any other key is shown as it is.
DISPLAY_NAMES: dict[str, str] = {
    "ssim": "SSIM", "ssim_skimage": "SSIM (skimage)", "ssim_fixed": "SSIM (fixed)",
    "mask_ssim": "Mask-SSIM", "mask_ssim_skimage": "Mask-SSIM (skimage)",
    "mask_ssim_fixed": "Mask-SSIM (fixed)", "l1": "L1", "psnr": "PSNR", "lpips": "LPIPS",
    "is": "IS", "is_std": "IS std", "mask_is": "Mask-IS", "mask_is_std": "Mask-IS std",
    "fid": "FID", "kid": "KID", "kid_std": "KID std", "pckh": "PCKh",
}

DEFAULT_PRECISION = 2

#: The main metrics in the order of the field's comparison tables, per dataset family, as the
#: project's issue 11 fixes it: Market leads with the PATN lineage's SSIM, mask-SSIM, IS,
#: mask-IS, PCKh, then FID, LPIPS; DeepFashion with the GFLA lineage's SSIM, FID, LPIPS, then IS,
#: PCKh. (Individual papers differ: 2s-ATN's Table 1 prints SSIM, IS, mask-SSIM, mask-IS, PCKh;
#: IMAGPose's SSIM, LPIPS, FID; client's PROTOCOL.md 1.3 and 2.3.) ``--metrics`` gives any order.
FIELD_ORDER: dict[str, tuple[str, ...]] = {
    "market": ("ssim", "mask_ssim", "is", "mask_is", "pckh", "fid", "lpips"),
    "deepfashion": ("ssim", "fid", "lpips", "is", "pckh"),
}
#: Dataset image size (H, W) -> family; a dataset of another size follows DEFAULT_FAMILY.
FAMILY_BY_SIZE: dict[tuple[int, int], str] = {(128, 64): "market", (256, 176): "deepfashion"}
DEFAULT_FAMILY = "market"
#: Every other key the harness records, after the main ones in this order; keys not listed
#: follow in record order.
#: Variants of a main metric computed under another convention (PROTOCOL.md 3.3: today's
#: scikit-image, a fixed data range): kept in the records and the CSV, and shown in the
#: Markdown / LaTeX tables only when asked (``--metrics``) or when their main metric is absent,
#: since a paper reports one SSIM.
VARIANT_OF: dict[str, str] = {
    "ssim_skimage": "ssim", "ssim_fixed": "ssim",
    "mask_ssim_skimage": "mask_ssim", "mask_ssim_fixed": "mask_ssim",
}
SECONDARY_ORDER: tuple[str, ...] = (
    "ssim", "mask_ssim", "is", "mask_is", "lpips", "fid", "pckh",  # main elsewhere
    "ssim_skimage", "mask_ssim_skimage", "ssim_fixed", "mask_ssim_fixed", "l1", "psnr", "kid",
    "is_std", "mask_is_std", "kid_std",
)


@dataclass(frozen=True)
class EfficiencyColumn:
    """An efficiency quantity shown as a column: ``value * scale`` in ``unit``."""

    prefix: str  # record key, or key before "@DEVICE"
    label: str
    unit: str
    scale: float = 1.0
    precision: int = 2
    note: str | None = None  # the convention, printed once under the table

    def matches(self, key: str) -> bool:
        return key == self.prefix or key.startswith(self.prefix + "@")


#: Every efficiency quantity a report knows how to show; DEFAULT_EFFICIENCY picks the columns.
EFFICIENCY_COLUMNS: tuple[EfficiencyColumn, ...] = (
    EfficiencyColumn("params", "Params", "M", 1e-6, 2),
    EfficiencyColumn("macs", "MACs", "G", 1e-9, 2,
                     note="MACs: multiply-accumulates per image at batch 1 (fvcore's "
                          "convention); FLOPs = 2 x MACs."),
    EfficiencyColumn("flops", "FLOPs", "G", 1e-9, 2,
                     note="FLOPs: 2 x fvcore's multiply-accumulates per image at batch 1."),
    EfficiencyColumn("latency_ms", "Latency", "ms", 1.0, 1,
                     note="Latency: median per image at batch 1."),
    EfficiencyColumn("throughput", "Throughput", "img/s", 1.0, 1),
    EfficiencyColumn("peak_memory", "Peak mem.", "MiB", 2.0 ** -20, 0,
                     note="Peak mem.: peak memory of one batch-1 call."),
)
DEFAULT_EFFICIENCY: tuple[str, ...] = ("params", "macs", "latency_ms")

#: Keys of the latency-vs-batch sweep: ``latency_ms_b{B}@DEVICE``.
SWEEP_PREFIX = "latency_ms_b"


def efficiency_column(key: str, prefixes: tuple[str, ...] | None = None) -> EfficiencyColumn | None:
    """The spec of ``key`` among ``prefixes`` (default: every known one), or None."""
    for spec in EFFICIENCY_COLUMNS:
        if (prefixes is None or spec.prefix in prefixes) and spec.matches(key):
            return spec
    return None


def device_of(key: str) -> str | None:
    """``latency_ms@cuda-bf16`` -> ``cuda-bf16``; None without a device part."""
    return key.partition("@")[2] or None


@dataclass(frozen=True)
class ColumnFormat:
    label: str
    unit: str | None
    scale: float
    precision: int
    note: str | None = None


def column_format(key: str, unit: str | None, precision: int | None,
                  prefixes: tuple[str, ...] | None = None) -> ColumnFormat:
    """Display decisions for ``key`` (an efficiency spec wins over the record's own unit)."""
    spec = efficiency_column(key, prefixes)
    if spec is not None:
        device = device_of(key)
        label = f"{spec.label} {device}" if device else spec.label
        return ColumnFormat(label, spec.unit, spec.scale, spec.precision, spec.note)
    base, _, device = key.partition("@")
    label = DISPLAY_NAMES.get(base, base) + (f" {device}" if device else "")
    return ColumnFormat(label, unit, 1.0, DEFAULT_PRECISION if precision is None else precision)


def dataset_family(dataset: str | None) -> str:
    """``market`` or ``deepfashion``: the family whose tables a dataset's report follows, from
    its registered image size (``synthetic`` is Market-like, ``synthetic-fashion``
    DeepFashion-like); DEFAULT_FAMILY for an unknown dataset."""
    if dataset in FIELD_ORDER:
        return dataset
    from bench.data import DATASETS

    try:
        size = tuple(DATASETS.get(dataset).size)
    except KeyError:  # an unregistered name (UnknownNameError is a KeyError)
        return DEFAULT_FAMILY
    return FAMILY_BY_SIZE.get(size, DEFAULT_FAMILY)


def main_metrics(dataset: str | None) -> tuple[str, ...]:
    """The main metrics of ``dataset``'s family, in the field's order."""
    return FIELD_ORDER[dataset_family(dataset)]


def metric_order(keys, dataset: str | None = None) -> list[str]:
    """``keys`` sorted: the family's main metrics in the field's order, then
    :data:`SECONDARY_ORDER`, then the rest in their given order."""
    keys = list(dict.fromkeys(keys))
    rank = {k: i for i, k in enumerate(dict.fromkeys((*main_metrics(dataset),
                                                      *SECONDARY_ORDER)))}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), keys.index(k)))
