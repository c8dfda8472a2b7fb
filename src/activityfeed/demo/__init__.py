"""The demo data of ``activityfeed demo``: seeded, deterministic, loaded as a client's would be.

``world`` makes each team's people, accounts, opportunities, users and
cadences; ``stream`` the activities that happen in that world, in time order;
``records`` the associated records their references point to; ``load`` loads
it all into a store (``load_demo``), batch by batch through the bulk upsert or,
into a store without activities, by the store's fast load, fed by the row
process of ``fast`` (SQLite) and ``fast_postgres`` (PostgreSQL). Everything is
a pure function of the seed, so a rerun changes nothing. This package may
import ``model``, ``timestamps`` and ``storage`` (the ``Storage`` protocol, the
row building of ``storage.writes`` and each store's fresh load); it is imported
by ``cli`` (and the tests and benchmarks), never by ``storage``, ``service`` or
``http``.
"""
