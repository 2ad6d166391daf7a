"""Interactive dashboard of the cloud-adoption model (Mesa ``SolaraViz``).

Start it with ``python -m sim.dashboard`` and open http://127.0.0.1:8765. Needs the optional
``dashboard`` dependencies: ``pip install -e '.[dashboard]'``.

* :mod:`sim.dashboard.core`: :class:`~sim.dashboard.core.DashboardModel` and the levers (no Solara);
* :mod:`sim.dashboard.figures`: the Matplotlib panels (no Solara);
* :mod:`sim.dashboard.app`: the Solara page (``Page``) built on ``mesa.visualization.SolaraViz``.
"""
