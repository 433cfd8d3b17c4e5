"""What every ONNX export in training shares."""

from __future__ import annotations

import contextlib
import logging
import warnings


@contextlib.contextmanager
def quiet_exporter():
    """torch.onnx.export without its chatter: it logs every pass at INFO and warns about its own
    deprecations, none of which a training log's reader can act on."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
