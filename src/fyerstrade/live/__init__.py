"""Live trading: the 1-minute bar builder fed by the data socket, and (later) the live engine,
brokers, scheduler and process control that run a strategy on those bars."""
