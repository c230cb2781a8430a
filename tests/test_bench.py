"""The benchmark CLI writes its JSON (numbers are measured by running it, not here)."""

from __future__ import annotations

import json

from gan_lib import bench


def test_train_bench_times_reference_and_optimized_side_by_side(tmp_path):
    out = tmp_path / "train.json"
    bench.main(["train", "--preset", "smoke", "--variants", "scratch", "tl+da+cr", "--steps", "1", "--warmup", "0", "--rounds", "1", "--batch", "4",
                "--device", "cpu", "--out", str(out)])
    result = json.loads(out.read_text())
    assert [r["variant"] for r in result["rows"]] == ["scratch", "tl+da+cr"]
    for row in result["rows"]:
        for mode in ("reference", "optimized"):
            assert row[mode]["step_seconds"] > 0 and row[mode]["gflop_per_step"] > 0
            assert row[mode]["sampling_images_per_s"] > 0
        assert row["speedup"] == round(row["reference"]["step_seconds"] / row["optimized"]["step_seconds"], 3)
    # CR adds a third D pass on the real batch: more FLOPs per step than scratch
    assert result["rows"][1]["reference"]["gflop_per_step"] > result["rows"][0]["reference"]["gflop_per_step"]
    assert result["machine"]["cpu_count"] >= 1 and result["matmul_fp32_gflop_per_s"] > 0


def test_kernels_bench_covers_both_memory_formats(tmp_path):
    out = tmp_path / "kernels.json"
    bench.main(["kernels", "--channels", "32", "--repeats", "1", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert {r["memory_format"] for r in rows} == {"nchw", "channels_last"}
    assert all(r["grad_weight_gflop_per_s"] > 0 for r in rows)


def test_bench_default_output_is_a_scratch_file_not_a_committed_one(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LIB_CACHE", str(tmp_path))
    assert bench.bench_path("features").parent == tmp_path / "bench"
