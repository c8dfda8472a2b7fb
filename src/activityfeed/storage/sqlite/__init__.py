"""The embedded store: SQLite in WAL mode, one file, serving reads on the caller's thread.

``store.py`` is :class:`~activityfeed.storage.sqlite.store.SQLiteStorage`
(connections, migrations, the list and get reads, the writer thread), made of
mixins: ``teams.py`` (teams and API keys), ``writes.py`` (activity writes,
one ``BEGIN IMMEDIATE`` transaction each) and ``records.py`` (associated
records), which reach the store through ``connection.py`` (opening the
file, telling a read-only store, what the mixins call on the store).
``schema.py`` holds the migrations, ``bulk.py`` the fast load of a
store without activities (the demo's), ``copy.py`` the endpoint of
``activityfeed copy``. These modules import the shared storage modules
(``values``, ``base``, ``sqlbuild``, ``writes``) and the layers below
storage, never ``copying``; of the shared modules only ``open_storage``
imports the store (and ``base`` names the fast loader's type, for type
checking only). ``store.py`` imports its siblings, none of them imports it.
"""
