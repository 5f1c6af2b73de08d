"""Where in a strategy's own file an exception happened: ``my_rsi.py:33 (ratio = 1 / 0)``.

A trader fixing a strategy needs its file and line, not the engine's traceback. The innermost
frame in the strategy's source file is the one named; when the error happened elsewhere (a
library called from the strategy), the innermost frame outside fyerstrade is named instead.
"""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path
from types import FrameType

__all__ = ["error_location", "frame_location"]

_PACKAGE = Path(__file__).resolve().parents[1]


def error_location(exc: BaseException, strategy_cls: type | None = None) -> str:
    """``file.py:LINE (code)`` of the frame to blame, or ``""`` when none is known."""
    if isinstance(exc, SyntaxError) and exc.filename:
        code = (exc.text or "").strip()
        return f"{Path(exc.filename).name}:{exc.lineno}" + (f" ({code})" if code else "")
    return _blame(traceback.extract_tb(exc.__traceback__), strategy_cls)


def frame_location(frame: FrameType, strategy_cls: type | None = None) -> str:
    """The same for code still running: ``frame`` is the innermost frame of a thread (what a
    watchdog sees of a strategy that does not return)."""
    return _blame(traceback.extract_stack(frame), strategy_cls)


def _blame(frames: traceback.StackSummary, strategy_cls: type | None) -> str:
    if not frames:
        return ""
    own = ""
    if strategy_cls is not None:
        try:
            own = str(Path(inspect.getfile(strategy_cls)).resolve())
        except (TypeError, OSError):
            own = ""
    pick = None
    if own:
        pick = next((f for f in reversed(frames) if str(Path(f.filename).resolve()) == own), None)
    if pick is None:
        outside = [f for f in frames if not Path(f.filename).resolve().is_relative_to(_PACKAGE)]
        pick = outside[-1] if outside else None
    if pick is None:
        return ""
    code = (pick.line or "").strip()
    return f"{Path(pick.filename).name}:{pick.lineno}" + (f" ({code})" if code else "")
