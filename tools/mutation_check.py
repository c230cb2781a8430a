"""Break each method of the study once and report whether the fast test suite notices.

    python tools/mutation_check.py [--only NAME ...] [--tests PATH ...]

Each mutation replaces one exact snippet of `gan_lib` (found wherever it lives in the package, so the check
survives modules being moved) in a throwaway copy of the repository, runs `pytest -m "not slow" -x` there, and
counts the mutation as caught when a test fails. Exit status 1 if any mutation survives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent

# name -> (snippet in gan_lib, its broken replacement)
MUTATIONS = {
    "DiffAugment off for D's real batch": ("real_aug = augment(s, real)", "real_aug = real"),
    "DiffAugment off for D's fake batch": ("[real_aug, augment(s, fake)]", "[real_aug, fake]"),
    "DiffAugment off in G's step": ("fake = augment(s, s.sampler(z, y))", "fake = s.sampler(z, y)"),
    "CR term dropped from D's loss": ("loss = loss + cfg.cr_weight * cr", "loss = loss"),
    "G's optimizer step skipped in stage 2": ("if stage == 2:\n        s.opt_g.step()", "if stage == 2:\n        pass"),
    "EMA copy frozen": ("ema_p.lerp_(p, 1.0 - decay)", "pass"),
    "miner update skipped": ("if s.opt_miner is not None:\n        s.opt_miner.step()",
                             "if s.opt_miner is not None:\n        pass"),
    "truncation clamps instead of resampling": (
        "z[bad] = torch.randn(int(bad.sum()), generator=g_z)", "z.clamp_(-truncation, truncation)"),
    "data order not restored on resume": (
        'self.order, self.cursor, self.step = state["order"], state["cursor"], state["step"]',
        'self.step = state["step"]'),
    "r_t measured on the fake batch": ('"r_t": real.sign().mean()', '"r_t": fake.sign().mean()'),
    "FreezeD freezes nothing": ("d.blocks[:n].requires_grad_(False)", "pass"),
    "FreezeD's frozen blocks left in D's optimizer": (
        "torch.optim.Adam([p for p in d.parameters() if p.requires_grad], cfg.opt_d_lr",
        "torch.optim.Adam(list(d.parameters()), cfg.opt_d_lr"),
    "ADA p never updated": (
        "s.aug_p = ada_update(s.aug_p, r_t, cfg.aug_ada_target, images, cfg.aug_ada_images)", "pass"),
    "ADA p moves the wrong way": ("direction = (r_t > target) - (r_t < target)",
                                  "direction = (r_t < target) - (r_t > target)"),
    "ADA ignores p (always augments)": ("adaptive_augment(x, s.cfg.aug_policy, s.aug_p, s.noise_gen)",
                                        "adaptive_augment(x, s.cfg.aug_policy, 1.0, s.noise_gen)"),
    "CR clean recipe compares with the augmented reals": ('if recipe == "clean":\n        return [real]',
                                                          'if recipe == "clean":\n        return [real_aug]'),
    "CR paper recipe zero-fills its translation": ("flip_translate(real, gen, reflect=True)",
                                                   "flip_translate(real, gen)"),
    "CR paper recipe compares the wrong logits": ('(logits[2], logits[3]) if recipe == "paper"',
                                                  '(logits[0], logits[2]) if recipe == "paper"'),
    "MineGAN miner keeps G in eval mode in stage 1": ('stage == 2 or cfg.miner_kind == "minegan"', "stage == 2"),
    "MineGAN miner at the mixture's learning rate": (
        'self.opt_g_lr if self.miner_kind == "minegan" else self.miner_lr', "self.miner_lr"),
    "FreezeD freezes a fixed 2 blocks": ("D_BLOCKS.get(values.get(\"data_resolution\", 32), 0) // 2", "2"),
    "ADA p not restored on resume": (
        'self.aug_p, self.ada_r_t = state.get("aug_p", 0.0), list(state.get("ada_r_t", []))', "pass"),
    "LeCam penalty dropped from D's loss": ("loss = loss + cfg.lecam_weight * penalty", "loss = loss"),
    "LeCam anchors frozen after the first step": ("s.lecam_anchors.lerp_(means, 1.0 - s.cfg.lecam_decay)", "pass"),
    "LeCam anchors swapped (real against real)": ("lecam(logits[0], logits[1], *s.lecam_anchors)",
                                                  "lecam(logits[0], logits[1], *s.lecam_anchors.flip(0))"),
    "LeCam anchors not restored on resume": ('self.lecam_anchors = state.get("lecam_anchors")', "pass"),
}


# The suite runs with -x: the files that test the methods go first, so a caught mutation stops early.
FIRST = ["tests/test_methods.py", "tests/test_references.py", "tests/test_lecam.py", "tests/test_variants.py",
         "tests/test_resume.py", "tests/test_epochs_diagnostics.py", "tests/test_training.py"]


def mutate(root: Path, snippet: str, replacement: str) -> Path:
    """Replace `snippet` in the one module of `root/gan_lib` that holds it; returns that module."""
    hits = [p for p in (root / "gan_lib").rglob("*.py") if snippet in p.read_text()]
    if len(hits) != 1 or hits[0].read_text().count(snippet) != 1:
        raise SystemExit(f"error: the snippet {snippet!r} must occur exactly once in gan_lib, found it in "
                         f"{[str(h.relative_to(root)) for h in hits]}: update MUTATIONS in {Path(__file__).name}")
    hits[0].write_text(hits[0].read_text().replace(snippet, replacement))
    return hits[0]


def run_suite(root: Path, tests: list[str], timeout: int) -> tuple[str, float]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "not slow", "-x", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=root, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(root)})
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - t0
    outcome = {0: "SURVIVED", 1: "caught"}.get(proc.returncode, f"error (pytest exit {proc.returncode})")
    if outcome == "caught":
        failed = [line.split(" ")[1] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
        outcome += f" by {failed[0].split('::', 1)[-1]}" if failed else ""
    return outcome, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(MUTATIONS), metavar="NAME", help="these mutations only")
    parser.add_argument("--tests", nargs="*", default=FIRST + ["tests"],
                        help="test paths to run (default: the whole fast suite, method tests first)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per mutation")
    args = parser.parse_args(argv)
    names = args.only or list(MUTATIONS)
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip("\0").split("\0")
    results = {}
    for name in tqdm([""] + names, desc="mutations", unit="mutation"):
        with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
            root = Path(tmp)
            for rel in files:
                if (REPO / rel).is_file():
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / rel, root / rel)
            module = mutate(root, *MUTATIONS[name]) if name else root / "gan_lib"
            outcome, seconds = run_suite(root, args.tests, args.timeout)
            if not name:  # the unmutated copy first: its suite must pass, or nothing below means anything
                if outcome != "SURVIVED":
                    raise SystemExit(f"error: the unmutated suite does not pass in a copy ({outcome}); fix that first")
                tqdm.write(f"{'(no mutation: the suite passes)':42s} {'':28s} ok ({seconds:.0f} s)")
                continue
            results[name] = outcome
            tqdm.write(f"{name:42s} {module.relative_to(root)!s:28s} {outcome} ({seconds:.0f} s)")
    survived = [n for n, o in results.items() if not o.startswith("caught")]
    print(f"{len(results) - len(survived)} of {len(results)} mutations caught by the fast suite"
          + (f"; not caught: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
