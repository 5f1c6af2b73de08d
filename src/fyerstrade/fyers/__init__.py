"""The Fyers adapter: the only package that imports ``fyers_apiv3``.

``client.FyersClient`` (REST: history, quotes, profile, funds), ``ratelimit`` (the process-wide
pacer and daily budget), ``endpoints`` (redirecting the SDK to ``FYERSTRADE_FYERS_URL``),
``auth`` (the login flow), ``tokens`` (the token file) and ``orders`` (pure mapping of our
orders to Fyers' order payloads, and of orderbook, tradebook, positions, funds and order-socket
messages back). Fyers errors are translated into
``fyerstrade.errors`` here, so nothing outside this package sees an SDK reply dict.
"""
