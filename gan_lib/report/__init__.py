"""From result rows to what a reader sees: the results table and its schema (`results`), tables and figures
(`tables`), sample grids (`plots`), the computed findings and the README's generated blocks (`findings`), and the
rendered report (`rendering`). `python -m gan_lib.report readme [--check]` rewrites or checks those blocks."""
