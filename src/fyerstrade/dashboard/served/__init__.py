"""The folder of the script Streamlit serves (see :mod:`fyerstrade.dashboard.served.app`)."""
