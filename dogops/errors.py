"""Errors a user can act on: tasks print the message (no traceback) and exit non-zero."""


class UserError(Exception):
    """A failure caused by input or environment, with the exit code the CLI should return."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
