"""BigGAN models and the BigGAN-PyTorch checkpoint loader."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from conftest import FIXTURES

from gan_lib.errors import UserError
from gan_lib.models.biggan import Discriminator, Generator
from gan_lib.models.pretrained import load_biggan_pytorch, models_from_biggan_config

CH8 = FIXTURES / "biggan_pytorch_128_ch8"


def test_loader_reproduces_biggan_pytorch_outputs():
    g, d = load_biggan_pytorch(CH8)
    expected = torch.load(CH8 / "expected.pt")
    assert not g.training and not d.training
    with torch.no_grad():
        g_out = g(expected["z"], expected["y"])
        torch.testing.assert_close(g_out, expected["G_out"], atol=1e-4, rtol=0)
        torch.testing.assert_close(d(expected["G_out"], expected["y"]), expected["D_out_on_G"], atol=1e-4, rtol=0)
        torch.testing.assert_close(d(expected["x_real"], expected["y"]), expected["D_out_on_real"], atol=1e-4,
                                   rtol=0)
    assert g_out.min() >= -1 and g_out.max() <= 1


def test_full_size_model_matches_released_checkpoint_names_and_shapes():
    spec = json.loads((FIXTURES / "biggan_pytorch_128_state_dict_shapes.json").read_text())
    with torch.device("meta"):  # shapes only: skips allocating and initialising 160M parameters
        g, d = models_from_biggan_config(spec["config"])
    for model, key in ((g, "G"), (d, "D")):
        shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
        assert shapes == spec[key]


def test_loader_prefers_g_ema_and_works_without_d(tmp_path):
    shutil.copy(CH8 / "config.json", tmp_path)
    shutil.copy(CH8 / "G_ema.pth", tmp_path / "G.pth")
    g, d = load_biggan_pytorch(tmp_path)
    assert d is None and isinstance(g, Generator)


def test_mismatched_checkpoint_names_first_bad_tensor(tmp_path):
    cfg = json.loads((CH8 / "config.json").read_text())
    cfg["G_ch"] = 16
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    shutil.copy(CH8 / "G_ema.pth", tmp_path)
    with pytest.raises(UserError, match=r"tensor 'linear.weight' has shape .* expects"):
        load_biggan_pytorch(tmp_path)


def test_missing_or_corrupt_files_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="config.json not found"):
        load_biggan_pytorch(tmp_path)
    shutil.copy(CH8 / "config.json", tmp_path)
    with pytest.raises(UserError, match="neither G_ema.pth nor G.pth"):
        load_biggan_pytorch(tmp_path)
    (tmp_path / "G_ema.pth").write_bytes((CH8 / "G_ema.pth").read_bytes()[:1000])
    with pytest.raises(UserError, match="could not be read"):
        load_biggan_pytorch(tmp_path)


@pytest.mark.parametrize("resolution,attention", [(16, ""), (32, "16"), (64, "32_64"), (128, "64")])
@pytest.mark.parametrize("n_classes", [1, 3])
def test_any_resolution_attention_and_class_count(resolution, attention, n_classes):
    torch.manual_seed(0)
    g = Generator(resolution=resolution, ch=8, dim_z=20, shared_dim=8, n_classes=n_classes, attention=attention)
    d = Discriminator(resolution=resolution, ch=8, n_classes=n_classes, attention=attention)
    z, y = torch.randn(2, g.dim_z), torch.randint(0, n_classes, (2,))
    x = g(z, y)
    assert x.shape == (2, 3, resolution, resolution)
    assert d(x, y).shape == (2, 1)
    has_attention = any(type(m).__name__ == "Attention" for m in g.modules())
    assert has_attention == bool(attention) or resolution == 16


def test_spectral_norm_bounds_the_top_singular_value():
    g = Generator(resolution=16, ch=4, dim_z=20, shared_dim=8)
    conv = g.blocks[0][0].conv1
    conv.train()
    for _ in range(30):
        w = conv.sn_weight()
    sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.02)


def test_eval_mode_does_not_move_power_iteration_state():
    g = Generator(resolution=16, ch=4, dim_z=20, shared_dim=8).eval()
    before = {k: v.clone() for k, v in g.state_dict().items()}
    with torch.no_grad():
        g(torch.randn(2, g.dim_z), torch.zeros(2, dtype=torch.long))
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())
