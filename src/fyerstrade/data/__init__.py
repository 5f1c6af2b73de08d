"""Jobs over the stores: symbol master download, history fetch, import, coverage, tick archive.

Each module is one job, run by a ``fyerstrade data`` subcommand (:mod:`fyerstrade.commands.data`).
"""
