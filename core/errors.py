"""Errors a learner may see.

A `ToolInputError` carries a message meant for the chat as it is: the agent passes it to
the model and the UI shows it, instead of a traceback. It lives in the bottom layer because
the cores in knowledge/ raise it as much as the tools do, and they may not import tools/.
"""


class ToolInputError(ValueError):
    """The input cannot be used; the message says why and what to do instead."""
