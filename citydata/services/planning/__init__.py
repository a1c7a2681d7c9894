"""The Planning Datahub: London's planning applications as one normalised, live feed.

So far: the London planning application data standard (:mod:`.standard`). See
docs/planning.md for what it is and how its fields map to planning.data.gov.uk.
"""
