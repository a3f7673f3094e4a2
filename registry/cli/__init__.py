"""The ``tanhui`` command line: a thin shell over the registry's services.

``app`` (the root command and its groups: :mod:`.inventory`, :mod:`.model`, :mod:`.project`,
:mod:`.credits`, :mod:`.audit`, and :mod:`.demo`), ``context`` (settings, engine, actor,
consoles), ``output`` (tables, JSON), ``exits`` (the exit-code table).
"""

from registry.cli.app import app, main

__all__ = ["app", "main"]
