"""The script ``streamlit run`` is given: it runs :func:`fyerstrade.dashboard.app.main`.

It lives in a folder of its own on purpose. Streamlit treats a ``pages/`` folder next to the
script it serves as pages of their own (the old multipage scheme): with the script beside
``fyerstrade/dashboard/pages/``, an address such as ``/runs`` could run ``pages/runs.py``
directly, around the app's navigation and its login page. Here there is no such folder.
"""

from fyerstrade.dashboard.app import main

main()
