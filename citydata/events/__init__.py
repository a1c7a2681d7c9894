"""Events: the log every stream's events are appended to (:mod:`~citydata.events.log`), the
streams plug-ins publish (:mod:`~citydata.events.streams`), and the per-process hub that wakes
on new events and hands them to subscribers (:mod:`~citydata.events.hub`). Framework-free:
the SSE endpoint lives in :mod:`citydata.api.events`; see ``docs/events.md``.
"""
