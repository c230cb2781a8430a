"""The thesis's future work as variants: FreezeD keeps D's lowest blocks fixed and trains the rest; ADA's p follows
r_t (up when D calls every real image real, down when it does not), is logged and resumes exactly; the variants
table is the one place a variant is named (a new entry reaches the study's --help and the report)."""

from __future__ import annotations

import csv

import pytest
import torch

from gan_lib import config
from gan_lib.config import EVAL_TRUNCATIONS, VARIANTS, Variant, default_variants, make_config
from gan_lib.errors import UserError
from gan_lib.report import tables as report
from gan_lib.study.grid import grid
from gan_lib.study.grid import main as study_main
from gan_lib.training import loop as training
from gan_lib.training.augment import ada_update, adaptive_augment
from gan_lib.training.loop import init_state, train, train_step
from tests.test_resume import straight_and_resumed


def smoke(variant, source, **overrides):
    if VARIANTS[variant].transfer:
        overrides.setdefault("transfer_source", str(source))
    return make_config("smoke", variant, eval_num_samples=0, **overrides)


def test_freezed_keeps_the_lowest_d_blocks_fixed_and_trains_the_rest(smoke_source, tiny_set):
    cfg = smoke("tl+freezed", smoke_source, miner_stage1_steps=1, opt_steps=3)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    frozen = {k for k, _ in s.D.named_parameters()
              if k.startswith("blocks.") and int(k.split(".")[1]) < cfg.d_freeze_blocks}
    assert frozen and cfg.d_freeze_blocks == 1  # half of the 16 px D's 3 blocks
    before = {k: v.detach().clone() for k, v in s.D.named_parameters()}
    for _ in range(3):  # a miner stage-1 step, then fine-tuning
        train_step(s)
    after = dict(s.D.named_parameters())
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert not moved & frozen, f"frozen D parameters moved: {sorted(moved & frozen)}"
    assert moved == set(before) - frozen, f"trainable D parameters that did not move: {set(before) - frozen - moved}"
    assert not any(p.requires_grad for k, p in s.D.named_parameters() if k in frozen)  # G's step keeps them off
    in_optimizer = {id(p) for p in s.opt_d.param_groups[0]["params"]}
    assert not any(id(p) in in_optimizer for k, p in s.D.named_parameters() if k in frozen)


def test_freezing_every_d_block_is_a_clear_error(smoke_source, tiny_set):
    cfg = make_config("smoke", "custom", transfer_source=str(smoke_source), d_freeze_blocks=3, eval_num_samples=0)
    with pytest.raises(UserError, match="d_freeze_blocks=3 leaves nothing of D's 3 blocks"):
        init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    with pytest.raises(UserError, match="d_freeze_blocks is set but there is no transfer_source"):
        make_config("smoke", "custom", d_freeze_blocks=1, transfer_source="", miner_stage1_steps=0)


class SignD(torch.nn.Module):
    """The real D with its logits shifted by `sign` * 100: +1 calls every image real (r_t = 1), -1 none (r_t = -1);
    gradients still flow, so G and D train."""

    sign = 1.0

    def __init__(self, d):
        super().__init__()
        self.inner, self.n_classes = d, d.n_classes

    def forward(self, x, y):
        return self.inner(x, y) + 100.0 * SignD.sign


@pytest.fixture
def sign_d(monkeypatch):
    build = training.build_models
    monkeypatch.setattr(training, "build_models", lambda cfg, n: (lambda s, d: (s, SignD(d)))(*build(cfg, n)))
    monkeypatch.setattr(SignD, "sign", 1.0)
    return SignD


def test_ada_p_rises_while_d_calls_every_real_image_real_and_falls_when_not(sign_d, smoke_source, tmp_path,
                                                                             tiny_set):
    # batch 4, interval 2: p moves by 4 * 2 / 32 = 0.25 every 2 steps
    cfg = smoke("tl+ada", smoke_source, aug_ada_interval=2, aug_ada_images=32, opt_steps=12, log_every=2)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    seen = []
    for _ in range(6):
        seen.append(s.aug_p)
        train_step(s)
    assert seen == [0.0, 0.0, 0.25, 0.25, 0.5, 0.5] and s.aug_p == 0.75
    sign_d.sign = -1.0  # r_t = -1 < 0.6: D is unsure of the reals, p falls, and stops at 0
    for _ in range(8):
        train_step(s)
    assert s.aug_p == 0.0
    # the loop logs p per window in scalars.csv
    sign_d.sign = 1.0
    train(cfg, tmp_path, dataset=tiny_set, progress=False)
    rows = list(csv.DictReader((tmp_path / "scalars.csv").open()))
    assert [float(r["aug_p"]) for r in rows] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]  # clamped at 1


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_ada_p_decides_whether_d_real_d_fake_and_g_fake_are_augmented(p, monkeypatch, smoke_source, tiny_set):
    from gan_lib.training import augment
    from tests.test_methods import RecordingD

    build = training.build_models
    monkeypatch.setattr(training, "build_models", lambda cfg, n: (lambda s, d: (s, RecordingD(d)))(*build(cfg, n)))
    monkeypatch.setattr(augment, "OPS", {name: lambda x, gen=None: x + 100.0 for name in augment.OPS})
    cfg = smoke("tl+ada", smoke_source, miner_stage1_steps=0)
    s = init_state(cfg, tiny_set.images, tiny_set.labels, 1)
    s.aug_p = p
    train_step(s)
    b = cfg.opt_batch_size
    d_call, g_call = s.D.calls
    for name, x in {"D real": d_call[:b], "D fake": d_call[b:], "G fake": g_call}.items():
        assert (x.flatten(1).min(1).values > 50).all() == (p == 1.0), f"{name} at p={p}"
        assert (x.flatten(1).max(1).values < 50).all() == (p == 0.0), f"{name} at p={p}"


def test_ada_rule_and_per_image_probability():
    assert ada_update(0.5, 0.7, 0.6, 64, 5000) == pytest.approx(0.5 + 64 / 5000)
    assert ada_update(0.5, 0.5, 0.6, 64, 5000) == pytest.approx(0.5 - 64 / 5000)
    assert ada_update(0.5, 0.6, 0.6, 64, 5000) == 0.5
    assert ada_update(0.99, 1.0, 0.6, 64, 32) == 1.0 and ada_update(0.01, -1.0, 0.6, 64, 32) == 0.0
    x = torch.rand(400, 3, 8, 8) * 2 - 1
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(adaptive_augment(x, config.ADA_POLICY, 0.0, gen), x)
    changed = (adaptive_augment(x, "cutout", 0.3, gen) != x).flatten(1).any(1).float().mean()
    assert 0.2 < changed < 0.4  # cutout always changes an image it hits: ~30 % of them


def test_ada_resumes_exactly_with_its_p(sign_d, smoke_source, tmp_path, tiny_set):
    cfg = smoke("tl+ada", smoke_source, aug_ada_interval=2, aug_ada_images=64, opt_steps=6, ckpt_every=100,
                log_every=1)
    a, b = straight_and_resumed(cfg, tmp_path, tiny_set, stop_at=3)  # stopped inside an interval of p
    assert a["aug_p"] == b["aug_p"] == 0.375
    assert [r["aug_p"] for r in a["scalars"]] == [r["aug_p"] for r in b["scalars"]] == [0, 0, .125, .125, .25, .25]


def test_a_new_variant_is_one_table_entry(monkeypatch, capsys, smoke_source):
    monkeypatch.setitem(VARIANTS, "tl+cr", Variant("transfer + CR alone (a made-up variant)", transfer=True,
                                                   settings={"cr_weight": 10.0}))
    with pytest.raises(SystemExit):
        study_main(["--help"])
    assert "tl+cr" in (out := capsys.readouterr().out) and "transfer + CR alone (a made-up variant)" in out
    spec, = grid("s", "smoke", ["fluent-faces"], ["tl+cr"], [0], pretrained=str(smoke_source))
    cfg = spec.config()
    assert (cfg.cr_weight, cfg.aug_policy, cfg.transfer_source) == (10.0, "", str(smoke_source))
    assert report.variant_order(["custom", "tl+cr", "scratch", "tl+da"]) == ["scratch", "tl+da", "tl+cr", "custom"]
    assert "tl+cr" in report.variants_table().index
    assert default_variants() == ["scratch", "tl", "tl+da", "tl+da+cr"]  # the default study is the thesis's four


def test_the_default_study_is_the_thesis_four_with_a_truncation_sweep(monkeypatch, tmp_path):
    from gan_lib.study import grid as study

    seen = {}
    monkeypatch.setattr(study, "run_study", lambda specs, **kw: seen.setdefault("specs", specs) and {})
    monkeypatch.setattr(study, "record_invocation", lambda *a, **kw: None)
    study_main(["--preset", "smoke", "--datasets", "fluent-faces", "--results-root", str(tmp_path), "--no-report"])
    assert [s.variant for s in seen["specs"]] == ["scratch", "tl", "tl+da", "tl+da+cr"]
    assert seen["specs"][0].params(tmp_path, tmp_path)["truncations"] == list(EVAL_TRUNCATIONS)


def test_source_check_asks_only_transfer_variants_for_a_source(monkeypatch, tmp_path):
    """A grid of every from-scratch variant needs no source; a transfer variant without one is stopped up front."""
    from gan_lib.study import grid as study

    monkeypatch.setattr(study, "run_study", lambda specs, **kw: {})
    monkeypatch.setattr(study, "record_invocation", lambda *a, **kw: None)
    scratch = [name for name, v in VARIANTS.items() if not v.transfer]
    assert "scratch+da" in scratch
    args = ["--preset", "smoke", "--datasets", "fluent-faces", "--results-root", str(tmp_path), "--no-report",
            "--pretrained", str(tmp_path / "missing"), "--variants"]
    study_main(args + scratch)
    with pytest.raises(SystemExit):
        study_main(args + scratch + ["tl"])


def test_readme_variants_table_is_the_variants_table():
    from gan_lib.paths import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("<!-- variants: gan_lib.config.VARIANTS -->\n", 1)[1].split("\n<!-- end variants -->", 1)[0]
    assert block == report.variants_markdown(), "README's variants table differs from config.VARIANTS"


def test_diagnostics_figure_p_panel_names_only_the_adaptive_runs_in_the_same_colours():
    import pandas as pd

    runs = pd.DataFrame({"run_id": ["a", "b"], "dataset": ["d", "d"], "variant": ["tl", "tl+ada"]})
    scalars = pd.DataFrame({"run_id": ["a", "a", "b", "b"], "epoch": [1.0, 2.0, 1.0, 2.0], "r_t": [0.1, 0.2, 0.3, 0.4],
                            "d_accuracy": [0.5, 0.6, 0.7, 0.8], "aug_p": [None, None, 0.01, 0.02]})
    fig = report.diagnostics_figure(scalars, runs)
    r_t_ax, _, p_ax = fig.axes
    assert [t.get_text() for t in p_ax.get_legend().get_texts()] == ["tl+ada"]
    colour = {t.get_text(): h.get_color() for t, h in zip(r_t_ax.get_legend().get_texts(),
                                                           r_t_ax.get_legend().legend_handles)}
    assert p_ax.get_legend().legend_handles[0].get_color() == colour["tl+ada"] != colour["tl"]


def test_a_variant_keeps_its_colour_whichever_variants_a_figure_shows():
    every = report.variant_palette(["scratch", "tl", "tl+da", "custom"])
    assert report.variant_palette(["tl+da", "tl"]) == {"tl": every["tl"], "tl+da": every["tl+da"]}
    assert len(set(every.values())) == 4 and list(every)[-1] == "custom"


def test_diagnostics_figure_smooths_each_run_over_logged_points():
    import pandas as pd

    runs = pd.DataFrame({"run_id": ["a"], "dataset": ["d"], "variant": ["tl"]})
    r_t = [0.0, 1.0] * 10  # alternating: a 5-point centred mean lies between 0.4 and 0.6 away from the ends
    scalars = pd.DataFrame({"run_id": "a", "step": range(20), "epoch": [float(e) for e in range(20)], "r_t": r_t,
                            "d_accuracy": 0.5})
    line = report.diagnostics_figure(scalars, runs).axes[0].lines[0].get_ydata()
    assert len(line) == 20 and all(0.4 <= y <= 0.6 for y in line[2:-2])
