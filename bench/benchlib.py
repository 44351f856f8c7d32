"""What every benchmark under bench/ prints about where it ran."""

import os
import time


def machine():
    """CPU count and model, and the time: the head of every report."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (%s), %s" % (os.cpu_count(), model,
                                 time.strftime("%Y-%m-%d %H:%M %Z"))
