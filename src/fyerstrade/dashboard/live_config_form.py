"""The Paper trading page's editor of ``live_config.yaml``.

The form starts from the saved file (or the defaults when there is none) and covers every key of
:class:`~fyerstrade.live.config.LiveConfig`: the strategy and its parameter form (generated from
the strategy's declared parameters, as on the Backtest page), symbols (stored ones and the symbol
master, searchable; a ticker typed in is accepted and checked), resolution, mode, capital and
sizing, costs and slippage, the entry window and square-off, risk limits, what ``live stop`` does
with open positions, warm-up, and the schedule.

**Save** checks the values exactly as ``fyerstrade live start`` will
(:func:`~fyerstrade.live.config.live_config_from_dict` then ``validated``, plus the strategy's
own constructor for rules across parameters, and the symbols against the symbol master, where
the engine looks them up) and shows the
first mistake as one line under the button — never a traceback — or writes the file atomically.
A running engine keeps the config it started with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
import yaml

from fyerstrade.config import Settings
from fyerstrade.dashboard import store_reads
from fyerstrade.dashboard.backtest_form import RESOLUTIONS, resolution_label
from fyerstrade.dashboard.param_inputs import param_inputs
from fyerstrade.errors import ConfigError, FyersTradeError
from fyerstrade.live.config import (
    LiveConfig,
    dump_live_config,
    live_config_from_dict,
    save_live_config,
)
from fyerstrade.strategies.base import Strategy

__all__ = ["LIVE_RESOLUTIONS", "SavedConfig", "check_config", "load_saved", "render_config_editor"]

#: Resolutions a live strategy may ask for (built from 1-minute bars), finest first.
LIVE_RESOLUTIONS = tuple(r for r in RESOLUTIONS if r.is_intraday)
SEARCH_LIMIT = 30
ON_STOP_LABELS = {
    "square_off": "square off open positions",
    "keep": "keep open positions",
}
SAVED_KEY = "lc-saved"


@dataclass(frozen=True, slots=True)
class SavedConfig:
    """What the form starts from: the saved config (or the defaults) and, when the saved file
    could not be used, the one line saying why."""

    config: LiveConfig
    exists: bool
    problem: str | None = None


def load_saved(settings: Settings) -> SavedConfig:
    """The saved ``live_config.yaml`` as typed values (strategy not yet resolved), or the
    defaults with the reason when it is missing or invalid."""
    path = settings.live_config_file
    if not path.is_file():
        return SavedConfig(LiveConfig(), exists=False)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SavedConfig(live_config_from_dict(data, str(path)), exists=True)
    except yaml.YAMLError:
        problem = f"{path} is not valid YAML"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot read {path}: {exc}"
    except FyersTradeError as exc:
        problem = str(exc)
    return SavedConfig(LiveConfig(), exists=True, problem=problem)


def check_config(
    settings: Settings, data: dict[str, Any], strategies: dict[str, type[Strategy]]
) -> LiveConfig:
    """Validate the form's values as ``live start`` will; raise a FyersTradeError whose message
    is the one line to show. Returns the config with its parameters completed."""
    del strategies  # the registry of ``settings`` resolves the strategy, as the engine's does
    # The same checks as `live config --check` and `live start` (fyerstrade.live.config_checks):
    # parameters and the strategy's rules across them, the session times, the symbol master.
    config = live_config_from_dict(data)
    if config.mode == "intraday" and config.square_off < config.entry_end:
        # the form's own rule: its time pickers make an early square-off an easy slip
        raise ConfigError(
            f"live config: square_off: {config.square_off:%H:%M} must be at or after entry_end "
            f"{config.entry_end:%H:%M} and by 15:30"
        )
    return config.checked(settings)


# ---- the form ----------------------------------------------------------------------------


def _symbol_options(settings: Settings, saved: list[str]) -> list[str]:
    """Options of the symbol picker: the chosen and saved ones, stored ones, and the symbol
    master's matches of the search text."""
    text = st.text_input(
        "Search the symbol master",
        key="lc-symbol-search",
        placeholder="e.g. SBIN, NIFTY, RELIANCE",
        help="Matches are added to the symbol list below.",
    )
    found: list[str] = []
    if text.strip():
        try:
            found = [i.symbol for i in store_reads.find_instruments(settings, text, SEARCH_LIMIT)]
        except FyersTradeError as exc:
            st.error(str(exc))
        if not found:
            st.caption(f"No instrument matches {text.strip()!r} in the symbol master.")
    chosen = list(st.session_state.get("lc-symbols") or [])
    return list(dict.fromkeys([*chosen, *saved, *found, *store_reads.stored_symbols(settings)]))


def _optional_number(label: str, value: float | None, key: str, *, integer: bool, help: str) -> Any:
    if integer:
        return st.number_input(
            label, value=None if value is None else int(value), step=1, key=key, help=help,
            placeholder="no limit",
        )  # fmt: skip
    return st.number_input(
        label, value=None if value is None else float(value), step=500.0, key=key, help=help,
        placeholder="no limit",
    )  # fmt: skip


def _form(
    settings: Settings, saved: LiveConfig, strategies: dict[str, type[Strategy]]
) -> dict[str, Any]:
    """Draw the widgets; return their values as a live-config mapping."""
    names = sorted(strategies)
    start = names.index(saved.strategy) if saved.strategy in names else 0
    name = st.selectbox("Strategy", names, index=start, key="lc-strategy")
    cls = strategies[name]
    if cls.description:
        st.caption(cls.description)
    st.markdown("**Parameters**")
    params = param_inputs(
        cls,
        key_prefix="lc-param",
        values=saved.params if name == saved.strategy else None,
        bounded=False,
    )

    c1, c2 = st.columns([3, 1])
    with c1:
        options = _symbol_options(settings, saved.symbols)
        symbols = st.multiselect(
            "Symbols",
            options,
            default=[s for s in saved.symbols if s in options],
            accept_new_options=True,
            key="lc-symbols",
            help="Stored symbols and symbol-master matches; type a Fyers ticker to add another.",
        )
    res_index = (
        LIVE_RESOLUTIONS.index(saved.resolution) if saved.resolution in LIVE_RESOLUTIONS else 0
    )
    resolution = c2.selectbox(
        "Bar resolution",
        LIVE_RESOLUTIONS,
        index=res_index,
        format_func=resolution_label,
        key="lc-resolution",
        help="The strategy's bars, built from live 1-minute bars.",
    )  # fmt: skip

    m1, m2, m3, m4 = st.columns(4)
    mode = m1.radio(
        "Mode", ("intraday", "positional"), index=0 if saved.mode == "intraday" else 1,
        horizontal=True, key="lc-mode",
    )  # fmt: skip
    entry_start = m2.time_input("Entries from", value=saved.entry_start, key="lc-entry-start")
    entry_end = m3.time_input("Entries until", value=saved.entry_end, key="lc-entry-end")
    square_off = m4.time_input(
        "Square off at", value=saved.square_off, key="lc-square-off",
        help="Intraday positions are closed at this time.",
    )  # fmt: skip

    s1, s2, s3, s4 = st.columns(4)
    capital = s1.number_input(
        "Capital (₹)", value=float(saved.capital), step=10_000.0, key="lc-capital"
    )
    sizing = s2.radio(
        "Position size", ("by capital", "fixed quantity"),
        index=1 if saved.quantity is not None else 0, horizontal=True, key="lc-sizing",
    )  # fmt: skip
    quantity: int | None = None
    if sizing == "fixed quantity":
        quantity = int(
            s3.number_input("Quantity", value=int(saved.quantity or 1), step=1, key="lc-quantity")
        )
    leverage = s4.number_input(
        "Intraday leverage", value=float(saved.intraday_leverage), step=1.0, key="lc-leverage"
    )

    k1, k2, k3 = st.columns(3)
    costs = k1.checkbox("Indian trading costs", value=saved.costs, key="lc-costs")
    slip_ticks = k2.number_input(
        "Slippage (ticks)", value=float(saved.slippage_ticks), step=0.5, key="lc-slip-ticks"
    )
    slip_bps = k3.number_input(
        "Slippage (bps)", value=float(saved.slippage_bps), step=1.0, key="lc-slip-bps"
    )

    st.markdown("**Risk and stopping**")
    r1, r2, r3, r4 = st.columns(4)
    with r1:
        max_loss = _optional_number(
            "Max daily loss (₹)", saved.risk.max_daily_loss, "lc-max-loss", integer=False,
            help="Breached: square off everything, no new entries today. Empty: no limit.",
        )  # fmt: skip
    with r2:
        max_open = _optional_number(
            "Max open positions", saved.risk.max_open_positions, "lc-max-open", integer=True,
            help="No new entry while this many positions are open. Empty: no limit.",
        )  # fmt: skip
    on_stop = r3.radio(
        "On stop", tuple(ON_STOP_LABELS), index=0 if saved.on_stop == "square_off" else 1,
        format_func=ON_STOP_LABELS.__getitem__, key="lc-on-stop",
        help="What stopping the engine does with open positions.",
    )  # fmt: skip
    warmup = r4.number_input(
        "Warm-up bars", value=int(saved.warmup_bars), step=50, key="lc-warmup",
        help="Stored 1-minute bars the strategy sees before it trades.",
    )  # fmt: skip

    st.markdown("**Schedule**")
    h1, h2, h3 = st.columns(3)
    before = h1.number_input(
        "Connect before the open (min)", value=int(saved.schedule.start_before_open), step=1,
        key="lc-before-open",
    )  # fmt: skip
    after = h2.number_input(
        "Stop after the close (min)", value=int(saved.schedule.stop_after_close), step=1,
        key="lc-after-close",
    )  # fmt: skip
    archive = h3.checkbox(
        "Archive the day's ticks after the close", value=saved.schedule.archive, key="lc-archive"
    )

    return {
        "strategy": name,
        "params": params,
        "symbols": list(symbols),
        "resolution": resolution.value,
        "mode": mode,
        "capital": capital,
        "quantity": quantity,
        "costs": bool(costs),
        "slippage_ticks": slip_ticks,
        "slippage_bps": slip_bps,
        "entry_start": entry_start or saved.entry_start,
        "entry_end": entry_end or saved.entry_end,
        "square_off": square_off or saved.square_off,
        "intraday_leverage": leverage,
        "risk": {"max_daily_loss": max_loss, "max_open_positions": max_open},
        "on_stop": on_stop,
        "warmup_bars": warmup,
        "strategy_seconds": saved.strategy_seconds,  # not on the form: kept as saved
        "schedule": {"start_before_open": before, "stop_after_close": after, "archive": archive},
    }


def _save(settings: Settings, data: dict[str, Any], strategies: dict[str, type[Strategy]]) -> None:
    try:
        config = check_config(settings, data, strategies)
        save_live_config(settings.live_config_file, config)
    except FyersTradeError as exc:
        st.error(str(exc))
        return
    st.session_state[SAVED_KEY] = dump_live_config(config)
    st.success(f"Saved to {settings.live_config_file}.")


def render_config_editor(settings: Settings, strategies: dict[str, type[Strategy]]) -> None:
    """Draw the editor; save the config when Save is clicked and it is valid."""
    saved = load_saved(settings)
    if saved.problem:
        st.warning(
            f"The saved config cannot be used: {saved.problem}. The form shows the defaults."
        )
    elif not saved.exists:
        st.info(
            "No live config yet: the form shows the defaults; "
            f"Save writes {settings.live_config_file}."
        )
    if saved.config.strategy not in strategies:
        st.warning(f"The saved strategy {saved.config.strategy!r} is not available; pick another.")
    data = _form(settings, saved.config, strategies)
    if st.button("Save", type="primary", key="lc-save"):
        _save(settings, data, strategies)
    text = st.session_state.get(SAVED_KEY)
    if text is None and saved.exists and saved.problem is None:
        text = dump_live_config(saved.config)
    if text:
        with st.expander("The saved file"):
            st.code(text, language="yaml")
