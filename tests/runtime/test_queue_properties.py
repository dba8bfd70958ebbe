"""WorkQueue invariants under random interleavings (hypothesis state machine, fake clock, no threads):
a key is never handed out while it is being processed, never queued twice, every key added (now or
later) is handed out once its time has come, and a key added while processing comes back after done().
As in client-go's delaying queue, a key waiting for a delayed add keeps only its earliest time."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from secretsync.runtime.queue import WorkQueue

KEYS = st.sampled_from(["a", "b", "c", "d"])


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class QueueMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.q = WorkQueue(clock=self.clock, base_delay=1.0, max_delay=8.0)
        self.processing: set[str] = set()
        self.owed: dict[str, float] = {}  # key -> earliest time it must be handed out by
        self.pending: dict[str, float] = {}  # key -> due time of its delayed entry (earliest wins, as client-go)

    def _owe(self, key, due):
        self.owed[key] = min(self.owed.get(key, due), due)

    @rule(key=KEYS)
    def add(self, key):
        self.q.add(key)
        self._owe(key, self.clock.now)

    def _schedule(self, key, delay):
        if delay <= 0:
            self._owe(key, self.clock.now)
            return
        due = self.clock.now + delay
        # an earlier pending entry for the key absorbs a later one: the key comes out at the earlier time
        due = min(due, self.pending.get(key, due))
        self.pending[key] = due
        self._owe(key, due)

    @rule(key=KEYS, delay=st.floats(min_value=0.0, max_value=10.0))
    def add_after(self, key, delay):
        self.q.add_after(key, delay)
        self._schedule(key, delay)

    @rule(key=KEYS)
    def add_rate_limited(self, key):
        delay = self.q.add_rate_limited(key)
        assert 1.0 <= delay <= 8.0
        self._schedule(key, delay)

    @rule(seconds=st.floats(min_value=0.0, max_value=5.0))
    def advance(self, seconds):
        self.clock.now += seconds

    @rule()
    def get(self):
        key = self.q.get(block=False)
        self.pending = {k: t for k, t in self.pending.items() if t > self.clock.now}  # due entries fired
        if key is None:
            due_now = [k for k, t in self.owed.items() if t <= self.clock.now and k not in self.processing]
            assert not due_now, f"{due_now} were due but not handed out"
            return
        assert key not in self.processing, "a key in progress was handed out again"
        self.processing.add(key)
        if self.owed.get(key, float("inf")) <= self.clock.now:
            del self.owed[key]

    @precondition(lambda self: self.processing)
    @rule(data=st.data())
    def done(self, data):
        key = data.draw(st.sampled_from(sorted(self.processing)))
        self.processing.discard(key)
        self.q.done(key)

    @invariant()
    def processing_matches(self):
        assert self.q.processing() == frozenset(self.processing)

    @invariant()
    def no_duplicates_queued(self):
        assert len(self.q._queue) == len(set(self.q._queue))


QueueMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=40, deadline=None)
TestQueueMachine = QueueMachine.TestCase
