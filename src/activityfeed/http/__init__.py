"""The HTTP wing: the Starlette app of the service and the server that runs it.

``app`` is the factory (:func:`~activityfeed.http.app.create_app`), which
builds the store, limiter, hydrator and services and mounts the middleware
(``middleware``: security headers, HEAD, key, rate limit and scope) and one
module of routes per resource (``activities``, ``records``, ``health``,
``docs``); those handlers read their requests through ``requests``, route by
method through ``methods`` and leave every error to ``errors``, the one place
error responses are made (with ``headers``, the headers every answer
carries). ``server`` is uvicorn's protocol with head limits and the worker
factory of ``serve``. The package sits on top: it may import the service
(``service``, ``records``, ``ratelimit``, ``storage``, ``settings``, ``auth``),
``render``, ``bodies``, ``openapi`` and the model and errors below them,
never ``cli``; only ``cli``, the tests and the benchmarks import it.
"""
