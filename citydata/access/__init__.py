"""Access: who is asking (actors) and what they may see and do (policy).

Every read of catalog metadata or data goes through :mod:`citydata.access.policy`.
"""
