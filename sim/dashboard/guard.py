"""Server-side checks of the dashboard: the browser is not trusted.

A page's sliders and boxes limit what a person can pick, but a scripted client can send any
value over the WebSocket. So, on the server:

* :func:`check_levers` checks every lever value (type, finite, the lever's own range, the seed as
  a whole number) and then the whole scenario with the schema; a refused value keeps its
  default and a one-line message is shown in the page instead of a traceback;
* :func:`admit` limits the population of one model to :data:`MAX_FIRMS` and the models alive at
  once to :data:`MAX_MODELS` (a model beyond that is built at the small default population, with
  a message), so browsers cannot exhaust the server's memory (~250 bytes per firm:
  :mod:`sim.scenario.limits`);
* :func:`origin_allowed` accepts a WebSocket only from the page's own origin (scheme, host and
  port of the ``Host`` header, the host being a loopback name or the ``--host`` the server was
  started with, against DNS rebinding) or from an origin listed in ``GDCLOUD_DASHBOARD_ORIGINS``
  (comma-separated); :func:`install_origin_check` wraps Solara's WebSocket route with it.

Limits can be changed with ``GDCLOUD_DASHBOARD_MAX_FIRMS`` and ``GDCLOUD_DASHBOARD_MAX_MODELS``.
"""

from __future__ import annotations

import gc
import math
import os
import weakref
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sim.scenario import limits


def _env_int(name: str, default: int, upper: int) -> int:
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        return default
    return max(1, min(value, upper))


MAX_FIRMS = _env_int("GDCLOUD_DASHBOARD_MAX_FIRMS", 2_000_000, limits.MAX_FIRMS)
"""Largest population one dashboard model may simulate (the slider's maximum by default)."""

MAX_MODELS = _env_int("GDCLOUD_DASHBOARD_MAX_MODELS", 4, 1000)
"""Models (one per open page) that may hold a population above the default size at once."""

MAX_SEED = 2**63 - 1
MAX_TEXT_CHARS = 40
"""Longest text accepted in a box (the seed); longer text is refused without being echoed."""

_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value[:MAX_TEXT_CHARS])
    return text if len(text) <= 50 else text[:47] + "..."


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def check_value(lever: Any, value: Any) -> tuple[Any, str | None]:
    """One lever value checked on the server.

    Args:
        lever: A :class:`sim.dashboard.core.Lever`.
        value: What the page sent.

    Returns:
        ``(value, None)`` if it is acceptable (a seed typed as text becomes an int), else
        ``(default, message)``.
    """
    default = lever.default()
    if lever.kind == "bool":
        if isinstance(value, bool):
            return value, None
        return default, f"{lever.label}: {_shown(value)} is not on/off; kept {default}"
    if lever.kind == "text_int":
        text = str(value).strip().replace(",", "") if isinstance(value, str | int) and not isinstance(value, bool) else None
        if text is None or len(text) > MAX_TEXT_CHARS or not text.isdigit() or int(text) > MAX_SEED:
            return default, (f"{lever.label}: {_shown(value)} is not a whole number from 0 to "
                             f"{MAX_SEED:,}; kept {default}")
        return int(text), None
    upper = min(lever.max, MAX_FIRMS) if lever.name == "total_firms" else lever.max
    ok = (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
          and lever.min <= value <= upper)
    if not ok:
        return default, (f"{lever.label}: {_shown(value)} is not a number from {_num(lever.min)} to "
                         f"{_num(upper)}; kept {_num(default)}")
    return (int(round(value)) if lever.kind == "int" else float(value)), None


def check_levers(levers: Iterable[Any], values: Mapping[str, Any],
                 base: Any = None) -> tuple[dict[str, Any], list[str]]:
    """Every lever value checked on the server, then the resulting scenario with the schema.

    Args:
        levers: The :class:`~sim.dashboard.core.Lever` definitions.
        values: Lever name -> value sent by the page (missing levers take their default).
        base: The base :class:`~sim.scenario.schema.Scenario` (default: all defaults).

    Returns:
        ``(values, messages)``: acceptable values for every lever (refused ones replaced by their
        defaults) and one message per refused value.
    """
    from sim.errors import ScenarioError
    from sim.scenario.paths import set_values
    from sim.scenario.schema import Scenario

    out: dict[str, Any] = {}
    messages: list[str] = []
    levers = list(levers)
    for lever in levers:
        value, message = check_value(lever, values.get(lever.name, lever.default()))
        out[lever.name] = value
        if message:
            messages.append(message)
    values_at = {lv.path: lv.to_scenario(out[lv.name]) for lv in levers}
    try:
        set_values(base if base is not None else Scenario(), values_at, label="dashboard")
    except (ScenarioError, ValueError) as exc:
        first = " ".join(str(exc).split())[:200]
        messages.append(f"these settings do not make a valid scenario ({first}); kept the defaults")
        out = {lv.name: lv.default() for lv in levers}
    return out, messages


def admit(model: Any, total_firms: int, small_firms: int) -> tuple[int, str | None]:
    """Register a new model and the population it may use.

    Args:
        model: The new model (kept in a weak set: a closed page's model stops counting once it
            is garbage-collected).
        total_firms: The population asked for.
        small_firms: The default population, always allowed.

    Returns:
        ``(total_firms, None)``, or ``(small_firms, message)`` if :data:`MAX_MODELS` larger
        models are already alive.
    """
    gc.collect()  # forget the models of closed pages before counting
    large = sum(1 for m in _LIVE if getattr(m, "_guard_large", False))
    is_large = total_firms > small_firms
    message = None
    if is_large and large >= MAX_MODELS:
        message = (f"the server already runs {large} large models (at most {MAX_MODELS}): this "
                   f"model uses {small_firms:,} firms instead of {total_firms:,}; try again later")
        total_firms, is_large = small_firms, False
    model._guard_large = is_large
    _LIVE.add(model)
    return total_firms, message


def allowed_origins() -> set[str]:
    """Origins listed in ``GDCLOUD_DASHBOARD_ORIGINS`` (normalised ``scheme://host:port``)."""
    raw = os.environ.get("GDCLOUD_DASHBOARD_ORIGINS", "")
    return {o for o in (_normalise(x) for x in raw.split(",")) if o}


def _normalise(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def origin_allowed(origin: str | None, host: str | None, extra: set[str] | None = None) -> bool:
    """Whether a WebSocket handshake may proceed.

    A browser always sends ``Origin``; a page of another site (a cross-site WebSocket) sends its
    own origin, which differs from the ``Host`` it connects to. A missing ``Origin`` is not a
    browser and is allowed (such a client can send any header anyway: the value checks above
    are what protects the server).

    Args:
        origin: The ``Origin`` header (None if absent).
        host: The ``Host`` header.
        extra: Further allowed origins (default: :func:`allowed_origins`).
    """
    if origin is None:
        return True
    got = _normalise(origin)
    if got is None:
        return False
    allowed = allowed_origins() if extra is None else extra
    if got in allowed:
        return True
    if not host:
        return False
    scheme = got.split("://", 1)[0]
    same = _normalise(f"{scheme}://{host}")
    return got == same and same is not None and _served_host(same)


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def _served_host(origin: str) -> bool:
    """Whether the page's host is one this server is meant to be reached by: a loopback name,
    or the ``--host`` it was started with (``GDCLOUD_DASHBOARD_HOST``; any name if it listens
    on every interface). Against DNS rebinding, where a foreign site's name points to 127.0.0.1
    and its origin then equals the ``Host`` it sends."""
    hostname = urlsplit(origin).hostname or ""
    bound = os.environ.get("GDCLOUD_DASHBOARD_HOST", "127.0.0.1").strip("[]")
    if bound in ("0.0.0.0", "::"):
        return True
    return hostname in LOOPBACK or hostname == bound.lower()


def origin_guard(app: Any) -> Any:
    """ASGI wrapper refusing WebSocket handshakes whose origin is not allowed (HTTP 403)."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not origin_allowed(headers.get("origin"), headers.get("host")):
                await send({"type": "websocket.close", "code": 1008})
                return
        await app(scope, receive, send)

    guarded.__wrapped_by_origin_guard__ = True  # type: ignore[attr-defined]
    return guarded


def install_origin_check() -> bool:
    """Wrap Solara's kernel WebSocket route with :func:`origin_guard` (idempotent).

    Returns:
        True if the route was found and is guarded.
    """
    try:
        from solara.server import starlette as solara_starlette
    except ImportError:  # pragma: no cover - the dashboard extra is not installed
        return False
    found = False
    for route in solara_starlette.routes:
        if getattr(route, "path", "").startswith("/jupyter/api/kernels/") and hasattr(route, "app"):
            if not getattr(route.app, "__wrapped_by_origin_guard__", False):
                route.app = origin_guard(route.app)
            found = True
    return found
