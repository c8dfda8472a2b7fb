"""Associated records and dynamic data (contract, section 4).

``registry`` names the resources an activity's ``static_data`` may point to and
where each lives (the service's own store, or a remote source configured in
TOML or the environment); ``remote`` calls a remote source in batches, behind
a circuit breaker; ``hydrate`` fills a page's ``dynamic_data`` with one batched
load per resource name under one deadline; ``service`` holds the use cases of
``/v2/associated_records`` (validate, store, render). This package may import
``model``, ``errors``, ``timestamps``, ``bodies``, ``render`` and
``storage.base``; it is imported by ``service``, ``http`` and ``cli``, never
by ``storage``.
"""
