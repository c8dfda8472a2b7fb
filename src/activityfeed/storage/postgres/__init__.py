"""The production store: PostgreSQL through asyncpg and its connection pool.

``store.py`` is :class:`~activityfeed.storage.postgres.store.PostgresStorage`
(the pool, a deadline per call, migrations, the list and get reads), made of
mixins: ``teams.py`` (teams and API keys), ``writes.py`` (activity writes,
each under its team's clock lock) and ``records.py`` (associated records),
which reach the store through ``connection.py`` (the errors that mean an
outage, what the mixins call on the store).
``schema.py`` holds the migrations (partitioned by team), ``bulk.py`` the
fast load of a table without activities (``COPY``, indexes built at the
end), ``copy.py`` the endpoint of ``activityfeed copy``. These modules import
asyncpg, the shared storage modules (``values``, ``base``, ``sqlbuild``,
``writes``) and the layers below storage, never ``copying``. ``store.py``
imports its siblings, none of them imports it. Of the shared modules only
``open_storage`` imports the store, for a PostgreSQL URL only (``base``
names the fast loader's type, for type checking only), so that the SQLite
store runs without the driver.
"""
