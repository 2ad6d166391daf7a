"""Dashboard of the cloud-adoption model for decision makers (a Solara page).

Start it with ``python -m sim.dashboard`` and open http://127.0.0.1:8765. Needs the optional
``dashboard`` dependencies: ``pip install -e '.[dashboard]'``.

* :mod:`sim.dashboard.report`: what the page shows, without Solara (runs, figures, tables, the
  download, uploaded scenarios, the size check);
* :mod:`sim.dashboard.app`: the Solara page (``Page``);
* :mod:`sim.dashboard.guard`: the server-side checks of what a browser sends;
* :mod:`sim.dashboard.webfont`: the page's embedded Chinese font;
* :mod:`sim.dashboard.core` and :mod:`sim.dashboard.figures`: the step-by-step
  :class:`~sim.dashboard.core.DashboardModel` and its panels, for notebooks (no Solara).
"""
