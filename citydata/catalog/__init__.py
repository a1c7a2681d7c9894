"""The catalog: organisations, users, datasets, resources, licences and search.

Framework-free functions that take a session and an :class:`~citydata.access.actors.Actor`
and return plain dicts (the CKAN-compatible shapes); adapters wrap them.
"""
