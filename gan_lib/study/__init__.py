"""A study: a grid of runs (`runspec`, `grid`), where they execute (`executors`, `ray_executor`), the progress
bar over all of them (`progress`) and what a finished run leaves in results/ (`publish`).
`python -m gan_lib.study --preset laptop` runs one."""
