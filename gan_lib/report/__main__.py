"""`python -m gan_lib.report readme [--check]`: rewrite (or check) the generated blocks of the README;
`python -m gan_lib.report reports`: render every committed study's report and the index again."""

from gan_lib.report.findings import main

raise SystemExit(main())
