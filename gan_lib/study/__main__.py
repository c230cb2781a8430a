"""`python -m gan_lib.study --preset laptop [--datasets ...] [--variants ...] [--seeds ...]`: see `grid`."""

from gan_lib.study.grid import main

raise SystemExit(main())
