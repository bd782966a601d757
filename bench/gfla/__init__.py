"""The computations of GFLA's ``script/metrics.py`` and its forks (DPTN, PIDM, CFLD).

Library pieces, each reproducing one step of those scripts exactly (PROTOCOL.md 3.9, 3.9.1);
protocols following the scripts (``dptn``, ``pidm``, ``cfld``, a script-faithful ``gfla``) will
assemble them; none is wired yet (docs/gfla.md):

=======================  ====================================================================
``prepare``              resizes (PIL, cv2, torch, torchvision), ``pad_256``, uint8
                         truncation, JPEG as imageio wrote it, float32 / 255
``reconstruction``       per-pair ``ssim`` (box 51), ``ssim_256`` (Gaussian, per
                         scikit-image version), ``psnr``, ``l1``, ``mae``
``inception``            torchvision's ImageNet Inception v3 through the scripts' wrapper
``frechet``              the batch-64 remainder rule, statistics, the Fréchet distance
``naming``               the ground-truth file of a result file (``{src}_2_{tgt}_vis``)
=======================  ====================================================================

Usage::

    from bench.gfla.reconstruction import ssim_box, ssim_256
    from bench.gfla.frechet import batch_plan, statistics, frechet_distance
    values = ssim_box(gt_u8, pred_u8, skimage="0.17.2")    # one value per pair
"""
