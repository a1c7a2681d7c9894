"""Geography: London reference data (boroughs, LSOAs, postcodes) and spatial lookups.

See ``citydata.geo.reference`` for loading and lookups, ``citydata.geo.topojson`` for the
TopoJSON decoder, and ``docs/reference-data.md`` for sources and licences.
"""
