"""A Ctrl-C is not lost when a C callback swallows it (numba's compiler, through ctypes): inside
``remembered_interrupts`` it is raised again at the next ``check_interrupted``."""

from __future__ import annotations

import signal

import pytest

from fyerstrade.interrupts import check_interrupted, remembered_interrupts
from plugins.ctrl_c import ctrl_c_inside_a_c_callback


def test_a_ctrl_c_swallowed_by_a_c_callback_is_raised_at_the_next_check() -> None:
    with remembered_interrupts():
        # it returns: the KeyboardInterrupt was dropped on the way
        assert ctrl_c_inside_a_c_callback() == [KeyboardInterrupt]
        with pytest.raises(KeyboardInterrupt):
            check_interrupted()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    check_interrupted()  # forgotten once outside


def test_a_ctrl_c_still_raises_at_once_and_nothing_is_remembered_outside() -> None:
    with remembered_interrupts(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    with remembered_interrupts():
        check_interrupted()  # nothing came since it began
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # Python's own handler again
    check_interrupted()


def test_an_ignored_or_foreign_sigint_handler_is_left_alone() -> None:
    def foreign(signum: int, frame: object) -> None:
        pass

    for handler in (signal.SIG_IGN, foreign):
        previous = signal.signal(signal.SIGINT, handler)
        try:
            with remembered_interrupts():
                assert signal.getsignal(signal.SIGINT) is handler
                signal.raise_signal(signal.SIGINT)
                check_interrupted()  # not ours to remember
            assert signal.getsignal(signal.SIGINT) is handler
        finally:
            signal.signal(signal.SIGINT, previous)
