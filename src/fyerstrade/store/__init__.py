"""The three SQLite databases of fyerstrade, their schemas and forward migrations.

=============================== ===============================================================
module                          holds
=============================== ===============================================================
``db``                          opening (header and version checks, WAL, migrations), init/status
``migrations``                  the migration runner (``PRAGMA user_version``, one transaction each)
``historical_schema``           ``historical_market_data.sqlite``: candles, ticks, symbols, ledger
``live_schema``                 ``live_market_data.sqlite``: today's ticks
``trading_schema``              ``trading_log.sqlite``: backtest runs/trades, paper trading, orders
``candles``                     candle arrays: upsert, load, delete, statistics
``ledger``                      the fetch ledger (which ranges were asked and what came back)
``symbols``                     the symbol master and its lot-size history
``ticks``                       live ticks and the month-partitioned tick archive
=============================== ===============================================================

Every function here takes an open ``sqlite3.Connection`` (from :mod:`fyerstrade.store.db`) and
commits its own work in one transaction; sqlite errors about unusable files become
:class:`~fyerstrade.errors.StoreError`.
"""
