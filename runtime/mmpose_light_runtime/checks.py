"""Checks of user arguments, shared by the runtime and ``mmpose_light``.

Python's ``bool`` is an ``int``, so ``isinstance(value, int)`` lets
``True`` through as a count or a channel number; these checks refuse it.
They raise at the boundary (a public constructor or function) with a
message that names the argument and the value given, so internal code can
trust its callers.
"""
from typing import Any, Optional

__all__ = ['check_int', 'check_bool']


def check_int(name: str,
              value: Any,
              minimum: Optional[int] = None,
              maximum: Optional[int] = None) -> int:
    """Return ``value`` if it is an int (not a bool) within the bounds.

    Args:
        name (str): The argument's name, as the message should show it
            (e.g. ``'LPB in_channels'``).
        value: The argument.
        minimum (int, optional): Smallest allowed value. Defaults to
            ``None``: no lower bound.
        maximum (int, optional): Largest allowed value. Defaults to
            ``None``: no upper bound.

    Returns:
        int: ``value``.

    Raises:
        ValueError: If ``value`` is not an int, is a bool, or lies outside
            ``[minimum, maximum]``; the message names ``name``, the bounds
            and ``value``.
    """
    if (not isinstance(value, int) or isinstance(value, bool)
            or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        if minimum is not None and maximum is not None:
            bounds = f' in [{minimum}, {maximum}]'
        elif minimum is not None:
            bounds = f' >= {minimum}'
        elif maximum is not None:
            bounds = f' <= {maximum}'
        else:
            bounds = ''
        raise ValueError(f'{name} must be an int{bounds}, but got {value!r}')
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool.

    A flag given as a string (``deploy='yes'``, or ``'False'`` from a
    command line) would otherwise be truthy.

    Args:
        name (str): The argument's name, as the message should show it.
        value: The argument.

    Returns:
        bool: ``value``.

    Raises:
        TypeError: If ``value`` is not a bool; the message names ``name``
            and ``value``.
    """
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be a bool, but got {value!r}')
    return value
