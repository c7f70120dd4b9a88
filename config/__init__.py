"""Project configuration: settings from the environment, URL routes, the ASGI application."""
