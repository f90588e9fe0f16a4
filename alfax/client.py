"""``alfax.client``: the official alfax SDK's import path (``from alfax.client import …``), served by ``alfax.sdk.client``."""

from .sdk.client import *  # noqa: F401,F403
from .sdk.client import __all__  # noqa: F401
