"""What ``fyerstrade optimize`` prints: a sweep's best trials and a walk-forward's folds and
summary as tables, with PBO and the Deflated Sharpe Ratio explained in one sentence each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["DSR_SENTENCE", "PBO_SENTENCE", "print_sweep", "print_walkforward"]

PBO_SENTENCE = (
    "PBO is how often the in-sample winner lands in the bottom half out-of-sample across "
    "cross-validation splits (0.5 or more: the winner is probably luck)"
)
DSR_SENTENCE = (
    "DSR is the probability that the best trial's Sharpe ratio is real after accounting for "
    "how many trials were tried (0.95 or more is convincing)"
)


def print_sweep(console: Console, report: dict[str, Any], limit: int = 10) -> None:
    from rich.table import Table

    from fyerstrade.reporting.html import format_metric

    console.print(
        f"{report['id']}  {report['strategy']} · {report['method']} · {report['objective']} "
        f"(min {report['min_trades']} trades) · {report['engine']} engine · {report['status']}"
    )
    cfg = report["config"]
    console.print(
        f"{', '.join(cfg['symbols'])} · {cfg['resolution']} · {cfg['start']} → {cfg['end']} · "
        f"{cfg['mode']} · costs {'on' if cfg['costs'] else 'off'}"
    )
    trials = report["trials"]
    ok = [t for t in trials if t["status"] == "ok"]
    qualified = [t for t in ok if t["score"] is not None]
    refused = len(trials) - len(ok)
    fixed = report["space"].get("fixed") or {}
    console.print(
        f"{len(trials)} trials: {len(qualified)} qualified"
        + (f", {refused} refused by the strategy" if refused else "")
        + (f"; fixed {', '.join(f'{k}={v}' for k, v in fixed.items())}" if fixed else "")
    )
    if qualified:
        names = [a["name"] for a in report["space"]["axes"]]
        table = Table(box=None)
        table.add_column("trial", justify="right")
        for n in names:
            table.add_column(n, justify="right")
        shown = [report["objective"]] + [
            k for k in ("total_return", "sharpe", "max_drawdown") if k != report["objective"]
        ]
        for col in (*shown, "trades"):
            table.add_column(col.replace("_", " "), justify="right")
        ranked = sorted(qualified, key=lambda t: -t["score"])[:limit]
        for t in ranked:
            m = t["metrics"]
            table.add_row(
                str(t["trial"]), *(str(t["params"][n]) for n in names),
                *(format_metric(k, m.get(k)) for k in shown), str(t["trades"]),
            )  # fmt: skip
        console.print(table)
    _print_overfitting(console, report.get("pbo"), report.get("deflated_sharpe"))
    for r in report.get("top_runs", []):
        console.print(f"trial {r['trial']} saved as backtest run {r['run_id']}")


def _print_overfitting(console: Console, pbo: float | None, dsr: float | None) -> None:
    if pbo is not None:
        console.print(f"PBO {pbo:.2f}: {PBO_SENTENCE}")
    if dsr is not None:
        console.print(f"Deflated Sharpe {dsr:.2f}: {DSR_SENTENCE}")


def print_walkforward(console: Console, report: dict[str, Any]) -> None:
    from rich.table import Table

    from fyerstrade.reporting.html import format_metric

    scheme = report.get("scheme", {})
    console.print(
        f"{report['id']}  walk-forward of {report['strategy']} · "
        f"{'anchored' if scheme.get('anchored') else 'rolling'} · {report['method']} · "
        f"{report['objective']} · {report['status']}"
    )
    table = Table(box=None)
    for col in ("fold", "in-sample", "out-of-sample", "params", "IS " + report["objective"],
                "OOS return", "OOS sharpe", "trades", "PBO"):  # fmt: skip
        table.add_column(col)
    for f in report["folds"]:
        ism, oos = f.get("in_sample_metrics", {}), f.get("out_of_sample_metrics", {})
        params = f.get("params")
        shown = ", ".join(f"{k}={v}" for k, v in params.items()) if params else "none qualified"
        table.add_row(
            str(f["fold"]), " → ".join(f["in_sample"]), " → ".join(f["out_of_sample"]), shown,
            format_metric(report["objective"], ism.get(report["objective"])),
            format_metric("total_return", oos.get("total_return")),
            format_metric("sharpe", oos.get("sharpe")),
            str(oos.get("trades", 0)),
            "" if f.get("pbo") is None else f"{f['pbo']:.2f}",
        )  # fmt: skip
    console.print(table)
    s = report.get("summary")
    if not s:
        return
    console.print(
        f"stitched out-of-sample: return {format_metric('total_return', s['total_return'])}, "
        f"Sharpe {format_metric('sharpe', s['sharpe'])}, "
        f"max drawdown {format_metric('max_drawdown', s['max_drawdown'])}"
    )
    worst = s["worst_fold"]
    console.print(
        f"worst fold {worst['fold']}: return {format_metric('total_return', worst['total_return'])}"
    )
    wfe = s.get("walk_forward_efficiency")
    console.print(
        f"walk-forward efficiency {'n/a' if wfe is None else f'{wfe:.2f}'}: "
        f"{s.get('walk_forward_efficiency_note', '')}"
    )
    for name, st in s.get("parameter_stability", {}).items():
        if st["mode"] is None:
            continue
        console.print(
            f"{name}: chosen {st['values']} (most common {st['mode']} in {st['mode_share']:.0%} "
            f"of folds, {st['changes']} changes)"
        )
    _print_overfitting(console, s.get("pbo"), s.get("deflated_sharpe"))
