"""What every bench script shares: the machine's load during a run, and the counter check at the end.

Import after `django.setup()` (the check reads the dashboard counters through `labeling.stats`).
"""

from __future__ import annotations

import os
import sys

from labeling import stats


def counters_check(projects) -> None:
    """At the end of a script that wrote: every dashboard counter of these projects must equal a recount of
    their rows (`labeling.stats.stats_verify`); otherwise say which, stored against recounted, and exit 1."""
    projects = list(projects)
    drift = [f"  {project.name}: {counter}" for project in projects for counter in stats.stats_verify(project=project)]
    if drift:
        print(
            "COUNTERS WRONG: these dashboard counters differ from a recount of the rows:\n" + "\n".join(drift),
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)
    print(
        f"Counters: every dashboard counter of the {len(projects)} project{'s' if len(projects) != 1 else ''} "
        "used equals a recount.",
        flush=True,
    )


class Load:
    """The machine's 1-minute load average before, during (sampled once per round) and after a run."""

    def __init__(self):
        self.before = os.getloadavg()[0]
        self.samples: list[float] = []
        self.after = None

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def end(self) -> Load:
        self.after = os.getloadavg()[0]
        return self

    def __str__(self) -> str:
        during = f"{min(self.samples):.1f}–{max(self.samples):.1f} during, " if self.samples else ""
        after = f"{self.after:.1f}" if self.after is not None else "—"
        return f"load average (1 min) {self.before:.1f} before, {during}{after} after, on {os.cpu_count()} cores"
