"""The metric registry: every score the harness can compute, imported lazily by name.

    from bench.metrics import METRICS
    metric = METRICS.get("mask_ssim")(shared)   # -> bench.metrics.ssim.MaskSSIM instance

``ssim`` / ``mask_ssim`` reproduce the published PATN protocol (scikit-image 0.14.2);
``*_skimage`` are today's scikit-image; ``*_fixed`` use a data range of 255.

The GFLA-lineage scripts' scores (``ssim_box51``, ``ssim_256``, ``psnr_script``, ``l1_script``,
``mae_script``, ``lpips_script``, ``fid_tv``; :mod:`bench.metrics.script`,
:mod:`bench.metrics.script_fid`) take their settings from the run's script protocol
(``gfla``, ``dptn``, ``pidm``, ``cfld``); ``fid_train`` / ``kid_train`` compare with the
training folder whatever the protocol (``fair``). None of them is in :func:`default_metrics`,
the set scored when a protocol names none::

    default_metrics()        # ('ssim', 'mask_ssim', ..., 'pckh')
"""

from bench.registry import Registry

METRICS: Registry = Registry("metric")

METRICS.register_lazy("ssim", "bench.metrics.ssim:SSIM")
METRICS.register_lazy("mask_ssim", "bench.metrics.ssim:MaskSSIM")
METRICS.register_lazy("ssim_skimage", "bench.metrics.ssim:SSIMSkimage")
METRICS.register_lazy("mask_ssim_skimage", "bench.metrics.ssim:MaskSSIMSkimage")
METRICS.register_lazy("ssim_fixed", "bench.metrics.ssim:SSIMFixed")
METRICS.register_lazy("mask_ssim_fixed", "bench.metrics.ssim:MaskSSIMFixed")
METRICS.register_lazy("l1", "bench.metrics.pixel:L1")
METRICS.register_lazy("psnr", "bench.metrics.pixel:PSNR")
METRICS.register_lazy("lpips", "bench.metrics.lpips:LPIPS")
METRICS.register_lazy("is", "bench.metrics.fidelity:InceptionScore")
METRICS.register_lazy("mask_is", "bench.metrics.fidelity:MaskInceptionScore")
METRICS.register_lazy("fid", "bench.metrics.fidelity:FID")
METRICS.register_lazy("kid", "bench.metrics.fidelity:KID")
METRICS.register_lazy("pckh", "bench.metrics.pckh:PCKh")
METRICS.register_lazy("ssim_box51", "bench.metrics.script:SSIMBox51")
METRICS.register_lazy("ssim_256", "bench.metrics.script:SSIM256")
METRICS.register_lazy("psnr_script", "bench.metrics.script:ScriptPSNR")
METRICS.register_lazy("l1_script", "bench.metrics.script:ScriptL1")
METRICS.register_lazy("mae_script", "bench.metrics.script:ScriptMAE")
METRICS.register_lazy("lpips_script", "bench.metrics.script:ScriptLPIPS")
METRICS.register_lazy("fid_tv", "bench.metrics.script_fid:TorchvisionFID")
METRICS.register_lazy("fid_train", "bench.metrics.fidelity:FIDTrain")
METRICS.register_lazy("kid_train", "bench.metrics.fidelity:KIDTrain")

# scored only where a protocol names them (their settings, or their real set, come from it)
PROTOCOL_ONLY = ("ssim_box51", "ssim_256", "psnr_script", "l1_script", "mae_script",
                 "lpips_script", "fid_tv", "fid_train", "kid_train")


def default_metrics() -> tuple[str, ...]:
    """Every registered metric except those of :data:`PROTOCOL_ONLY`, in registry order."""
    return tuple(n for n in METRICS.names() if n not in PROTOCOL_ONLY)


__all__ = ["METRICS", "PROTOCOL_ONLY", "default_metrics"]
