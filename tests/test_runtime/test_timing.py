"""The interleaved timing harness of every benchmark."""
import pytest

from mmpose_light_runtime.timing import compare_latency


def test_rounds_call_every_candidate_in_turn():
    calls = []
    done = []
    times = compare_latency(
        {name: (lambda n=name: calls.append(n)) for name in 'abc'},
        rounds=3,
        warmup=2,
        progress=lambda i, n: done.append((i, n)))
    # warm-up per candidate, then one call of each per round
    assert calls == ['a', 'a', 'b', 'b', 'c', 'c'] + ['a', 'b', 'c'] * 3
    assert done == [(1, 3), (2, 3), (3, 3)]
    assert sorted(times) == ['a', 'b', 'c']
    assert all(t >= 0 for t in times.values())


def test_the_median_of_the_rounds(monkeypatch):
    # perf_counter returns 0, d1, d1, d1 + d2, ...: call i lasts durations[i]
    durations = iter([5e-3, 1e-3, 9e-3])
    clock = [0.]

    def fake_counter():
        return clock[0]

    def work():
        clock[0] += next(durations)

    monkeypatch.setattr('mmpose_light_runtime.timing.time.perf_counter',
                        fake_counter)
    times = compare_latency({'x': work}, rounds=3, warmup=0)
    assert times['x'] == pytest.approx(5.)


@pytest.mark.parametrize('kwargs, message', [
    (dict(rounds=0), '`rounds` should be an int >= 1'),
    (dict(rounds=2.5), '`rounds` should be an int >= 1'),
    (dict(warmup=-1), '`warmup` should be an int >= 0'),
])
def test_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare_latency({'x': lambda: None}, **kwargs)
    with pytest.raises(ValueError, match='at least one candidate'):
        compare_latency({})
