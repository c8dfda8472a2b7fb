"""What the tests share: servers, clients and data they build, and test doubles.

PostgreSQL schemas per test and throwaway clusters (``pg_support``,
``pg_cluster``), the service on a loopback port and SDK bridges
(``sdk_support``, ``serve_process``), a cuttable TCP proxy (``tcp_proxy``),
throwaway Redis servers (``redis_service``), a fake clock (``clock``), the
in-memory reference of the list contract and its query generator
(``reference``, ``querygen``), copy fixtures (``copy_support``) and the
schemathesis hooks. Test modules import these as ``support.<name>``; nothing
under ``src/`` imports them.
"""
