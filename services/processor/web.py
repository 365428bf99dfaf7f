"""The processor's web server: only ``/metrics``, ``/healthz`` and ``/readyz``, on the configured address.

faust's aiohttp driver binds ``conf.web_bind`` (default ``0.0.0.0``) whatever ``--web-host`` says —
that flag only names the host in the worker's canonical URL — and it mounts ``/router/`` (the
cluster's topology) and ``/table/<name>/<key>/`` (any key of any table: here the folded state of a
case, with its organisation, advocate, services and hearings) without authentication. The
processor needs neither: it never routes requests between workers. So :class:`Web` mounts no
built-in blueprint at all and binds the address the operator gave; the app uses it as its driver.
"""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp.web import TCPSite
from faust.web.base import _BPList
from faust.web.drivers import aiohttp as driver

from services.processor.app import app, progress
from shared.metrics import metrics_payload


def bind_address(web_bind: str, web_host: str, configured: str) -> str:
    """Where to listen: ``--web-bind`` when given, else ``--web-host``, else the configured host.

    The app is built with ``web_bind = web_host = configured`` (``CENTINELA_PROCESSOR_WEB_HOST``);
    the faust CLI then overwrites ``web_bind`` for ``--web-bind`` and ``web_host`` for ``--web-host``.
    """
    if web_bind != configured:
        return web_bind
    return web_host or configured


class Web(driver.Web):
    default_blueprints: ClassVar[_BPList] = []  # /router, /table
    production_blueprints: ClassVar[_BPList] = []  # "/" index
    debug_blueprints: ClassVar[_BPList] = []  # /graph, stats
    optional_blueprints: ClassVar[_BPList] = []  # /performance

    #: CENTINELA_PROCESSOR_WEB_HOST, set by the app that builds this driver
    configured_host: str = "127.0.0.1"

    def _new_transport_tcp(self) -> TCPSite:
        conf = self.app.conf
        return TCPSite(
            self._runner,
            bind_address(conf.web_bind, conf.web_host, self.configured_host),
            conf.web_port,
            ssl_context=conf.web_ssl_context,
        )


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    return web.bytes(metrics_payload(), content_type="text/plain; version=0.0.4")


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    if not recovery.completed.is_set() or app.rebalancing:
        return web.json({"status": "recovering"}, status=503)
    stuck = progress.stuck
    if stuck:
        return web.json({"status": "stuck", "reason": stuck}, status=503)
    return web.json({"status": "ready"})
