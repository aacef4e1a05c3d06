"""``aevb explore``: a local web page over a model's latent space that decodes z as the cursor moves.

:mod:`aevb.explore.space` holds the numbers (a function of model and tensors, like the pictures);
:mod:`aevb.explore.app` the Starlette app and its uvicorn server; ``static/`` the page.
"""

from aevb.explore.app import bind, make_app, require_server, server, url
from aevb.explore.space import LatentSpace, coding, principal_axes

__all__ = ["LatentSpace", "bind", "coding", "make_app", "principal_axes", "require_server", "server", "url"]
