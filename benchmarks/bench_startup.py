"""Start-up of the command line: ``fyerstrade --help``, ``backtest strategies``, ``live status``.

Each command is started as a user starts it (the console script in ``.venv/bin``), in a fresh
process, on an empty data dir; the figure is the best wall time of ``FYERSTRADE_BENCH_REPEAT``
runs (default 5) — the best, because the machine is shared and a slow run says more about the
neighbours than about us; the best CPU time (user + system) is printed too, as what the command
costs when the machine is busy. Target (issue 14): each under 0.5 s wall. ``python -c pass`` is
printed as the floor (the interpreter alone). ``PYTHONDONTWRITEBYTECODE`` is reported: when it is
set nothing is cached at run time, so start-up depends on the bytecode compiled at install
(``make deps``). ``backtest strategies`` lists from the index of its last import
(``strategies/listing.py``); its first run on an empty cache dir, which imports the strategies
and writes that index, is printed on its own line.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.5
LISTING = ("backtest", "strategies")
COMMANDS = (("--help",), LISTING, ("live", "status"))


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "fyerstrade"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fyerstrade"]


def best_wall(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Best wall time and best CPU time (user + system) of ``repeat`` runs."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        best_cpu = min(best_cpu, cpu)
    return best, best_cpu


def run() -> None:
    repeat = int(os.environ.get("FYERSTRADE_BENCH_REPEAT", "5"))
    load1, _, _ = os.getloadavg()
    dont = os.environ.get("PYTHONDONTWRITEBYTECODE") or "unset"
    print(f"(load average {load1:.1f} on {os.cpu_count()} CPUs; PYTHONDONTWRITEBYTECODE={dont}; "
          f"best of {repeat})")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        env = {
            **os.environ,
            "FYERSTRADE_DATA_DIR": str(Path(tmp) / "data"),
            "FYERSTRADE_LOG_DIR": str(Path(tmp) / "logs"),
            "FYERSTRADE_CACHE_DIR": str(Path(tmp) / "cache"),
        }
        floor, floor_cpu = best_wall([sys.executable, "-c", "pass"], env, repeat)
        print(f"  python -c pass                    {floor:5.2f} s wall {floor_cpu:5.2f} s cpu  "
              "(the floor)")  # fmt: skip
        for args in COMMANDS:
            first = best_wall([*_cli(), *args], env, 1) if args == LISTING else None
            wall, cpu = best_wall([*_cli(), *args], env, repeat)
            name = "fyerstrade " + " ".join(args)
            print(f"  {name:<33} {wall:5.2f} s wall {cpu:5.2f} s cpu  "
                  f"({wall / TARGET:.2f}x of the {TARGET} s target)")  # fmt: skip
            if first is not None:
                print(f"    its first run (imports, writes the index) {first[0]:5.2f} s wall "
                      f"{first[1]:5.2f} s cpu")  # fmt: skip


if __name__ == "__main__":
    run()
