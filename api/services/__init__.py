"""What the service does, apart from HTTP: each module is called by the routes and, for jobs, by the job engine.

``planning`` (scenarios from the catalogue, the plan job, stored plans and exports), ``audits``
(permits, zones, the audit job), ``supervision`` (violations, companies and scores, queuing
audits), ``stations`` (transfer-station studies), ``positions`` (HTTP ingest, track playback),
``imports`` (CSV/GeoJSON uploads), ``records`` (records by id, pages), ``maps`` (road lines).
A service defines its job runner and imports ``api.jobs.engine`` only; ``api.jobs.registry``
maps job kinds to these runners.
"""
