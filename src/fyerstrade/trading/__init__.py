"""The one trading core: engine, portfolio, orders, fills, costs and session rules."""
