"""Checks of user arguments, shared by the runtime and ``mmpose_light``.

Python's ``bool`` is an ``int``, so ``isinstance(value, int)`` lets
``True`` through as a count or a channel number, and ``float('nan')``
passes every ``isinstance(value, float)``; these checks refuse both. They
raise at the boundary (a public constructor or function, a config, a
command line) with a message that names the argument and the value given,
so internal code can trust its callers.

Every message reads ``'{name} should be {what}, but got {value!r}'``; the
caller writes ``name`` as the user should read it, the argument in
backticks (``'`rounds`'``, ``'`in_channels` of LPB'``).
"""
import math
from numbers import Integral, Real
from typing import Any, Optional

__all__ = [
    'BadTypeError', 'is_int', 'check_int', 'check_number', 'check_bool'
]


class BadTypeError(TypeError, ValueError):
    """An argument of the wrong type.

    It is also a ``ValueError``: a ``True`` given as a count or a string
    given as a threshold is as much a bad value as a bad type, and callers
    that catch ``ValueError`` for any bad argument still catch it.
    """


def is_int(value: Any,
           minimum: Optional[int] = None,
           maximum: Optional[int] = None) -> bool:
    """Whether ``value`` is an integer (not a bool) within the bounds.

    For the checks of collections whose message names the whole collection
    (``'`input_shape` should be 4 positive ints'``).

    Args:
        value: The value.
        minimum (int, optional): Smallest allowed value. Defaults to
            ``None``: no lower bound.
        maximum (int, optional): Largest allowed value. Defaults to
            ``None``: no upper bound.

    Returns:
        bool: True for a Python or numpy integer in ``[minimum, maximum]``.
    """
    return (isinstance(value, Integral) and not isinstance(value, bool)
            and (minimum is None or value >= minimum)
            and (maximum is None or value <= maximum))


def _int_bounds(minimum: Optional[int], maximum: Optional[int]) -> str:
    if minimum is not None and maximum is not None:
        return f'an int in [{minimum}, {maximum}]'
    if minimum is not None:
        return f'an int >= {minimum}'
    if maximum is not None:
        return f'an int <= {maximum}'
    return 'an int'


def check_int(name: str,
              value: Any,
              minimum: Optional[int] = None,
              maximum: Optional[int] = None,
              *,
              also: Optional[int] = None) -> int:
    """Return ``value`` if it is an integer (not a bool) within the bounds.

    Args:
        name (str): The argument, as the message should show it
            (e.g. ``'`in_channels` of LPB'``).
        value: The argument.
        minimum (int, optional): Smallest allowed value. Defaults to
            ``None``: no lower bound.
        maximum (int, optional): Largest allowed value. Defaults to
            ``None``: no upper bound.
        also (int, optional): One more allowed value outside the bounds,
            such as -1 for "no limit" beside the positive ints. Defaults
            to ``None``.

    Returns:
        int: ``value`` as a Python int (numpy integers are accepted).

    Raises:
        BadTypeError: If ``value`` is not an integer or is a bool (a
            ``TypeError`` and a ``ValueError``).
        ValueError: If ``value`` lies outside ``[minimum, maximum]`` and
            is not ``also``.

    Example:
        >>> check_int('`max_num`', -1, 1, also=-1)
        -1
        >>> check_int('`rounds`', 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: `rounds` should be an int >= 1, but got 0
    """
    if also is not None and is_int(value) and value == also:
        return int(value)
    if is_int(value, minimum, maximum):
        return int(value)
    if also is None:
        what = _int_bounds(minimum, maximum)
    elif minimum == 1 and maximum is None:
        what = f'{also} or a positive int'
    else:
        what = f'{also} or {_int_bounds(minimum, maximum)}'
    message = f'{name} should be {what}, but got {value!r}'
    if is_int(value):
        raise ValueError(message)
    raise BadTypeError(message)


def _number_bounds(low: Optional[float], high: Optional[float],
                   low_open: bool, high_open: bool, finite: bool) -> str:
    if low is not None and high is not None:
        return (f'a number in {"(" if low_open else "["}{low}, '
                f'{high}{")" if high_open else "]"}')
    if low == 0:
        return 'a positive number' if low_open else 'a non-negative number'
    if low is not None:
        return f'a number {">" if low_open else ">="} {low}'
    if high is not None:
        return f'a number {"<" if high_open else "<="} {high}'
    return 'a finite number' if finite else 'a number'


def check_number(name: str,
                 value: Any,
                 low: Optional[float] = None,
                 high: Optional[float] = None,
                 *,
                 low_open: bool = False,
                 high_open: bool = False,
                 finite: bool = True,
                 allow_none: bool = False) -> Optional[float]:
    """Return ``value`` as a float if it is a real number within bounds.

    A bool is refused; NaN is always refused, infinities unless ``finite``
    is False.

    Args:
        name (str): The argument, as the message should show it
            (e.g. ``'`score_thr`'``).
        value: The argument.
        low (float, optional): Lower bound. Defaults to ``None``: none.
        high (float, optional): Upper bound. Defaults to ``None``: none.
        low_open (bool): Whether ``low`` itself is refused. Defaults to
            False.
        high_open (bool): Whether ``high`` itself is refused. Defaults to
            False.
        finite (bool): Whether infinities are refused. Defaults to True.
        allow_none (bool): Whether ``None`` is accepted (and returned).
            Defaults to False.

    Returns:
        float | None: ``float(value)``, or None if ``value`` is None and
        ``allow_none``.

    Raises:
        BadTypeError: If ``value`` is not a real number or is a bool (a
            ``TypeError`` and a ``ValueError``).
        ValueError: If ``value`` is NaN, infinite while ``finite``, or out
            of bounds.

    Example:
        >>> check_number('`sigma`', 2, 0, low_open=True)
        2.0
        >>> check_number('`thr`', 1.5, 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: `thr` should be a number in [0, 1], but got 1.5
    """
    if value is None and allow_none:
        return None
    what = _number_bounds(low, high, low_open, high_open, finite)
    if allow_none:
        what += ' or None'
    message = f'{name} should be {what}, but got {value!r}'
    if not isinstance(value, Real) or isinstance(value, bool):
        raise BadTypeError(message)
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high
                                  if high_open else value > high)
    if math.isnan(value) or (finite and math.isinf(value)) or below or above:
        raise ValueError(message)
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool.

    A flag given as a string (``deploy='yes'``, or ``'False'`` from a
    command line) would otherwise be truthy.

    Args:
        name (str): The argument, as the message should show it.
        value: The argument.

    Returns:
        bool: ``value``.

    Raises:
        BadTypeError: If ``value`` is not a bool (a ``TypeError`` and a
            ``ValueError``).
    """
    if not isinstance(value, bool):
        raise BadTypeError(f'{name} should be a bool, but got {value!r}')
    return value
