"""Step-level progress of a study: one tqdm bar over the training steps of all its runs, read from each run's
`status.json` (the runs themselves execute in papermill kernels, which a driver cannot watch directly)."""

from __future__ import annotations

from pathlib import Path


class StepProgress:
    """A tqdm bar over the training steps of the study's runs, read from each run's status.json every few
    seconds (a thread; the runs themselves execute in papermill kernels)."""

    def __init__(self, dirs: dict[Path, int], every: float = 2.0):
        self.dirs = dirs  # run folder -> its total steps
        self.every = every
        self.stop = None
        self.thread = None

    def _poll(self) -> None:
        import time

        from tqdm.auto import tqdm

        from gan_lib.training.run_dir import read_status

        started, shown, bar = time.time(), None, None
        while not self.stop.wait(self.every):
            # No bar until one of these runs writes its status: a study that stops before training (say, at the
            # results lock) prints nothing but its error.
            if bar is None and not any((d / "status.json").exists() and (d / "status.json").stat().st_mtime >= started
                                       for d in self.dirs):
                continue
            if bar is None:
                bar = self.bar = tqdm(total=sum(self.dirs.values()), desc="steps", unit="step", position=1,
                                      leave=False)
            statuses = {d: read_status(d) for d in self.dirs}
            steps = sum(min(int(st["step"]), self.dirs[d]) for d, st in statuses.items())
            running = ", ".join(d.name for d, st in statuses.items() if st["status"] == "running")[:60]
            if (steps, running) != shown:  # redraw on change only (quiet logs when stderr is a file)
                bar.n, shown = steps, (steps, running)
                bar.set_postfix_str(running, refresh=False)
                bar.refresh()

    def __enter__(self) -> "StepProgress":
        import threading

        if self.dirs:
            self.stop, self.bar = threading.Event(), None
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.thread:
            self.stop.set()
            self.thread.join()
            if self.bar is not None:
                self.bar.close()
