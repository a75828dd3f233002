"""The HTTP routes, one module per audience, each thin: parse the request, call ``api.services``, answer.

``catalogue`` (sites, vehicles, vehicle types, depots, facilities), ``plans``, ``positions``
(ingest and track playback), ``supervision`` (permits, zones, audits, violations, scores),
``stations`` (transfer-station studies), ``keys`` (admin), ``maps`` (the road network for the
map page). Shared dependencies are ``api.deps``; errors are raised as ``routing.errors`` kinds
and answered by ``api.app`` (404, 409, 422).
"""
