"""The city's data services, each a plug-in on the same contract as third-party ones
(``citydata.hookspecs``): planning, and more to come."""
