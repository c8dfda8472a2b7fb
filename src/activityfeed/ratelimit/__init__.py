"""Rate limiting as Salesloft does it (contract, section 5): per team, per calendar minute.

``policy`` holds the cost of a request and the limiter, which decides what to
answer and how to go on through an outage of its counters; ``backends`` holds
the two places the counters live (Redis across hosts, a memory-mapped file
shared by one machine's workers); ``factory`` chooses and builds the limiter
that the settings describe, and says where the shared file goes. This package
may import ``model``, ``errors``, ``query`` (to read a page as the list
endpoint does), ``settings`` and ``urls``; it is imported by ``http``, ``cli``
and ``openapi``, never by ``storage``, ``records`` or ``service``.
"""
