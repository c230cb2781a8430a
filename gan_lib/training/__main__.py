"""`python -m gan_lib.training --preset laptop --dataset fluent-faces --variant tl+da --run-dir runs/faces-tlda`."""

from gan_lib.training.cli import main

raise SystemExit(main())
