"""The explorer's web app: a Starlette application over :class:`~aevb.explore.space.LatentSpace` objects, served by
uvicorn on 127.0.0.1.

Why Starlette + uvicorn and a page of our own: the page must decode on every cursor move (one small JSON request,
~1 ms of server time for an MLP decoder), work offline with nothing from a CDN, and stay a few hundred lines that a
reader can audit; Starlette is the ASGI toolkit FastAPI is built on, uvicorn its reference server, both pure Python
and small. Bokeh or Panel would bring a large JavaScript bundle and a server model built for dashboards.

Routes (the page names no file: the three static files are fixed names, the rest take numbers):

- ``GET /``, ``/explorer.js``, ``/explorer.css``: the page;
- ``GET /api/spaces``: each run's map (:meth:`LatentSpace.summary`);
- ``POST /api/decode`` ``{space, z, label?, sample?, seed?}`` → ``{values}``: the decoded z;
- ``GET /api/point?space=&index=``: a datapoint, its reconstruction and posterior;
- ``POST /api/line`` ``{space, i, j, steps?, label?}`` → ``{values}``: the decoded straight line between two codes.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from aevb.errors import AevbError, ConfigError
from aevb.explore.space import LatentSpace

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
STATIC = {
    "/": ("index.html", "text/html"),
    "/explorer.js": ("explorer.js", "text/javascript"),
    "/explorer.css": ("explorer.css", "text/css"),
}


def require_server() -> None:
    """A :class:`ConfigError` saying how to install the server libraries when they are missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ConfigError(
            "aevb explore serves a local page with starlette and uvicorn: pip install 'aevb[explore]'"
        ) from None


# Most z a decode request may carry (the page sends one; a strip has at most 64): a bound on what one request costs.
MAX_DECODES = 64


def make_app(spaces: Sequence[LatentSpace], hosts: Sequence[str] = LOCAL_HOSTS) -> Any:
    """The Starlette application serving ``spaces`` (one or two runs), answering only requests whose Host header
    names one of ``hosts`` (["*"]: any) — so a web page elsewhere cannot reach it by DNS rebinding."""
    require_server()
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    files = {
        route: (resources.files("aevb.explore").joinpath("static", name).read_bytes(), kind)
        for route, (name, kind) in STATIC.items()
    }

    def static(request: Request) -> Response:
        body, kind = files[request.url.path]
        return Response(body, media_type=kind, headers={"Cache-Control": "no-store"})

    def space_of(value: Any) -> LatentSpace:
        if not isinstance(value, int) or not 0 <= value < len(spaces):
            raise ConfigError(f"space must be an index in 0 … {len(spaces) - 1}, got {value!r}")
        return spaces[value]

    def json_errors(handler: Callable) -> Callable:
        async def wrapped(request: Request) -> Response:
            # Only JSON bodies: a form or text/plain POST (which any web page may send without asking) is refused.
            if request.method == "POST" and request.headers.get("content-type", "").split(";")[0] != "application/json":
                return JSONResponse({"error": "send the request body as application/json"}, status_code=415)
            try:
                return JSONResponse(await handler(request))
            except (AevbError, ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
                return JSONResponse({"error": str(error) or type(error).__name__}, status_code=400)

        return wrapped

    async def body_of(request: Request) -> dict:
        body = await request.json()
        if not isinstance(body, dict):
            raise ConfigError(f"the request body must be a JSON object, got {type(body).__name__}")
        return body

    async def summaries(request: Request) -> list[dict]:
        return [space.summary() for space in spaces]

    async def decode(request: Request) -> dict:
        body = await body_of(request)
        space = space_of(body.get("space"))
        z = body["z"]
        if isinstance(z, list) and z and isinstance(z[0], list) and len(z) > MAX_DECODES:
            raise ConfigError(f"decode at most {MAX_DECODES} z per request, got {len(z)}")
        seed = int(body.get("seed", 0))
        if not 0 <= seed < 2**63:
            raise ConfigError(f"seed must be in 0 … 2**63 − 1, got {seed}")
        values = space.decode(z, body.get("label"), bool(body.get("sample", False)), seed)
        return {"values": values.reshape(len(values), -1).tolist()}

    async def point(request: Request) -> dict:
        space = space_of(int(request.query_params.get("space", "0")))
        return space.point(int(request.query_params["index"]))

    async def line(request: Request) -> dict:
        body = await body_of(request)
        space = space_of(body.get("space"))
        i, j = space.check_index(int(body["i"])), space.check_index(int(body["j"]))
        values = space.line(i, j, int(body.get("steps", 10)), body.get("label"))
        return {"values": values.reshape(len(values), -1).tolist()}

    def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one; an empty answer keeps the console clean

    routes = [Route(path, static) for path in STATIC] + [Route("/favicon.ico", no_icon)]
    routes += [
        Route("/api/spaces", json_errors(summaries)),
        Route("/api/decode", json_errors(decode), methods=["POST"]),
        Route("/api/point", json_errors(point)),
        Route("/api/line", json_errors(line), methods=["POST"]),
    ]
    allowed = ["*"] if "*" in hosts else [h.strip("[]") for h in hosts] + [f"[{h}]" for h in hosts if ":" in h]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed)])


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on ``host``:``port`` (0: a free port); a warning when ``host`` is not this machine only."""
    if host not in LOCAL_HOSTS:
        warnings.warn(
            f"serving on {host}: anyone who can reach this machine on that address can use the explorer (it runs "
            "the model and shows the data; it reads no file a request names)",
            stacklevel=2,
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it a keep-alive response's body waits for the ACK of its headers,
    # which the browser delays by 40 ms (Nagle × delayed ACK) — measured: 44 ms → 1.5 ms per decode round trip.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {error.strerror} (choose another --port, or 0 for any)"
        ) from None
    sock.listen(128)
    return sock


def server(spaces: Sequence[LatentSpace], sock: socket.socket) -> Any:
    """A uvicorn server for ``spaces`` on the bound ``sock``: ``.run(sockets=[sock])`` serves until Ctrl-C (or until
    ``should_exit`` is set from another thread)."""
    import uvicorn

    host = sock.getsockname()[0]
    # Bound to this machine: only its own names may appear in the Host header. Bound to another address on purpose
    # (--host): that address is how others reach it, so every name is accepted (the warning said so).
    hosts = LOCAL_HOSTS if host in ("127.0.0.1", "::1") else ["*"]
    config = uvicorn.Config(make_app(spaces, hosts), log_level="warning", access_log=False, lifespan="off")
    return uvicorn.Server(config)


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
