"""`engmetrics serve`: the HTTP API of the workspace, run by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import state, stderr


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (127.0.0.1: this machine only).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
                                             help="Log every request (off by default: it costs throughput).")
                          ] = False,
) -> None:
    """Serve the API (/api/v1, docs at /api/v1/docs) and /healthz. The server holds the store while it
    runs; create tokens before, or over the API with a metrics-admin token.

    Example: engmetrics serve --port 8000
    """
    import uvicorn

    from ..api import create_app

    app = create_app(state.settings)
    stderr.print(f"engmetrics: serving {state.settings.workspace} on http://{host}:{port} "
                 f"(API docs: http://{host}:{port}/api/v1/docs)", markup=False, highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True, access_log=access_log)
