"""Evaluation: FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) as clean-fid computes them
(Parmar, Zhang and Zhu, "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022),
plus a memorization check and a truncation sweep (BigGAN, Brock et al. 2018).

The numbers are clean-fid's `clean` mode: the TorchScript Inception-v3 `inception-2015-12-05.pt`, images
quantized to uint8, resized to 299x299 with Pillow's bicubic filter on float32 channels (no re-quantization),
normalised as `(x - 128) / 128`, and clean-fid's own `frechet_distance` and `kernel_distance`. What differs is
only where the time goes: generated images never touch the disk, reference features are cached per dataset, and
the Frechet distance is taken in the span of the features.

    network       find, verify and load the Inception network file
    folded        the network's graph replayed with batch norms folded into convolutions (the CPU path)
    resize        uint8 quantization and clean-fid's resize to 299 (Pillow on the CPU, a bit-identical torch copy)
    features      feature extractors (Inception, a tiny test net) and the features of real images
    samples       fixed evaluation latents and generated images, in memory
    scores        FID and KID of feature sets, of a generator against a dataset, of two folders
    memorization  nearest training image per generated sample
    manifold      precision, recall, density and coverage (k-NN balls in the same features)

Nothing here imports training: a generator is any `sample_fn(z, y)` returning images in [-1, 1].
The command line (`python -m gan_lib.metrics`) lives in `gan_lib.metrics`.
"""

from gan_lib.evaluation.features import (IMAGE_SUFFIXES, FeatureExtractor, InceptionExtractor, TinyExtractor,
                                         cleanfid_model, folder_images, image_features, inception_extractor,
                                         reference_features, reference_key, tiny_extractor)
from gan_lib.evaluation.manifold import PRDC_K, prdc
from gan_lib.evaluation.memorization import MemorizationReport, memorization, memorization_check, nearest_neighbours
from gan_lib.evaluation.network import (INCEPTION_FILE, INCEPTION_NAME, INCEPTION_URL, KNOWN_INCEPTION_SHA1,
                                        find_inception)
from gan_lib.evaluation.resize import RESIZE, clean_resize, to_uint8
from gan_lib.evaluation.samples import SampleFn, fixed_latents, generate_images, generated_features
from gan_lib.evaluation.scores import KID_SEED, evaluate, fid_folders, fid_kid, truncation_sweep

__all__ = [
    "IMAGE_SUFFIXES", "INCEPTION_FILE", "INCEPTION_NAME", "INCEPTION_URL", "KID_SEED", "KNOWN_INCEPTION_SHA1",
    "PRDC_K", "RESIZE", "FeatureExtractor", "InceptionExtractor", "MemorizationReport", "SampleFn", "TinyExtractor",
    "clean_resize", "cleanfid_model", "evaluate", "fid_folders", "fid_kid", "find_inception", "fixed_latents",
    "folder_images", "generate_images", "generated_features", "image_features", "inception_extractor",
    "memorization", "memorization_check", "nearest_neighbours", "prdc", "reference_features", "reference_key",
    "tiny_extractor", "to_uint8", "truncation_sweep",
]
