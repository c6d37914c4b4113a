import math
import re

import numpy as np
import pytest

from mmpose_light_runtime.checks import (BadTypeError, check_bool, check_int,
                                         check_number, is_int)


@pytest.mark.parametrize('value, minimum, maximum', [
    (0, None, None),
    (-5, -5, None),
    (3, 1, 3),
    (7, None, 7),
    (np.int64(4), 1, None),
])
def test_int_within_bounds_is_returned(value, minimum, maximum):
    result = check_int('n', value, minimum, maximum)
    assert result == value and type(result) is int
    assert is_int(value, minimum, maximum)


@pytest.mark.parametrize('value, minimum, maximum, error, match', [
    (True, None, None, BadTypeError, r'^count should be an int, but got '
     r'True$'),
    (1.0, 1, None, BadTypeError, r'^count should be an int >= 1, but got '
     r'1\.0$'),
    ('2', 1, None, BadTypeError, r"^count should be an int >= 1, but got "
     r"'2'$"),
    (0, 1, None, ValueError, r'^count should be an int >= 1, but got 0$'),
    (16, 1, 15, ValueError, r'^count should be an int in \[1, 15\], but got '
     r'16$'),
    (9, None, 8, ValueError, r'^count should be an int <= 8, but got 9$'),
])
def test_bad_int_names_the_argument_and_value(value, minimum, maximum, error,
                                              match):
    with pytest.raises(error, match=match):
        check_int('count', value, minimum, maximum)
    assert not is_int(value, minimum, maximum)


def test_bad_type_is_a_type_and_a_value_error():
    # callers that catch either keep working
    for error in (TypeError, ValueError):
        with pytest.raises(error):
            check_int('count', True)
        with pytest.raises(error):
            check_number('thr', '0.5')
        with pytest.raises(error):
            check_bool('deploy', 'yes')
    # a value of the right type out of bounds is no type error
    with pytest.raises(ValueError) as info:
        check_int('count', 0, 1)
    assert not isinstance(info.value, TypeError)


def test_int_with_one_more_value():
    assert check_int('`max_num`', -1, 1, also=-1) == -1
    assert check_int('`max_num`', 3, 1, also=-1) == 3
    for value in (0, -2, True, 1.0):
        with pytest.raises(ValueError,
                           match=r'^`max_num` should be -1 or a positive int, '
                           f'but got {value!r}$'):
            check_int('`max_num`', value, 1, also=-1)
    with pytest.raises(ValueError, match=r'^`k` should be 0 or an int in '
                       r'\[2, 4\], but got 1$'):
        check_int('`k`', 1, 2, 4, also=0)


@pytest.mark.parametrize('value, kwargs', [
    (0.5, dict(low=0, high=1)),
    (0, dict(low=0, high=1)),
    (1, dict(low=0, high=1)),
    (np.float32(2.5), dict(low=0, low_open=True)),
    (-3, dict()),
    (math.inf, dict(finite=False)),
    (-math.inf, dict(high=0, finite=False)),
])
def test_number_within_bounds_is_returned(value, kwargs):
    result = check_number('x', value, **kwargs)
    assert result == value and type(result) is float


@pytest.mark.parametrize('value, kwargs, error, what', [
    (True, dict(), BadTypeError, 'a finite number'),
    ('1', dict(), BadTypeError, 'a finite number'),
    (None, dict(), BadTypeError, 'a finite number'),
    (math.nan, dict(), ValueError, 'a finite number'),
    (math.nan, dict(finite=False), ValueError, 'a number'),
    (math.inf, dict(), ValueError, 'a finite number'),
    (math.inf, dict(low=0, low_open=True), ValueError, 'a positive number'),
    (0, dict(low=0, low_open=True), ValueError, 'a positive number'),
    (-0.1, dict(low=0), ValueError, 'a non-negative number'),
    (1.5, dict(low=0, high=1), ValueError, r'a number in \[0, 1\]'),
    (0, dict(low=0, high=1, low_open=True), ValueError,
     r'a number in \(0, 1\]'),
    (1, dict(low=0, high=1, high_open=True), ValueError,
     r'a number in \[0, 1\)'),
    (2, dict(low=2, low_open=True), ValueError, 'a number > 2'),
    (1, dict(low=2), ValueError, 'a number >= 2'),
    (3, dict(high=3, high_open=True), ValueError, 'a number < 3'),
    (4, dict(high=3), ValueError, 'a number <= 3'),
    ('0.2', dict(finite=False, allow_none=True), BadTypeError,
     'a number or None'),
])
def test_bad_number_names_the_argument_and_value(value, kwargs, error, what):
    with pytest.raises(error,
                       match=f'^`thr` should be {what}, but got '
                       f'{re.escape(repr(value))}$'):
        check_number('`thr`', value, **kwargs)


def test_number_none():
    assert check_number('`vis_thr`', None, allow_none=True) is None


def test_bool():
    assert check_bool('deploy', False) is False
    assert check_bool('deploy', True) is True
    for value in ('False', 0, None):
        with pytest.raises(TypeError,
                           match=f'^deploy should be a bool, but got '
                           f'{value!r}$'):
            check_bool('deploy', value)
