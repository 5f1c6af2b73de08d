"""``docs/strategies.md`` guards itself (issue 13.5): every Python block of the guide is loaded as
a user strategy file and backtested, the complete example is exactly what ``fyerstrade strategy
new`` writes, every Context and Strategy member is in the guide, and a strategy that raises is
reported with its file and line on the CLI."""

from __future__ import annotations

import inspect
import json
import re
import shlex
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from fyerstrade import cli
from fyerstrade.backtest.engine import BacktestConfig, run_backtest
from fyerstrade.backtest.synthetic import synthetic_candles
from fyerstrade.backtest.vector import unsupported
from fyerstrade.backtest.vector.run import run_vector
from fyerstrade.config import Settings, load_settings
from fyerstrade.domain import Resolution
from fyerstrade.store.candles import upsert_candles
from fyerstrade.store.db import open_historical
from fyerstrade.strategies.base import Strategy, has_signals
from fyerstrade.strategies.registry import available_strategies, load_errors
from fyerstrade.strategies.template import render_template
from fyerstrade.trading.context import Context

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "strategies.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE, flags=re.S)
SYMBOLS = ("NSE:SBIN-EQ", "NSE:INFY-EQ")


@pytest.fixture
def store(settings: Settings) -> Settings:
    conn = open_historical(settings)
    for k, symbol in enumerate(SYMBOLS):
        candles = synthetic_candles(
            750, start=date(2024, 1, 1), resolution=Resolution.M5, seed=31 + k,
            price=600.0 + 900 * k, volatility=0.003,
        )  # fmt: skip
        upsert_candles(conn, symbol, Resolution.M5, candles)
    conn.close()
    return settings


def _user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> Settings:
    folder = tmp_path / "user_strategies"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    monkeypatch.setenv("FYERSTRADE_STRATEGY_DIR", str(folder))
    return load_settings(env_file=None)


def test_the_guide_has_code_blocks() -> None:
    assert len(BLOCKS) >= 2


def test_the_complete_example_is_what_strategy_new_writes() -> None:
    assert BLOCKS[0] == render_template("my_rsi")


@pytest.mark.parametrize("k", range(len(BLOCKS)), ids=[f"block{k}" for k in range(len(BLOCKS))])
def test_every_block_loads_and_backtests(
    k: int, store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _user_dir(tmp_path, monkeypatch, {f"guide_block_{k}.py": BLOCKS[k]})
    found = available_strategies(settings)
    assert load_errors() == []
    mine = [cls for cls in found.values() if cls.__module__.endswith(f"guide_block_{k}")]
    assert mine, "the block defines no strategy"
    for cls in mine:
        for mode in ("positional", "intraday"):
            config = BacktestConfig(cls.name, {}, list(SYMBOLS), Resolution.M5,
                                    date(2024, 1, 1), date(2024, 1, 12), mode=mode)  # fmt: skip
            result = run_backtest(config, settings)
            assert result.trades, f"{cls.name} ({mode}) made no trade on 10 days of bars"
            if has_signals(cls):  # what the guide says: the same trades in both engines
                assert unsupported(config, settings) is None
                vector = run_vector(config, settings)
                assert vector.fills == result.fills and vector.trades == result.trades
                assert np.array_equal(vector.equity, result.equity)


def test_the_guides_signals_example_exits_by_signal_stop_and_target(
    store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [b for b in BLOCKS if "def signals(" in b]
    assert blocks, "docs/strategies.md has no signals example"
    settings = _user_dir(tmp_path, monkeypatch, {"guide_signals.py": blocks[0]})
    (cls,) = [c for c in available_strategies(settings).values()
              if c.__module__.endswith("guide_signals")]  # fmt: skip
    assert has_signals(cls)
    config = BacktestConfig(cls.name, {}, list(SYMBOLS), Resolution.M5, date(2024, 1, 1),
                            date(2024, 1, 12), mode="intraday")  # fmt: skip
    reasons = {t.exit_reason for t in run_vector(config, settings).trades}
    assert {"signal", "stop", "target"} <= reasons, reasons


def test_every_context_and_strategy_member_is_documented() -> None:
    public = [n for n in dir(Context) if not n.startswith("_")]
    public += ["symbols", "updated"]
    missing = [n for n in public if f"ctx.{n}" not in GUIDE]
    assert not missing, f"Context members missing from docs/strategies.md: {missing}"
    hooks = [n for n, _ in inspect.getmembers(Strategy, inspect.isfunction)
             if not n.startswith("_") and n not in ("param", "defaults")]  # fmt: skip
    missing = [n for n in hooks if f"`{n}(" not in GUIDE]
    assert not missing, f"Strategy methods missing from docs/strategies.md: {missing}"


def test_the_guides_commands_run(
    store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    block = re.search(r"```bash\n(.*?)```", GUIDE, flags=re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    for line in block.group(1).splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            monkeypatch.setenv(key, str(tmp_path / value))
            continue
        args = shlex.split(line)[1:]
        if args[:2] == ["backtest", "run"]:
            args += ["--from", "2024-01-01", "--to", "2024-01-12", "--json"]
        code = cli.main(args)
        out = capsys.readouterr()
        assert code == 0, f"{line}: {out.err}"
        if args[:2] == ["strategy", "new"]:
            assert (tmp_path / "strategies" / "my_rsi.py").read_text() == render_template("my_rsi")
        if args[:2] == ["backtest", "strategies"]:
            assert "my_rsi" in out.out and "period" in out.out
        if args[:2] == ["backtest", "run"]:
            assert json.loads(out.out)["params"]["period"] == 10


def test_strategy_new_refuses_bad_names_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["strategy", "new", "My-RSI", "--dir", str(tmp_path)]) == 2
    assert "must be lower_case" in capsys.readouterr().err
    assert cli.main(["strategy", "new", "my_rsi", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["strategy", "new", "my_rsi", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


RAISES = """
from fyerstrade.strategies.base import Strategy, has_signals


class Raises(Strategy):
    name = "raises"

    def on_data(self, ctx):
        ratio = 1 / 0
"""


def test_a_strategy_error_names_its_file_and_line(
    store: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _user_dir(tmp_path, monkeypatch, {"raises.py": RAISES})
    code = cli.main(["backtest", "run", "--strategy", "raises", "--symbol", SYMBOLS[0],
                     "--resolution", "5", "--from", "2024-01-01",
                     "--to", "2024-01-12"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "strategy raises failed in on_data on NSE:SBIN-EQ" in err
    assert "ZeroDivisionError: division by zero" in err
    assert "raises.py:9 (ratio = 1 / 0)" in err
