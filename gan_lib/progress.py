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

    def _poll(self, bar) -> None:
        from gan_lib.run_dir import read_status

        shown = None
        while True:
            statuses = {d: read_status(d) for d in self.dirs}
            steps = sum(min(int(st["step"]), self.dirs[d]) for d, st in statuses.items())
            running = ", ".join(d.name for d, st in statuses.items() if st["status"] == "running")[:60]
            if (steps, running) != shown:  # redraw on change only (quiet logs when stderr is a file)
                bar.n, shown = steps, (steps, running)
                bar.set_postfix_str(running, refresh=False)
                bar.refresh()
            if self.stop.wait(self.every):
                return

    def __enter__(self) -> "StepProgress":
        import threading

        from tqdm.auto import tqdm

        if not self.dirs:
            return self
        self.stop = threading.Event()
        self.bar = tqdm(total=sum(self.dirs.values()), desc="steps", unit="step", position=1, leave=False)
        self.thread = threading.Thread(target=self._poll, args=(self.bar,), daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.thread:
            self.stop.set()
            self.thread.join()
            self.bar.close()
