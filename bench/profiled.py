"""Run a Python module with cProfile in every thread; write the merged statistics when it exits.

``python bench/profiled.py OUT.pstats -m secretsync controller ...``: used by ``bench/controller.py
--profile`` (cProfile alone sees only the main thread, and the controller works in its worker and watch
threads). Times are each thread's CPU time (``time.thread_time``), not wall time, so waiting on the
network or a lock costs nothing in the figures. Read the result with ``python -m pstats OUT.pstats``.
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
import time

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()
_original_run = threading.Thread.run


def _profiled_run(self) -> None:
    profile = cProfile.Profile(time.thread_time)
    with _lock:
        _profiles.append(profile)
    profile.enable()
    try:
        _original_run(self)
    finally:
        profile.disable()


def _dump(out: str) -> None:
    stats = None
    with _lock:
        for profile in _profiles:
            profile.disable()
            profile.create_stats()
            if profile.stats:
                stats = pstats.Stats(profile) if stats is None else stats.add(profile)
    if stats is not None:
        stats.dump_stats(out)


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        raise SystemExit("usage: profiled.py OUT.pstats -m MODULE [ARGS...]")
    out, module = sys.argv[1], sys.argv[3]
    sys.argv = [module, *sys.argv[4:]]
    threading.Thread.run = _profiled_run
    main_profile = cProfile.Profile(time.thread_time)
    _profiles.append(main_profile)
    atexit.register(_dump, out)
    main_profile.enable()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
