"""`python -m gan_lib.data {list, prepare NAME [--from PATH], info NAME, sheet NAME}`."""

from gan_lib.data.cli import main

raise SystemExit(main())
