"""Command line: train (or resume) one run.

    python -m gan_lib.training --preset laptop --dataset fluent-faces --variant tl+da --run-dir runs/faces-tlda
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from gan_lib.config import PRESETS, VARIANTS, make_config
from gan_lib.errors import UserError, cli_errors


def parse_value(text: str) -> Any:
    """`--set key=value` values: JSON if it parses (numbers, true/false), else the raw string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="laptop", help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--dataset", help="dataset name (python -m gan_lib.data list)")
    parser.add_argument("--variant", default="scratch",
                        help=f"one of {', '.join(VARIANTS)} (python -m gan_lib.study --help describes them), or custom")
    parser.add_argument("--steps", type=int, help="G updates (overrides the preset)")
    parser.add_argument("--seed", type=int, help="train_seed")
    parser.add_argument("--pretrained", help="transfer source: a gan_lib run dir or a BigGAN-PyTorch folder")
    parser.add_argument("--ckpt-every", type=int, help="steps between checkpoints")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any config field")
    parser.add_argument("--run-dir", required=True, help="folder for config.json, checkpoints and evaluations")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    return run(args)


@cli_errors
def run(args: argparse.Namespace) -> int:
    from gan_lib.training.loop import train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r} must look like FIELD=VALUE")
        overrides[key] = parse_value(value)
    for key, value in (("data_name", args.dataset), ("opt_steps", args.steps), ("train_seed", args.seed),
                       ("transfer_source", args.pretrained), ("ckpt_every", args.ckpt_every)):
        if value is not None:
            overrides[key] = value
    cfg = make_config(args.preset, args.variant, **overrides)
    rows = train(cfg, args.run_dir, progress=not args.quiet)
    if rows:
        last = rows[-1]
        print(json.dumps({k: last[k] for k in ("step", "fid", "kid") if k in last}))
    return 0

