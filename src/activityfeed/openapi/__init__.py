"""The OpenAPI 3.1 document of the service, and the ``/docs`` page that renders it.

The document is built from small tables by role: ``schemas`` (component
schemas), ``responses`` (the error table and headers), ``parameters`` (the list
endpoint's query string), ``paths`` (the ``/v2`` operations) and ``document``
(assembly, the service's own paths and the page).
"""

from activityfeed.openapi.document import openapi_document, render_docs_html

__all__ = ["openapi_document", "render_docs_html"]
