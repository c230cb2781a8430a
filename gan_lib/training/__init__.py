"""Training one run: the loop (`loop`), what a step touches (`state`), DiffAugment and ADA (`augment`), the losses
and CR (`losses`), evaluations and diagnostics on schedule (`monitor`), the run folder (`run_dir`), and what code
and environment it ran with (`provenance`). `python -m gan_lib.training` trains or resumes one run (`cli`)."""
