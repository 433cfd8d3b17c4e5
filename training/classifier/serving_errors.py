"""The error the endpoint raises for a request it refuses.

In the SageMaker serving container it is a ``GenericInferenceToolkitError``, so the toolkit
answers with our status code instead of 500. The message is a short JSON object that a caller
can parse even when the toolkit appends a traceback.
"""

from __future__ import annotations

import json

try:  # present in the SageMaker serving container: makes the toolkit answer with our status
    from sagemaker_inference.errors import GenericInferenceToolkitError as _ToolkitError
except ImportError:

    class _ToolkitError(Exception):
        """Same shape as sagemaker_inference.errors.GenericInferenceToolkitError."""

        def __init__(self, status_code, message=None, phrase=None):
            self.status_code = status_code
            self.message = message
            self.phrase = phrase
            super().__init__(status_code, message, phrase)


class InferenceError(_ToolkitError):
    """A request the endpoint refuses; ``message`` is ``{"error": ..., "status": N}`` as JSON."""

    def __init__(self, status_code: int, error: str):
        self.error = error
        super().__init__(status_code, json.dumps({"error": error, "status": status_code}))

    def __str__(self) -> str:
        return self.message
