"""Tracks stage: stored or file positions → cleaned tracks per truck, and the roads they drove.

``store`` keeps terminals and positions in the database (and owns the one database-URL
normaliser), ``sources`` reads an audit's positions from a CSV file or the database (and exports
the one to the other), ``track`` cleans fixes into tracks with trips, stops and reporting gaps,
``matching`` map-matches a track onto the road network; ``settings`` holds their thresholds (light to import).

Public API: :func:`csv_positions`, :func:`db_positions`, :func:`export_positions`, :class:`Period`,
:func:`read_positions`, :func:`build_tracks`, :class:`Track`, :class:`MapMatcher`,
:func:`make_engine`, :func:`normalise_database_url`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.tracks.sources": ("csv_positions", "db_positions", "export_positions", "Period"),
        "fleet.tracks.track": ("read_positions", "build_tracks", "Track"),
        "fleet.tracks.matching": ("MapMatcher",),
        "fleet.tracks.store": ("make_engine", "normalise_database_url"),
    },
)
