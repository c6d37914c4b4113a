import pytest

from mmpose_light_runtime.checks import check_bool, check_int


@pytest.mark.parametrize('value, minimum, maximum', [
    (0, None, None),
    (-5, -5, None),
    (3, 1, 3),
    (7, None, 7),
])
def test_int_within_bounds_is_returned(value, minimum, maximum):
    assert check_int('n', value, minimum, maximum) == value


@pytest.mark.parametrize('value, minimum, maximum, match', [
    (True, None, None, r'^count must be an int, but got True$'),
    (1.0, 1, None, r'^count must be an int >= 1, but got 1\.0$'),
    ('2', 1, None, r"^count must be an int >= 1, but got '2'$"),
    (0, 1, None, r'^count must be an int >= 1, but got 0$'),
    (16, 1, 15, r'^count must be an int in \[1, 15\], but got 16$'),
    (9, None, 8, r'^count must be an int <= 8, but got 9$'),
])
def test_bad_int_names_the_argument_and_value(value, minimum, maximum,
                                              match):
    with pytest.raises(ValueError, match=match):
        check_int('count', value, minimum, maximum)


def test_bool():
    assert check_bool('deploy', False) is False
    assert check_bool('deploy', True) is True
    for value in ('False', 0, None):
        with pytest.raises(TypeError,
                           match=f'^deploy must be a bool, but got '
                           f'{value!r}$'):
            check_bool('deploy', value)
