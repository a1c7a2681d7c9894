"""The load test (``make loadtest``): many concurrent users on the production configuration.

``run.py`` prepares a dedicated PostgreSQL database with the demo catalog, starts
``citydata serve --workers N`` with ``CITYDATA_ENV=production``, finds the requests to make,
drives them with locust (``locustfile.py``, run from its own venv) while ``memory.py`` samples
the servers' memory, and ``report.py`` prints and writes the results. See docs/performance.md.
"""
