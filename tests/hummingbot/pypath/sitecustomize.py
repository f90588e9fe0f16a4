"""Point Hummingbot's ``binance_perpetual`` connector at a local alfax, changing nothing but its two URL constants.

Put this directory on PYTHONPATH and set ``ALFAX_HB_REST_URL`` (``http://127.0.0.1:PORT/fapi/``) and
``ALFAX_HB_WS_URL`` (``ws://127.0.0.1:PORT/``). When Python imports
``hummingbot.connector.derivative.binance_perpetual.binance_perpetual_constants`` (a plain ``.py`` module), the
module runs unmodified and then ``PERPETUAL_BASE_URL`` and ``PERPETUAL_WS_URL`` are replaced, before any other
module can read them. This has the same effect as editing those two lines in the installed file (which is what a
user would do), without touching the install and without a fixed port. ``hbot start`` passes its environment on
to the engine process, so the patch holds there too. With the variables unset, this file does nothing.
"""

from __future__ import annotations

import os
import sys

_TARGET = "hummingbot.connector.derivative.binance_perpetual.binance_perpetual_constants"
_REST = os.environ.get("ALFAX_HB_REST_URL", "")
_WS = os.environ.get("ALFAX_HB_WS_URL", "")


def _install() -> None:
    import importlib.abc
    import importlib.machinery

    class _PatchConstants(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != _TARGET:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                module.PERPETUAL_BASE_URL = _REST
                module.PERPETUAL_WS_URL = _WS

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _PatchConstants())


if _REST and _WS:
    _install()
