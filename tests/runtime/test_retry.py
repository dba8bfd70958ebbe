"""retry: attempts, deadline, full-jitter exponential backoff, retry-on predicate, Retry-After hints,
errors naming the peer; sleep and clock injected (nothing really sleeps)."""

import pytest

from secretsync.retry import RetriesExhausted, RetryPolicy, backoff_delay, retry_call


class Flaky(Exception):
    transient = True

    def __init__(self, retry_after=None):
        super().__init__("flaky")
        self.retry_after = retry_after


class Clock:
    def __init__(self):
        self.t = 0.0
        self.sleeps = []

    def clock(self):
        return self.t

    def sleep(self, d):
        self.sleeps.append(d)
        self.t += d


def policy(clock, **kw):
    return RetryPolicy(sleep=clock.sleep, clock=clock.clock, rng=lambda: 1.0, **kw)


def test_succeeds_after_transient_failures_with_exponential_delays():
    c = Clock()
    results = iter([Flaky(), Flaky(), Flaky(), "ok"])

    def fn():
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    assert policy(c, attempts=5, base=0.1, cap=10).call(fn, peer="API", operation="get x") == "ok"
    assert c.sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_delay_is_capped_and_jittered():
    assert backoff_delay(10, 0.1, 2.0, rng=lambda: 1.0) == 2.0
    assert backoff_delay(3, 0.1, 2.0, rng=lambda: 0.5) == pytest.approx(0.2)
    assert backoff_delay(1, 0.1, 2.0, rng=lambda: 0.0) == 0.0


def test_non_retryable_error_escapes_immediately():
    c = Clock()
    calls = []

    def fn():
        calls.append(1)
        raise ValueError("permanent")

    with pytest.raises(ValueError):
        policy(c).call(fn, peer="API", operation="op")
    assert calls == [1] and c.sleeps == []


def test_attempts_exhausted_names_peer_and_operation_and_chains_last_error():
    c = Clock()

    def fn():
        raise Flaky()

    with pytest.raises(RetriesExhausted) as info:
        policy(c, attempts=3, base=0.01).call(fn, peer="Vault", operation="read kv/data/app")
    err = info.value
    assert "Vault" in err.message and "read kv/data/app" in err.message and "3 attempt" in err.message
    assert isinstance(err.__cause__, Flaky)
    assert len(c.sleeps) == 2


def test_deadline_stops_before_a_sleep_would_pass_it():
    c = Clock()

    def fn():
        raise Flaky()

    with pytest.raises(RetriesExhausted) as info:
        policy(c, attempts=100, base=1.0, cap=8.0, deadline=10.0).call(fn, peer="Git", operation="fetch")
    assert sum(c.sleeps) <= 10.0
    assert info.value.attempts < 100


def test_retry_after_hint_is_a_lower_bound_and_custom_predicate():
    c = Clock()
    seq = iter([Flaky(retry_after=3), "done"])

    def fn():
        r = next(seq)
        if isinstance(r, Exception):
            raise r
        return r

    assert policy(c, base=0.01).call(fn, peer="API", operation="list") == "done"
    assert c.sleeps == [3.0]

    calls = []

    def fn2():
        calls.append(1)
        raise KeyError("x")

    with pytest.raises(RetriesExhausted):
        retry_call(
            fn2, peer="P", operation="o", policy=policy(c, attempts=2, retry_on=lambda e: isinstance(e, KeyError))
        )
    assert len(calls) == 2
