"""`python -m gan_lib.report readme [--check]`: rewrite (or check) the generated blocks of the README."""

from gan_lib.report.findings import main

raise SystemExit(main())
