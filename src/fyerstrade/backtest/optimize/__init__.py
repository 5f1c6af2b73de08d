"""Parameter optimization: sweeps, walk-forward and overfitting statistics (issue 10).

One idea per module::

    space.py        the search space from the strategy's declared Params (+ --param overrides)
    constraints.py  --constraint text parsed against an AST whitelist, evaluated on numpy columns
    objective.py    the metric maximised (or minimised) and the minimum trade count
    methods.py      grid, random and TPE (Optuna ask-and-tell): which parameter sets, in what order
    job.py          what workers receive once (config, bars, lookups) and blocks of trials
    executors.py    serial and process-pool executors (bars in shared memory) behind one interface
    ray_executor.py the same interface on a Ray cluster
    sweep.py        the loop: method → blocks → executor → trial store (→ tell)
    trials.py       the trial store in trading_log.sqlite (optimizations, optimization_trials)
    overfitting.py  PBO (CSCV) and the Deflated Sharpe Ratio from the trials' daily returns
    runner.py       one sweep from request to stored result (CLI and dashboard share it)
    walkforward.py  folds, in-sample searches, out-of-sample runs, stitching and the summary

Evaluation itself is behind :mod:`fyerstrade.backtest.evaluate` (the event engine, or the
vectorized engine for strategies that declare ``signals``).
"""
