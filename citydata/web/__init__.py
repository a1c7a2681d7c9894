"""Server-rendered web pages (Jinja2): thin adapters over the catalog."""
