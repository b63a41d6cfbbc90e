"""The ``fleet`` command line: the application shell over the core (fleet.runtime builds what it runs).

One module per command group — ``plan`` (validate, plan, schema), ``run`` (apply, status, pause, resume,
approve, retry, history), ``daemon``, ``report`` (report, forecast), ``lifecycle``, ``demo`` — plus
``common`` (consoles, exit codes, the error guard), ``views`` and ``progress`` (rich presentation), and
``app``, which assembles them. The core never imports this package.
"""

from __future__ import annotations

from fleet.cli.app import app, main

__all__ = ["app", "main"]
