"""``aevb explore``: a local web page over a model's latent space that decodes z as the cursor moves.

:mod:`aevb.explore.space` holds the numbers (a function of model and tensors, like the pictures);
:mod:`aevb.explore.app` the Starlette app and its uvicorn server; :mod:`aevb.explore.export` the page as static files
that decode in the browser; ``static/`` the page.
"""

from aevb.explore.app import bind, make_app, require_server, server, url
from aevb.explore.export import decoder_spec, export_page
from aevb.explore.space import LatentSpace, coding, principal_axes

__all__ = [
    "LatentSpace",
    "bind",
    "coding",
    "decoder_spec",
    "export_page",
    "make_app",
    "principal_axes",
    "require_server",
    "server",
    "url",
]
