"""The HTTP layer: routes, authentication and rendering of errors."""
