"""``alfax.errors``: the official alfax SDK's import path (``from alfax.errors import …``), served by ``alfax.sdk.errors``."""

from .sdk.errors import *  # noqa: F401,F403
from .sdk.errors import __all__  # noqa: F401
