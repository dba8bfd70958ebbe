"""WorkQueue: dedupe while queued, one worker per key, dirty requeue, add_after, per-key backoff with cap,
max_retries/on_drop (a failing on_drop logged by frames and type, never its message), N workers, clean shutdown.
Delays run on an injected clock (no sleeping for backoff)."""

import threading
import time

import pytest

from secretsync.retry import poll_until
from secretsync.runtime.queue import ShutDown, WorkQueue


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def test_dedupe_while_queued_and_fifo_order():
    q = WorkQueue()
    for key in ["a", "b", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert [q.get(block=False) for _ in range(3)] == ["a", "b", "c"]
    assert q.get(block=False) is None


def test_key_being_processed_is_not_handed_out_again_but_requeued_on_done():
    q = WorkQueue()
    q.add("a")
    assert q.get(block=False) == "a"
    q.add("a")  # changed while a worker holds it
    q.add("a")
    assert q.get(block=False) is None, "a second worker must not get a key in progress"
    q.done("a")
    assert q.get(block=False) == "a"
    q.done("a")
    assert q.get(block=False) is None


def test_add_after_waits_for_the_clock_and_earliest_schedule_wins():
    clock = FakeClock()
    q = WorkQueue(clock=clock)
    q.add_after("x", 10)
    q.add_after("x", 3)
    q.add_after("x", 20)
    assert q.get(block=False) is None
    clock.advance(2.9)
    assert q.get(block=False) is None
    clock.advance(0.2)
    assert q.get(block=False) == "x"
    q.done("x")
    clock.advance(30)
    assert q.get(block=False) is None, "superseded schedules must not fire again"
    assert q.pending() == 0


def test_rate_limited_backoff_doubles_caps_and_resets_on_forget():
    clock = FakeClock()
    q = WorkQueue(base_delay=0.5, max_delay=3.0, clock=clock)
    delays = [q.add_rate_limited("k") for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert q.num_requeues("k") == 5
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert q.add_rate_limited("k") == 0.5


def test_blocking_get_wakes_when_a_delayed_key_is_due():
    q = WorkQueue()
    q.add_after("soon", 0.05)
    start = time.monotonic()
    assert q.get(timeout=2) == "soon"
    assert time.monotonic() - start < 1.5


def test_get_timeout_returns_none():
    assert WorkQueue().get(timeout=0.05) is None


def test_workers_never_run_one_key_concurrently_and_process_everything():
    q = WorkQueue(name="t")
    running, seen, lock = set(), [], threading.Lock()
    overlap = []

    def handler(key):
        with lock:
            if key in running:
                overlap.append(key)
            running.add(key)
        time.sleep(0.002)
        with lock:
            running.discard(key)
            seen.append(key)

    q.start(handler, workers=4)
    for _round in range(30):
        for k in range(5):
            q.add(f"k{k}")
        time.sleep(0.001)
    poll_until(lambda: not (q.pending() or q.processing()), 5, 0.01)
    q.shutdown()
    assert overlap == []
    assert {f"k{k}" for k in range(5)} <= set(seen)
    assert len(seen) < 150, "adds while queued must be deduplicated"


def test_failing_handler_is_retried_with_backoff_then_dropped():
    q = WorkQueue(base_delay=0.01, max_delay=0.02)
    calls, dropped = [], []

    def handler(key):
        calls.append(key)
        raise RuntimeError("boom")

    q.start(handler, workers=1, max_retries=3, on_drop=lambda key, exc: dropped.append((key, type(exc))))
    q.add("bad")
    poll_until(lambda: dropped, 5, 0.01)
    q.shutdown()
    assert dropped == [("bad", RuntimeError)]
    assert len(calls) == 4  # first try + 3 retries
    assert q.num_requeues("bad") == 0


def test_success_forgets_and_requeue_after_is_honoured():
    q = WorkQueue(base_delay=0.01)
    calls = []
    done = threading.Event()

    def handler(key):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("once")
        if len(calls) == 2:
            return 0.05  # periodic resync
        done.set()

    q.start(handler)
    q.add("k")
    assert done.wait(5)
    q.shutdown()
    assert q.num_requeues("k") == 0
    assert calls[2] - calls[1] >= 0.04


def test_shutdown_lets_running_handler_finish_and_refuses_new_work():
    q = WorkQueue()
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def handler(key):
        started.set()
        release.wait(5)
        finished.set()

    q.start(handler, workers=2)
    q.add("long")
    assert started.wait(5)
    t = threading.Thread(target=q.shutdown)
    t.start()
    time.sleep(0.05)
    assert not finished.is_set()
    release.set()
    t.join(5)
    assert finished.is_set()
    q.add("late")
    with pytest.raises(ShutDown):
        q.get(block=False)


def test_stats_for_metrics():
    clock = FakeClock()
    q = WorkQueue(clock=clock, base_delay=1.0)
    q.add("a")
    q.add("a")
    q.add("b")
    q.add_rate_limited("c")
    assert q.stats() == {
        "depth": 2,
        "delayed": 1,
        "processing": 0,
        "adds_total": 2,
        "retries_total": 1,
        "longest_running_seconds": 0.0,
    }
    assert q.get(block=False) == "a"
    clock.advance(4)
    assert q.stats()["longest_running_seconds"] == 4
    q.done("a")
    s = q.stats()
    assert (s["processing"], s["longest_running_seconds"]) == (0, 0.0)


def test_a_failing_on_drop_is_logged_with_its_traceback_but_never_its_message():
    import io
    import logging

    from secretsync.logs import TextFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("secretsync.runtime.queue")
    logger.addHandler(handler)
    dropped = threading.Event()
    secret = "".join(["hun", "ter", "2"])  # built at run time: tracebacks show source lines

    def failing(key):
        raise ValueError(f"handler failed on {secret}")

    def on_drop(key, exc):
        dropped.set()
        raise RuntimeError(f"on_drop quoting {secret}")

    q = WorkQueue(base_delay=0.001, max_delay=0.001)
    try:
        q.start(failing, workers=1, max_retries=1, on_drop=on_drop)
        q.add("k")
        assert dropped.wait(5)
        poll_until(lambda: "on_drop failed" in stream.getvalue(), 5, 0.01)
    finally:
        q.shutdown()
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "on_drop failed for k" in text and "RuntimeError: <message withheld>" in text and "Traceback" in text
    assert secret not in text
