"""activityfeed: a self-hostable, Salesloft-compatible activity history service.

Importing the package imports nothing of the server: the client SDK
(:mod:`activityfeed.client`) works with httpx alone.
"""

__version__ = "0.1.0"
