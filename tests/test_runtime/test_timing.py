"""The interleaved timing harness of every benchmark, and the CPU it
names."""
import io
import os
import os.path as osp
import re

import pytest

from mmpose_light_runtime import timing
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


EPYC_AVX2 = '''processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx fma avx2 bmi2 sha_ni

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx fma avx2 bmi2 sha_ni avx512f
'''

ARM = '''processor\t: 0
BogoMIPS\t: 48.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 asimddp
CPU part\t: 0xd0c

Hardware\t: BCM2835
'''


@pytest.mark.parametrize('text, model, flags', [
    # only the first processor counts
    (EPYC_AVX2, 'AMD EPYC 7B13', ['avx2', 'fma']),
    (ARM, None, []),
    ('', None, []),
])
def test_cpu_flags_from_cpuinfo(monkeypatch, text, model, flags):
    monkeypatch.setattr(timing, 'open', lambda *_: io.StringIO(text),
                        raising=False)
    monkeypatch.setattr(timing.platform, 'processor', lambda: 'arm64')
    info = timing.cpu_info()
    assert info['model'] == (model or 'arm64')
    assert info['flags'] == flags
    line = timing.format_cpu_info(info)
    assert line.startswith(f'CPU: {model or "arm64"} (')
    assert (' '.join(flags) or 'none of avx2') in line
    assert line.endswith(f'{os.cpu_count()} logical cores') or \
        'usable' in line


def test_cpu_info_of_this_machine(monkeypatch):
    info = timing.cpu_info()
    assert set(info) == {'model', 'flags', 'logical_cores', 'usable_cores'}
    assert set(info['flags']) <= set(timing.CPU_FLAGS)
    assert info['logical_cores'] == os.cpu_count()
    assert 1 <= info['usable_cores'] <= info['logical_cores']
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            text = f.read()
        words = set(re.search(r'^flags\s*:(.*)$', text, re.M).group(1).split()
                    if 'flags' in text else [])
        assert info['flags'] == [f for f in timing.CPU_FLAGS if f in words]

    def no_file(*_):
        raise OSError('no /proc here')

    monkeypatch.setattr(timing, 'open', no_file, raising=False)
    monkeypatch.setattr(timing.platform, 'processor', lambda: 'i386')
    assert timing.cpu_info()['model'] == 'i386'
    assert timing.cpu_info()['flags'] == []
    assert 'none of avx2 fma' in timing.format_cpu_info()


def test_format_cpu_info_usable_cores():
    info = dict(model='X', flags=['avx2'], logical_cores=8, usable_cores=2)
    assert timing.format_cpu_info(info) == \
        'CPU: X (avx2), 8 logical cores, 2 usable'


def test_format_cpu_info_with_threads():
    info = dict(model='X', flags=['avx2'], logical_cores=2, usable_cores=2)
    assert timing.format_cpu_info(info, threads=1) == \
        'CPU: X (avx2), 2 logical cores; timed with 1 thread(s)'


def test_settle_pause_is_not_timed():
    import time
    start = time.perf_counter()
    times = timing.compare_latency({'noop': lambda: None},
                                   rounds=3,
                                   warmup=0,
                                   settle_ms=20)
    assert time.perf_counter() - start >= 0.06  # three pauses happened
    assert times['noop'] < 20  # none of them was timed
    with pytest.raises(ValueError, match='settle_ms'):
        timing.compare_latency({'noop': lambda: None}, settle_ms=-1)
