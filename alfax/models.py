"""``alfax.models``: the official alfax SDK's import path (``from alfax.models import …``), served by ``alfax.sdk.models``."""

from .sdk.models import *  # noqa: F401,F403
from .sdk.models import __all__  # noqa: F401
