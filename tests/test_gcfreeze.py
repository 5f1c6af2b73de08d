"""RunFreeze: a run freezes what it builds and unfreezes it at its end when nothing was frozen
before; under a caller's freeze (a pool worker, a test session) it leaves that freeze alone."""

from __future__ import annotations

import subprocess
import sys

_CHILD = """
import gc
from fyerstrade.gcfreeze import RunFreeze, freeze_for_good

assert gc.get_freeze_count() == 0
with RunFreeze() as frozen:  # nothing frozen before: the run owns the freeze
    assert frozen.owned and gc.get_freeze_count() > 0
    built = [[i] for i in range(1000)]
    before = gc.get_freeze_count()
    frozen.freeze()  # what the run built since goes out of sight too
    assert gc.get_freeze_count() >= before + 1000
assert gc.get_freeze_count() == 0  # all handed back

gc.freeze()  # a caller's own freeze (not told through freeze_for_good)
caller = gc.get_freeze_count()
with RunFreeze() as nested:  # (a new name: freeing the first one would leave the count)
    assert not nested.owned
    more = [[i] for i in range(1000)]
    nested.freeze()
    assert gc.get_freeze_count() == caller  # the run's objects stay collectable
assert gc.get_freeze_count() == caller  # and the caller's freeze is still there

gc.unfreeze()
freeze_for_good()  # a forked pool worker, a test session: said once, never asked again
held = gc.get_freeze_count()
with RunFreeze() as run:
    assert not run.owned
    run.freeze()
assert gc.get_freeze_count() == held
print("ok")
"""


def test_a_run_freezes_only_when_nothing_is_frozen_and_never_undoes_a_callers_freeze() -> None:
    # in a fresh interpreter: this test session froze its own heap after collection
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
