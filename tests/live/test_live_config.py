"""``fyerstrade live config``: every mistake in ``live_config.yaml`` is one stderr line naming
the key or value (exit 2); ``--init`` writes a valid default and refuses to overwrite without
``--force``; ``--show`` prints the effective config."""

from __future__ import annotations

import pytest
import yaml

from fyerstrade import cli
from fyerstrade.config import Settings
from fyerstrade.live.config import LiveConfig, load_live_config


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
