"""The metric registry: every score the harness can compute, imported lazily by name.

    from bench.metrics import METRICS
    metric = METRICS.get("mask_ssim")(shared)   # -> bench.metrics.ssim.MaskSSIM instance

``ssim`` / ``mask_ssim`` reproduce the published PATN protocol (scikit-image 0.14.2);
``*_skimage`` are today's scikit-image; ``*_fixed`` use a data range of 255.
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

__all__ = ["METRICS"]
