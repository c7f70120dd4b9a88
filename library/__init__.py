"""The knowledge library on Wagtail: the home page, themes, library items, publishers and resource
types, their feeds and API, and the demo content loader (library.demo)."""
