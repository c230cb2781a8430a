"""gan_lib: a small library for data-efficient BigGAN training studies.

BigGAN (Brock et al. 2018), the MineGAN miner (Wang et al. 2019), DiffAugment (Zhao et al. 2020),
consistency regularization (Zhang et al. 2019), training and clean-fid evaluation.
"""

__version__ = "0.1.0"
