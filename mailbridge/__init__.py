"""mailbridge: a mail gateway for official documents.

Importing the package has no side effects; the service is built by
:mod:`mailbridge.service` and driven by the ``mailbridge`` command.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
