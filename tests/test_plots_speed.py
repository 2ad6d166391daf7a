"""The speed-ups of the run figures change nothing but speed.

Not timed (speed is measured in benchmarks/): figures drawn in two processes are the same files
as figures drawn in one, in the documented order, and a figure failing in the child process stops
the call with its traceback; the cached city outlines are the numbers computed from the
boundaries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.plots import maps, parallel

# The two-process path forks only where no other thread runs (parallel.figure_processes), and a
# pytest process has threads left by earlier tests (dashboard servers, Dask clients), so these
# checks run in a fresh interpreter; they need only two CPUs, which CI's machine has.
TWO_CPUS = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)) >= 2
ROOT = Path(__file__).resolve().parents[1]


def run_fresh(code: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("GDCLOUD_FIGURE_WORKERS", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok"), done.stdout


def test_figures_drawn_by_one_process_in_this_pytest_process(monkeypatch):
    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "1")
    assert parallel.figure_processes(7) == 1
    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "zero")
    with pytest.raises(ValueError, match="positive integer"):
        parallel.figure_processes(3)


@pytest.mark.skipif(not TWO_CPUS, reason="drawing in two processes needs two CPUs")
def test_two_processes_write_the_same_figures_as_one(tmp_path: Path):
    run_fresh("""
        import os, sys
        from pathlib import Path
        from sim.core.model import CloudAdoptionModel
        from sim.core.outputs import tidy_timeseries
        from sim.plots import parallel
        from sim.plots.scenario import write_figures
        from sim.scenario.schema import Scenario
        tmp = Path(sys.argv[1])
        cfg = Scenario.model_validate({"name": "par", "population": {"total_firms": 4000}})
        ts = tidy_timeseries(CloudAdoptionModel(cfg).run())
        os.environ["GDCLOUD_FIGURE_WORKERS"] = "1"
        one = write_figures(tmp / "one", ts, cfg)
        del os.environ["GDCLOUD_FIGURE_WORKERS"]
        assert parallel.figure_processes(len(one)) == 2
        two = write_figures(tmp / "two", ts, cfg)
        assert [p.name for p in two] == [p.name for p in one] and len(one) >= 6
        for a, b in zip(one, two, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name
        print("ok")
    """, tmp_path)


def test_prepared_axes_draw_the_same_files(tmp_path: Path, monkeypatch):
    # Axes and ticks made before the data (sim.plots.prepared) give the same bytes; figures
    # prepared for another scenario or language are not used.
    from sim.core.model import CloudAdoptionModel
    from sim.core.outputs import tidy_timeseries
    from sim.plots import prepared
    from sim.plots.scenario import prepare_figures, write_figures
    from sim.scenario.schema import Scenario

    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "1")
    cfg = Scenario.model_validate({"name": "prep", "population": {"total_firms": 4000}})
    ts = tidy_timeseries(CloudAdoptionModel(cfg).run())
    plain = write_figures(tmp_path / "plain", ts, cfg)
    prepare_figures(cfg)
    made = dict(prepared._ready["figures"])
    assert len(made) >= 6 and all(fig.axes for fig in made.values())
    assert len(made["clusters.png"].axes[0].xaxis.majorTicks) >= 6  # ticks made in advance
    used = write_figures(tmp_path / "prepared", ts, cfg)
    assert not prepared._ready["figures"]  # every prepared figure was drawn
    for a, b in zip(plain, used, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    other = Scenario.model_validate({"name": "other", "population": {"total_firms": 4000}})
    for lang, sc in (("zh", cfg), ("en", other)):
        prepare_figures(sc, lang)
        n = len(prepared._ready["figures"])
        again = write_figures(tmp_path / f"again_{lang}", ts, cfg)
        assert len(prepared._ready["figures"]) == n  # prepared for something else: not used
        for a, b in zip(plain, again, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name


def test_run_figures_equal_matplotlib_default_title_placement_and_layout_pass(tmp_path: Path, monkeypatch):
    # The titles fixed at y=1.0 (sim.plots.common.set_title), savefig's layout pass without
    # its draw (sim.fileio.layout_pass_only) and the ticks updated once per measurement or draw
    # (sim.tick_updates) give the bytes of matplotlib's own automatic title placement, full
    # layout pass and tick updates, for every run figure.
    import contextlib

    from matplotlib.axes import Axes

    from sim import fileio, tick_updates
    from sim.core.model import CloudAdoptionModel
    from sim.core.outputs import tidy_timeseries
    from sim.plots.scenario import write_figures
    from sim.scenario.schema import Scenario

    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "1")
    cfg = Scenario.model_validate({"name": "titles", "population": {"total_firms": 4000}})
    ts = tidy_timeseries(CloudAdoptionModel(cfg).run())
    fast = write_figures(tmp_path / "fast", ts, cfg)
    own = Axes.set_title
    monkeypatch.setattr(Axes, "set_title", lambda self, label, *a, y=None, **kw: own(self, label, *a, **kw))
    monkeypatch.setattr(fileio, "layout_pass_only", contextlib.nullcontext)
    monkeypatch.setattr(tick_updates, "ticks_once", contextlib.nullcontext)
    plain = write_figures(tmp_path / "plain", ts, cfg)
    assert len(fast) >= 6 and [p.name for p in fast] == [p.name for p in plain]
    for a, b in zip(fast, plain, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_run_figures_are_opaque_rgb_with_the_pixels_savefig_writes(tmp_path: Path):
    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from sim.fileio import save_figure

    fig = Figure(figsize=(3, 2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1, 3, 2], label="a")
    ax.set_title("图 title")
    ax.legend()
    png, rgb = save_figure(fig, tmp_path / "a.png"), save_figure(fig, tmp_path / "b.png", rgb=True)
    a, b = Image.open(png), Image.open(rgb)
    assert (a.mode, b.mode) == ("RGBA", "RGB") and a.size == b.size == (450, 300)
    assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b))
    assert b.info["Software"] == a.info["Software"] and b.info["dpi"] == a.info["dpi"]
    fig.patch.set_alpha(0.0)  # transparent: written as savefig writes it
    clear = save_figure(fig, tmp_path / "c.png", rgb=True)
    assert Image.open(clear).mode == "RGBA"
    assert clear.read_bytes() == save_figure(fig, tmp_path / "d.png").read_bytes()


def test_layout_pass_only_draws_each_artist_once_with_the_same_pixels(tmp_path: Path, monkeypatch):
    # savefig's layout pass (sim.fileio.layout_pass_only) runs the layout engine without walking
    # the artists: each axes is drawn once instead of twice, and the PNG has the same bytes.
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    from sim import fileio

    def figure() -> Figure:
        fig = Figure(figsize=(5, 4), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.plot([0, 1, 2], [1, 3, 2], label="a")
        left.set_title("图 title\nsecond line")
        right.set_aspect("equal")
        right.fill([0, 1, 1], [0, 0, 2], label="b")
        fig.legend(loc="outside lower center", ncol=2)
        fig.suptitle("suptitle")
        return fig

    draws = []
    own = Axes.draw
    monkeypatch.setattr(Axes, "draw", lambda self, renderer: draws.append(self) or own(self, renderer))
    plain = tmp_path / "plain.rgba"
    figure().savefig(plain, dpi=fileio.FIGURE_DPI, format="rgba")
    assert len(draws) == 4  # the layout pass and the real draw, two axes each
    draws.clear()
    fig = figure()
    with fileio.layout_pass_only(fig):
        fig.savefig(tmp_path / "once.rgba", dpi=fileio.FIGURE_DPI, format="rgba")
    assert len(draws) == 2 and "draw" not in vars(fig)
    assert plain.read_bytes() == (tmp_path / "once.rgba").read_bytes()
    draws.clear()
    with fileio.layout_pass_only(fig):  # a real draw inside is the figure's own draw
        FigureCanvasAgg(fig).draw()
    assert len(draws) == 2
    a = fileio.save_figure(figure(), tmp_path / "a.png")
    b = fileio.save_figure(figure(), tmp_path / "b.png", rgb=True)
    assert np.array_equal(np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b)))


def test_faster_text_draws_the_same_pixels_as_matplotlibs_glyph_loop(tmp_path: Path, monkeypatch):
    # sim.glyphs builds each text's glyph matrix once instead of once per glyph and looks each
    # font up once per figure: the same pixels
    # for horizontal, rotated, slanted-free and fallback-font (CJK) text of several sizes and
    # weights; mathtext rules and text without antialiasing go to matplotlib's own loop.
    from matplotlib.figure import Figure
    from matplotlib.font_manager import fontManager

    from sim import fileio, glyphs

    if not glyphs.available():
        pytest.skip("another matplotlib: its own glyph loop draws the text")

    def figure() -> Figure:
        fig = Figure(figsize=(5, 4), layout="constrained")
        ax = fig.add_subplot()
        ax.plot([2021, 2023, 2025], [1, 3, 2])
        ax.set_xlabel("months since 2021-06 (x 1,000)", fontsize=7)
        ax.set_ylabel("firms on the cloud 云上企业", fontweight="bold")
        ax.text(2022, 2, "rotated 33.3° text", rotation=33.3, fontsize=11)
        ax.text(2021.2, 1.2, r"$\frac{a}{b}$ share", fontsize=9)
        ax.text(2024, 1.5, "no antialiasing", antialiased=False)
        ax.tick_params(axis="x", labelrotation=90)
        fig.suptitle("Guangdong 广东 baseline, one replicate")
        return fig

    plain = tmp_path / "plain.rgba"
    with fileio.layout_pass_only(fig := figure()):
        fig.savefig(plain, dpi=fileio.FIGURE_DPI, format="rgba")
    calls, heights = [], []
    own, own_heights = glyphs.draw_glyphs, glyphs.FontLookups.height_metrics
    monkeypatch.setattr(glyphs, "draw_glyphs", lambda *a: calls.append(a[4]) or own(*a))
    monkeypatch.setattr(glyphs.FontLookups, "height_metrics",
                        lambda self, prop: heights.append(prop) or own_heights(self, prop))
    fig = figure()
    with fileio.layout_pass_only(fig), glyphs.faster_text(fig):
        fig.savefig(tmp_path / "faster.rgba", dpi=fileio.FIGURE_DPI, format="rgba")
    assert "draw" not in vars(fig) and "_find_fonts_by_props" not in vars(fontManager)
    assert len(calls) > 20 and {0.0, 90.0} <= set(calls)  # the texts went through draw_glyphs
    assert len(heights) > 20  # and their layout through the remembered font metrics
    assert plain.read_bytes() == (tmp_path / "faster.rgba").read_bytes()


def test_ticks_once_updates_each_axis_once_per_measurement_with_the_same_pixels(tmp_path: Path, monkeypatch):
    # sim.tick_updates answers an axis's repeated tick updates within one Axes.get_tightbbox or
    # Axis.draw from the first: fewer updates, the same bytes, on axes whose limits, locators and
    # tick space differ (dates, log scale, shared and aligned axes, a colorbar, an equal aspect).
    import datetime as dt

    import numpy as np
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

    from sim import fileio, tick_updates

    if not tick_updates.available():
        pytest.skip("another matplotlib: ticks updated as usual")

    def figure() -> Figure:
        fig = Figure(figsize=(7, 5), layout="constrained")
        (a, b), (c, d) = fig.subplots(2, 2)
        days = [dt.date(2021, 6, 30) + dt.timedelta(days=30 * k) for k in range(55)]
        a.plot(days, np.linspace(0, 1.2e6, 55))
        a.set_ylabel("firms on the cloud 云上")
        b.semilogy([1, 10, 100], [3, 3e3, 3e5])
        b.set_ylabel("log")
        c.barh([f"city {k}" for k in range(21)], np.arange(21.0))
        image = d.imshow(np.arange(12.0).reshape(3, 4))
        d.set_aspect("equal")
        fig.colorbar(image, ax=d, label="share")
        fig.align_ylabels([a, c])
        fig.suptitle("ticks")
        return fig

    updates = []
    own = Axis._update_ticks
    monkeypatch.setattr(Axis, "_update_ticks", lambda self: updates.append(self) or own(self))
    with fileio.layout_pass_only(fig := figure()):
        fig.savefig(tmp_path / "plain.rgba", dpi=fileio.FIGURE_DPI, format="rgba")
    n_plain = len(updates)
    updates.clear()
    fig = figure()
    with fileio.layout_pass_only(fig), tick_updates.ticks_once(fig):
        fig.savefig(tmp_path / "once.rgba", dpi=fileio.FIGURE_DPI, format="rgba")
    assert 0 < len(updates) <= n_plain // 2
    assert not any(name in vars(obj) for ax in fig.axes for obj in (ax, ax.xaxis, ax.yaxis)
                   for name in ("get_tightbbox", "_update_ticks", "draw"))
    assert (tmp_path / "plain.rgba").read_bytes() == (tmp_path / "once.rgba").read_bytes()


@pytest.mark.skipif(not TWO_CPUS, reason="drawing in two processes needs two CPUs")
def test_child_failure_is_raised(tmp_path: Path):
    run_fresh("""
        import sys
        from pathlib import Path
        from sim.plots import parallel
        tmp = Path(sys.argv[1])
        assert parallel.figure_processes(2) == 2

        def ok(name):
            def run():
                path = tmp / name
                path.write_text(name)
                return path
            return run

        def broken():
            raise ValueError("no such panel")

        paths = parallel.run_figure_tasks([(1.0, ok("a")), (3.0, ok("b")), (1.5, ok("c"))])
        assert [p.read_text() for p in paths] == ["a", "b", "c"]
        try:
            parallel.run_figure_tasks([(5.0, broken), (1.0, ok("d"))])  # the heavier task goes to the child
        except RuntimeError as e:
            assert "no such panel" in str(e)
        else:
            raise AssertionError("the child's failure was not raised")
        assert (tmp / "d").read_text() == "d"  # this process drew its own part
        print("ok")
    """, tmp_path)


def test_a_free_process_takes_the_next_task(tmp_path: Path):
    # The first task costs far more than its weight says: the child, which draws it, claims
    # nothing more, and this process draws all the others (a fixed split by the weights would
    # have given the child three of the six).
    run_fresh("""
        import os, sys, time
        from pathlib import Path
        from sim.plots import parallel
        tmp = Path(sys.argv[1])

        def task(name, seconds=0.0):
            def run():
                time.sleep(seconds)
                path = tmp / name
                path.write_text(str(os.getpid()))
                return path
            return run

        tasks = [(1.0, task("slow", 2.0))] + [(1.0, task(f"t{i}")) for i in range(5)]
        paths = parallel.run_figure_tasks(tasks)
        assert [p.name for p in paths] == ["slow", "t0", "t1", "t2", "t3", "t4"]
        pids = [p.read_text() for p in paths]
        assert pids[0] != str(os.getpid())
        assert pids[1:] == [str(os.getpid())] * 5, pids
        print("ok")
    """, tmp_path)


@pytest.mark.skipif(not maps.available(), reason="the optional maps extra is not installed")
def test_cached_city_outlines_equal_the_computed_ones(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    maps.city_outlines.cache_clear()
    try:
        computed = maps.city_outlines()
        files = list((tmp_path / "gdcloud-sim").glob("city_outlines-*.npz"))
        assert len(files) == 1
        maps.city_outlines.cache_clear()
        cached = maps.city_outlines()
    finally:
        maps.city_outlines.cache_clear()
    assert list(cached) == list(computed) and len(cached) == 21
    for name, (verts, codes, xy) in computed.items():
        v2, c2, xy2 = cached[name]
        assert verts.tobytes() == v2.tobytes() and codes.tobytes() == c2.tobytes() and xy == xy2
        assert verts.shape[0] > 100  # real boundaries


@pytest.mark.skipif(not TWO_CPUS, reason="the warmed figure process needs two CPUs")
def test_run_draws_with_a_warmed_process_the_same_files(tmp_path: Path):
    # `gdcloud run` forks the figure process before the replicate runs; its figures (drawn there
    # and in its own child) are the bytes drawn in one process, and it is gone after the run.
    run_fresh("""
        import os, sys, threading
        from pathlib import Path
        import multiprocessing
        from sim.cli.main import main
        from sim.plots import parallel
        tmp = Path(sys.argv[1])
        started = []
        real_start = parallel.FigureProcess.start.__func__
        parallel.FigureProcess.start = classmethod(lambda cls, *a, **k: started.append(real_start(cls, *a, **k)) or started[-1])
        tiny = ["--set", "population.total_firms=4000", "--set", "time.end=2022-06", "--no-progress"]
        assert main(["run", "baseline", *tiny, "--out", str(tmp / "two")]) == 0
        assert len(started) == 1 and started[0] is not None
        assert not multiprocessing.active_children() and threading.active_count() == 1
        os.environ["GDCLOUD_FIGURE_WORKERS"] = "1"
        assert main(["run", "baseline", *tiny, "--out", str(tmp / "one")]) == 0
        assert started[1] is None
        one = sorted((tmp / "one").glob("baseline/*/figures/*.png"))
        two = sorted((tmp / "two").glob("baseline/*/figures/*.png"))
        assert [p.name for p in one] == [p.name for p in two] and len(one) >= 6
        for a, b in zip(one, two, strict=True):
            assert a.read_bytes() == b.read_bytes(), a.name
        print("ok")
    """, tmp_path)


@pytest.mark.skipif(not TWO_CPUS, reason="the warmed figure process needs two CPUs")
def test_figure_process_unused_exits_and_failure_is_raised(tmp_path: Path):
    run_fresh("""
        import multiprocessing
        from sim.plots import parallel

        unused = parallel.FigureProcess.start(("json",))
        unused.close()  # a run that failed: nothing to draw
        assert not multiprocessing.active_children()

        used = parallel.FigureProcess.start(("json",))
        used.submit(divmod, 7, 2)
        assert used.result() == (3, 1)
        broken = parallel.FigureProcess.start(("json",))
        broken.submit(divmod, 7, 0)
        try:
            broken.result()
        except ZeroDivisionError as e:  # the call's own exception, with where it was raised
            assert "raised in the figure process" in e.__notes__[0]
        else:
            raise AssertionError("the failure was not raised")
        assert not multiprocessing.active_children()
        print("ok")
    """, tmp_path)
