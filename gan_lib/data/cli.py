"""Command line of the data layer:

    python -m gan_lib.data {list, prepare NAME [--from PATH], info NAME, sheet NAME}
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from gan_lib.data import cache
from gan_lib.data.datasets import RESOLUTIONS, dataset_info, list_datasets, prepare
from gan_lib.data.sheet import contact_sheet
from gan_lib.errors import cli_errors
from gan_lib.paths import results_dir

DESCRIPTION = "Datasets of the study: a registry, preparation into a uint8 cache, loading, subsets and contact sheets."


def _table(rows: list[dict]) -> str:
    cols = ["name", "role", "count", "prepared", "offline", "licence"]
    cells = [[str(r[c]) if c != "prepared" else (",".join(map(str, r[c])) or "-") for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


@cli_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_lib.data", description=DESCRIPTION)
    parser.add_argument("-v", "--verbose", action="store_true", help="also log downloads and steps")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="registered and custom datasets, counts, licences, prepared resolutions")
    p = sub.add_parser("prepare", help="prepare a dataset, or import a folder/zip under a new name")
    p.add_argument("name")
    p.add_argument("--from", dest="source", help="local copy: archive, folder, LMDB or npm tarball")
    p.add_argument("--resolution", type=int, default=128, choices=RESOLUTIONS)
    p.add_argument("--force", action="store_true", help="rebuild even when a cache exists")
    p.add_argument("--accept-count", action="store_true",
                   help="prepare an original set (obama-100) even when its image count is not the official one")
    p = sub.add_parser("info", help="JSON description of a dataset")
    p.add_argument("name")
    p.add_argument("--resolution", type=int, default=128, choices=RESOLUTIONS)
    p = sub.add_parser("sheet", help="write a contact sheet PNG (prepares the dataset when needed)")
    p.add_argument("name")
    p.add_argument("--resolution", type=int, default=64, choices=RESOLUTIONS)
    p.add_argument("--out", type=Path, help="PNG path (default: results/figures/dataset_NAME.png)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")

    if args.command == "list":
        print(_table(list_datasets()))
    elif args.command == "prepare":
        start = time.perf_counter()
        ds = prepare(args.name, args.resolution, args.source, args.force, progress=True,
                     accept_count=args.accept_count)
        m = ds.manifest
        print(f"{ds.name}: {len(ds)} images at {ds.resolution} px, {len(ds.class_names)} classes, "
              f"{len(m['skipped'])} skipped, {sum(len(g) - 1 for g in m['duplicates'])} duplicates, "
              f"{m['upscaled']} upscaled, sha256 {m['sha256'][:12]}, {time.perf_counter() - start:.1f} s "
              f"-> {cache.folder(ds.name, ds.resolution)}")
    elif args.command == "info":
        print(json.dumps(dataset_info(args.name, args.resolution), indent=1))
    elif args.command == "sheet":
        out = args.out or results_dir() / "figures" / f"dataset_{args.name}.png"
        print(contact_sheet(args.name, args.resolution, out))
    return 0
