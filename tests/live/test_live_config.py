"""``fyerstrade live config``: every mistake in ``live_config.yaml`` is one stderr line naming
the key or value (exit 2); ``--init`` writes a valid default and refuses to overwrite without
``--force``; ``--show`` prints the effective config."""

from __future__ import annotations

import pytest
import yaml

from fyerstrade import cli
from fyerstrade.config import Settings
from fyerstrade.live.config import LiveConfig, load_live_config
from plugins.store import write_symbol_master


def check(settings: Settings, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_text(text, encoding="utf-8")
    code = cli.main(["live", "config", "--check"])
    captured = capsys.readouterr()
    return code, captured.err if code else captured.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("symbolz: [NSE:SBIN-EQ]\n", "unknown key 'symbolz' (did you mean 'symbols'?)"),
        (
            "risk: {max_daily_los: 500}\n",
            "unknown key 'risk.max_daily_los' (did you mean 'max_daily_loss'?)",
        ),
        ("symbols: [SBIN]\n", "'SBIN' is not a Fyers symbol (EXCHANGE:NAME"),
        ("square_off: '25:99'\n", "square_off: Input should be in a valid time format"),
        ("entry_start: '14:00'\nentry_end: '10:00'\n", "entry_end 10:00 is before entry_start"),
        ("capital: -5\n", "capital: Input should be greater than 0"),
        ("on_stop: maybe\n", "on_stop: Input should be 'square_off' or 'keep'"),
        ("resolution: D\n", "resolution: live trading needs intraday bars"),
        ("strategy: sma_crossovr\n", "unknown strategy 'sma_crossovr' (did you mean"),
        ("params: {fast: 10, slwo: 30}\n", "unknown parameter 'slwo' for sma_crossover"),
        ("params: {fast: -3}\n", "parameter 'fast' of sma_crossover must be between"),
        ("strategy: [\n", "is not valid YAML"),
        ("- just\n- a list\n", "expected a mapping of keys"),
        # what the engine would refuse at session start (issue 15.6)
        ("params: {fast: 30, slow: 10}\n", "sma_crossover needs fast < slow, got fast=30"),
        ("capital: .inf\n", "capital: Input should be a finite number"),
        ("slippage_bps: .nan\n", "slippage_bps: Input should be a finite number"),
        ("risk: {max_daily_loss: .inf}\n", "risk.max_daily_loss: Input should be a finite"),
        ("", "is empty; write one with `fyerstrade live config --init`"),
        ("# only a comment\n", "is empty; write one with"),
        ("capital: 1000\nsymbols: [NSE:SBIN-EQ]\ncapital: 9\n", "duplicate key 'capital' (lines 1"),
        ("risk: {max_open_positions: 1, max_open_positions: 2}\n", "duplicate key 'max_open_pos"),
        ("square_off: '15:45'\n", "square_off: 15:45 is after the close (15:30)"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_key(
    settings: Settings, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    code, err = check(settings, text, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in err


def test_a_good_config_checks_ok(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    write_symbol_master(settings, ["NSE:SBIN-EQ", "NSE:RELIANCE-EQ"])
    code, out = check(
        settings,
        "strategy: sma_crossover\nparams: {fast: 5, slow: 20}\n"
        "symbols: [nse:sbin-eq, NSE:RELIANCE-EQ]\nresolution: 5\nentry_start: 09:30\n",
        capsys,
    )
    assert code == 0
    assert out.startswith(f"ok: {settings.live_config_file}")
    assert "sma_crossover on 2 symbol(s), 5-minute bars" in out


def test_missing_config_says_how_to_write_one(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["live", "config", "--check"]) == 2
    assert "fyerstrade live config --init" in capsys.readouterr().err


def test_init_writes_a_valid_default_and_refuses_to_overwrite(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["live", "config", "--init"]) == 0
    assert "wrote the default live config" in capsys.readouterr().out
    written = load_live_config(settings.live_config_file, settings)
    assert written == LiveConfig().validated(settings)
    assert written.params  # the strategy's defaults are spelt out for editing

    settings.live_config_file.write_text("strategy: sma_crossover\ncapital: 5000\n")
    assert cli.main(["live", "config", "--init"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("already exists; pass --force to overwrite it")
    assert "capital: 5000" in settings.live_config_file.read_text()  # untouched

    assert cli.main(["live", "config", "--init", "--force"]) == 0
    capsys.readouterr()
    assert load_live_config(settings.live_config_file, settings).capital == 100_000


def test_show_prints_the_effective_config(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.data_dir.mkdir(parents=True)
    settings.live_config_file.write_text("symbols: [NSE:INFY-EQ]\nsquare_off: '15:00'\n")
    assert cli.main(["live", "config", "--show"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["symbols"] == ["NSE:INFY-EQ"]
    assert shown["square_off"] == "15:00"
    assert shown["params"] == LiveConfig().validated(settings).params  # defaults filled in
    assert set(shown["params"]) >= {"fast", "slow"}
    assert shown["on_stop"] == "square_off"


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        ("[NSE:NOPE-EQ]", "NSE:NOPE-EQ not in the symbol master"),
        ("[NSE:SBIN-EQ, NSE:FOOBAR-EQ]", "NSE:FOOBAR-EQ not in the symbol master"),
    ],
)
def test_symbols_are_checked_against_the_symbol_master(
    settings: Settings, capsys: pytest.CaptureFixture[str], symbols: str, expected: str
) -> None:
    write_symbol_master(settings, ["NSE:SBIN-EQ"])
    code, err = check(settings, f"symbols: {symbols}\n", capsys)
    assert code == 2
    line = (
        f"error: live config: symbols: {expected}; check the ticker (EXCHANGE:NAME-SERIES, "
        "e.g. NSE:SBIN-EQ) or refresh the master with `fyerstrade data symbols`"
    )
    assert err.strip().splitlines() == [line]


def test_a_binary_config_is_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.live_config_file.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert cli.main(["live", "config", "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a text file" in err[0]


@pytest.mark.parametrize(
    "text",
    [
        "symbols: [NSE:NOPE-EQ]\n",
        "params: {fast: 30, slow: 10}\n",
        "capital: .inf\n",
        "",
    ],
    ids=["unknown-symbol", "fast-over-slow", "infinite-capital", "empty"],
)
def test_live_start_fails_before_starting_a_process(
    settings: Settings, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    from fyerstrade.live.control import engine_output_file

    write_symbol_master(settings, ["NSE:SBIN-EQ"])
    settings.live_config_file.write_text(text, encoding="utf-8")
    assert cli.main(["live", "start"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not settings.live_pid_file.exists()
    assert not engine_output_file(settings).exists()  # no process was started
