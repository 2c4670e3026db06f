"""One switch pauses Python's cyclic garbage collector (``providers.heap.gc_paused``): it nests,
holds across threads until the last pause ends, gives back only what it took, and a process forked
during a pause starts with the collector on."""

from __future__ import annotations

import gc
import os
import threading

import pytest

from providers.heap import gc_paused


def test_a_pause_nests_and_switches_back_on_only_what_it_switched_off(gc_on):
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("mapping failed")
    assert gc.isenabled()
    gc.disable()  # someone else's choice: left as it was
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_pauses_in_two_threads_leave_the_collector_on(gc_on):
    inside, release = threading.Barrier(2), threading.Event()

    def reader():
        with gc_paused():
            inside.wait()
            release.wait(5)

    other = threading.Thread(target=reader)
    other.start()
    with gc_paused():
        inside.wait()
        release.set()
        other.join(5)
        assert not gc.isenabled()  # the other thread is out; this one still reads
    assert gc.isenabled()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_during_a_pause_has_the_collector_on(gc_on):
    with gc_paused():
        pid = os.fork()
        if pid == 0:  # the child: exit 0 only if its collector is on and a pause still works
            try:
                ok = gc.isenabled()
                with gc_paused():
                    ok = ok and not gc.isenabled()
                ok = ok and gc.isenabled()
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert not gc.isenabled()  # the parent's pause holds
    assert os.waitstatus_to_exitcode(status) == 0 and gc.isenabled()
