"""Training length in epochs and the D-overfitting diagnostics (r_t, D's mean outputs, D's accuracy)."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from gan_lib.config import make_config, steps_for_epochs
from gan_lib.errors import UserError
from gan_lib.study.grid import grid
from gan_lib.study.grid import main as study_main
from gan_lib.training.loop import d_diagnostics, train
from tests.conftest import make_image_set


def test_epoch_is_one_pass_of_d_over_the_real_images():
    assert steps_for_epochs(150, 97, 16, 1) == 910  # 909.4 rounded up: the laptop-150ep faces run
    assert steps_for_epochs(150, 1000, 32, 2) == 2344  # paper preset on 1,000 bedrooms
    assert steps_for_epochs(1, 64, 16, 2) == 2  # each D step draws a real batch
    assert steps_for_epochs(3, 8, 4, 1) == 6  # exact, no rounding up past a whole number


def test_one_epochs_grid_gives_each_dataset_the_steps_its_size_needs():
    specs = grid("g", "smoke", ["fluent-faces", "fluent-objects-1000"], ["scratch", "tl"], [0],
                 pretrained="some/source", epochs=2)
    steps = {(s.dataset, s.variant): s.config().opt_steps for s in specs}
    assert steps[("fluent-faces", "scratch")] == steps[("fluent-faces", "tl")] == math.ceil(2 * 97 / 4)
    assert steps[("fluent-objects-1000", "scratch")] == 2 * 1000 // 4
    assert all(s.config().opt_epochs == 2 for s in specs)


def test_paper_preset_is_150_epochs_of_its_dataset():
    from gan_lib.study.runspec import config_from_params

    bedrooms = config_from_params(preset="paper", variant="tl+da", dataset="lsun-bedroom-1000")
    obama = config_from_params(preset="paper", variant="tl+da", dataset="obama-100")
    assert (bedrooms.opt_epochs, bedrooms.opt_steps, obama.opt_steps) == (150, 2344, 235)
    assert obama.miner_stage1_steps < obama.opt_steps


@pytest.mark.parametrize("args, expect", [
    (["--epochs", "3", "--steps", "10"], "not both"),
    (["--epochs", "0"], "epochs must be positive"),
    (["--epochs", "-2"], "epochs must be positive"),
    (["--epochs", "2", "--datasets", "not-prepared-custom"], "unknown dataset"),
])
def test_bad_epochs_fail_with_one_line_before_training(args, expect, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        study_main(["--preset", "smoke", "--variants", "scratch", "--runs-root", str(tmp_path / "runs"),
                    "--results-root", str(tmp_path / "results"), "--output-root", str(tmp_path / "out"), *args])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code != 0 and expect in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_epochs_of_a_custom_dataset_of_unknown_size_say_to_prepare_it(monkeypatch):
    from gan_lib import data
    from gan_lib.data import datasets

    monkeypatch.setattr(datasets, "_spec", lambda name, source=None: data.custom_spec(name, "/nowhere"))
    with pytest.raises(UserError, match="not known until it is prepared"):
        data.dataset_size("mine", 16)


def test_train_fixes_the_length_from_the_dataset_it_is_given(tmp_path):
    cfg = make_config("smoke", "scratch", opt_epochs=1.0, eval_num_samples=0)
    tiny = make_image_set(n=10)
    train(cfg, tmp_path, dataset=tiny, progress=False)
    from gan_lib.config import load_config

    assert load_config(tmp_path / "config.json").opt_steps == 3  # ceil(10 / 4)


def test_r_t_is_plus_one_for_a_d_that_calls_every_real_image_real():
    real, fake = torch.tensor([0.3, 2.0, 5.0, 0.01]), torch.tensor([-1.0, 0.5, -2.0, -0.1])
    d = {k: float(v) for k, v in d_diagnostics(real, fake).items()}
    assert d["r_t"] == 1.0
    assert d["d_real"] == pytest.approx(real.mean().item()) and d["d_fake"] == pytest.approx(-0.65)
    assert d["d_accuracy"] == pytest.approx((1.0 + 0.75) / 2)
    assert float(d_diagnostics(-real, fake)["r_t"]) == -1.0


class RealIsReal(torch.nn.Module):
    """A D that calls every image real (logit +1) whatever it sees; its parameter keeps Adam busy."""

    def __init__(self, d):
        super().__init__()
        self.inner, self.n_classes = d, d.n_classes

    def forward(self, x, y):
        return self.inner(x, y) * 0 + 1.0


def test_diagnostics_are_logged_per_window_with_epochs(tmp_path):
    cfg = make_config("smoke", "scratch", opt_steps=6, log_every=2, eval_num_samples=0)
    train(cfg, tmp_path, dataset=make_image_set(n=8), progress=False)
    rows = list(csv.DictReader((tmp_path / "scalars.csv").open()))
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    assert [float(r["epoch"]) for r in rows] == [1.0, 2.0, 3.0]  # 2 steps x 4 real images / 8 images
    for r in rows:
        assert -1 <= float(r["r_t"]) <= 1 and 0 <= float(r["d_accuracy"]) <= 1
        assert {"d_loss", "g_loss", "d_real", "d_fake", "g_lr", "d_lr", "images_per_second"} <= set(r)


def test_logged_r_t_is_one_when_d_calls_every_real_image_real(tmp_path, monkeypatch):
    from gan_lib.training import loop as training

    build = training.build_models
    monkeypatch.setattr(training, "build_models", lambda cfg, n: (lambda s, d: (s, RealIsReal(d)))(*build(cfg, n)))
    cfg = make_config("smoke", "scratch", opt_steps=4, log_every=2, eval_num_samples=0)
    train(cfg, tmp_path, dataset=make_image_set(n=8), progress=False)
    rows = list(csv.DictReader((tmp_path / "scalars.csv").open()))
    assert [float(r["r_t"]) for r in rows] == [1.0, 1.0]
    assert [float(r["d_accuracy"]) for r in rows] == [0.5, 0.5]  # every fake called real too
