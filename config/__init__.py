"""Project configuration: settings read from the environment, URL routes and the ASGI application."""
