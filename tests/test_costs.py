"""docs/paper.md's disk and time figures for the `paper` study are the ones gan_lib.costs computes from the committed
benchmark files and the architecture's tensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

from gan_lib import costs
from gan_lib.config import make_config

FIXTURES = Path(__file__).parent / "fixtures"


def test_readme_holds_the_computed_paper_costs():
    assert costs.main(["--check"]) == 0


def test_checkpoint_size_follows_the_released_tensors():
    """A transfer run's checkpoint: the release's G twice (G, EMA G), its D with one class row, Adam's two moments
    for (nearly) every tensor of both (spectral-norm and BN buffers are not parameters), and a small miner."""
    shapes = json.loads((FIXTURES / "biggan_pytorch_128_state_dict_shapes.json").read_text())
    g, d = (sum(math.prod(shape) for shape in shapes[k].values()) for k in ("G", "D"))
    d_one_class = d - 999 * shapes["D"]["embed.weight"][1]
    sizes = costs.run_bytes(make_config("paper", "tl"))
    assert 0.99 < sizes["checkpoint"] / (4 * (4 * g + 3 * d_one_class)) < 1.01
    assert 2.16e9 < sizes["checkpoint"] < 2.18e9  # the 2.17 GB per checkpoint reported in issue #18
    assert 0.99 < sizes["weights"] / (4 * (g + d_one_class)) < 1.01
    assert costs.source_bytes() == 4 * (2 * g + d)
