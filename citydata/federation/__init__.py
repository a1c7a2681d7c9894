"""Federation: harvesting other catalogs into this one, and citydata nodes working together.

A *registry* node knows what exists across the city; *owner* nodes keep their data and decide
who may use it. Metadata flows to the registry (harvesting, live search); rows stay at the
owner, which enforces and audits every use. See docs/federation.md.
"""
