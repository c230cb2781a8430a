"""One exception type for mistakes a user can fix, and the wrapper that turns it into a one-line CLI error."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., int | None])


class UserError(Exception):
    """Bad input or a missing resource. The message is one sentence naming the file or parameter and the fix."""


def cli_errors(main: F) -> F:
    """Run a CLI `main`, printing a `UserError` (or Ctrl-C) as one line on stderr instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: progress up to the last checkpoint is kept; run the same command to resume",
                  file=sys.stderr)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
