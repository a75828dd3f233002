"""Map matching on simulated drives over the Shenzhen network: correctly matched edge length."""

from __future__ import annotations

import numpy as np

from fleet.simulate.tracks import simulate_drive
from fleet.tracks.matching import correct_length_share
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import build_tracks, read_positions


def _share(net, matcher, *, noise_m, interval_s, seeds, km=15.0):
    got = total = 0.0
    confidences = []
    for seed in seeds:
        sc = simulate_drive(net, seed=seed, km=km, interval_s=interval_s, noise_m=noise_m, matcher=matcher)
        track = build_tracks(read_positions(sc.positions)[0], projector=net, settings=TrackSettings())[0]
        result = matcher.match(track)
        truth = sc.true_edges[track.device]
        recall, _ = correct_length_share(truth=truth, matched=result.edges, lengths=net.edge_length_m)
        length = net.edge_length_m[list(set(truth))].sum()
        got += recall * length
        total += length
        confidences.append(result.confidence)
        assert len(result.fix_edge) == len(track)
        if noise_m <= 20.0:  # within the 80 m search radius (4 σ): every fix finds its road
            assert np.all(result.fix_edge >= 0)
    return got / total, float(np.mean(confidences))


def test_sigma_10m_10s_matches_at_least_95_percent_of_the_length(shenzhen, matcher):
    share, _ = _share(shenzhen, matcher, noise_m=10.0, interval_s=10.0, seeds=[100, 101, 102])
    assert share >= 0.95


def test_sigma_20m_30s_matches_at_least_90_percent_of_the_length(shenzhen, matcher):
    share, _ = _share(shenzhen, matcher, noise_m=20.0, interval_s=30.0, seeds=[100, 101, 102])
    assert share >= 0.90


def test_confidence_drops_with_noise(shenzhen, matcher):
    _, clean = _share(shenzhen, matcher, noise_m=2.0, interval_s=10.0, seeds=[7])
    _, noisy = _share(shenzhen, matcher, noise_m=30.0, interval_s=30.0, seeds=[7])
    assert 0.0 < noisy < clean <= 1.0


def test_noise_free_track_is_matched_exactly(shenzhen, matcher):
    share, _ = _share(shenzhen, matcher, noise_m=0.0, interval_s=5.0, seeds=[11], km=8.0)
    assert share >= 0.99


def test_far_from_roads_is_unmatched_not_forced(shenzhen, matcher):
    sc = simulate_drive(shenzhen, seed=3, km=3.0, interval_s=10.0, noise_m=5.0, matcher=matcher)
    frame = sc.positions.copy()
    frame.loc[frame.index[-5:], "lat"] += 0.2  # 22 km away, outside the network
    frame.loc[frame.index[-5:], "speed_kmh"] = 0.0
    track = build_tracks(read_positions(frame)[0], projector=shenzhen, settings=TrackSettings())[0]
    result = matcher.match(track)
    assert result.fix_edge[-1] == -1 and result.fix_edge[0] >= 0
    assert result.confidence < 1.0


def test_a_tiny_path_cache_gives_the_same_match(shenzhen, matcher):
    from fleet.tracks.matching import MapMatcher
    from fleet.tracks.settings import MatchSettings

    sc = simulate_drive(shenzhen, seed=5, km=8.0, interval_s=10.0, noise_m=10.0, matcher=matcher)
    track = build_tracks(read_positions(sc.positions)[0], projector=shenzhen, settings=TrackSettings())[0]
    small = MapMatcher(shenzhen, settings=MatchSettings(cache_mb=0.001))  # evicts on every track
    small.match(track)
    assert small.match(track).edges == matcher.match(track).edges
