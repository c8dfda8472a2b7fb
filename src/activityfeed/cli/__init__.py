"""The ``activityfeed`` command line, one module per family of commands.

``main`` is the click group and registers the commands; ``common`` holds the
``--database-url`` option and opening a store; ``serve`` runs the service
(``serve``, ``migrate``); ``admin`` manages keys and team rate limits;
``demo`` loads the demo data; ``data`` and ``transfer`` are the integrator's
commands (``activities``, ``export``, ``import``) and their file formats;
``copy`` moves a whole store. This package sits at the top beside ``http``: it
may import any layer below (``settings``, ``urls``, ``auth``, ``storage``,
``records``, ``ratelimit``, ``demo``, ``client``, and ``http.server`` to run
it); nothing in ``src`` imports it but ``entry``.
"""
