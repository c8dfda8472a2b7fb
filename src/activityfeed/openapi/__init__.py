"""The OpenAPI 3.1 document of the service, and the ``/docs`` page that renders it.

The document is built from small tables by role: ``schemas`` (component
schemas), ``patterns`` (the regular expressions of their string rules),
``responses`` (the error table and headers), ``parameters`` (the list
endpoint's query string), ``paths`` (the ``/v2`` operations), ``examples``
and ``document`` (assembly, the service's own paths and the page). It states
exactly what the service accepts; what JSON Schema cannot state is in the
descriptions and in the extensions ``x-conflicts-with`` and ``x-requires``.
"""

from activityfeed.openapi.document import openapi_document, render_docs_html

__all__ = ["openapi_document", "render_docs_html"]
