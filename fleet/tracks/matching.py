"""Map matching: which road edges a noisy GPS track drove (hidden Markov model, Newson & Krumm 2009).

States are positions on candidate edges near each fix; the emission is a Gaussian on the
fix-to-road distance; the transition prefers moves whose road distance equals the
straight-line distance between fixes. Speed comes from doing it in bulk: one STRtree
query for all fixes, vectorised distances and offsets, all K×K transitions of a track
as one array, and bounded Dijkstra rows (scipy) cached per road node across tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from fleet.tracks.settings import MatchSettings
from fleet.tracks.track import Track


@dataclass
class MatchResult:
    """The matched road edges of one track and how sure the matcher is."""

    device: str
    edges: list[int]  # network edge indices driven, in order (consecutive repeats removed)
    fix_edge: np.ndarray  # edge index per fix of the track, -1 unmatched
    confidence: float  # mean posterior probability of the chosen edge per fix (unmatched fixes count 0)
    segments: int  # HMM restarts + 1 (silences, off-road fixes)

    def summary(self, network: object) -> dict:
        keys = network.edge_keys  # type: ignore[attr-defined]
        lengths = network.edge_length_m  # type: ignore[attr-defined]
        return {
            "device": self.device,
            "confidence": round(self.confidence, 4),
            "segments": self.segments,
            "matched_fix_share": round(float(np.mean(self.fix_edge >= 0)) if len(self.fix_edge) else 0.0, 4),
            "length_m": round(float(lengths[self.edges].sum()) if self.edges else 0.0, 1),
            "edges": [list(keys[e]) for e in self.edges],
        }


@dataclass
class _Rows:
    limit: float
    dist: np.ndarray  # metres, inf beyond limit
    pred: np.ndarray  # predecessor node, -9999 unreached


@dataclass
class MapMatcher:
    """A matcher bound to one ``RoadNetwork``; keeps its shortest-path cache between tracks.

    Parameters
    ----------
    network
        The ``RoadNetwork`` to match on.
    settings
        Search radius, noise model and cache size.
    """

    network: object
    settings: MatchSettings
    _rows: dict[int, _Rows] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        net = self.network
        n_nodes = len(net.node_ids)  # type: ignore[attr-defined]
        self._u = np.asarray(net.edge_u, dtype=np.int64)  # type: ignore[attr-defined]
        self._v = np.asarray(net.edge_v, dtype=np.int64)  # type: ignore[attr-defined]
        self._len = np.asarray(net.edge_length_m, dtype=float)  # type: ignore[attr-defined]
        self._geoms = net.edge_geometry  # type: ignore[attr-defined]
        self._geom_len = shapely.length(self._geoms)
        self._tree = shapely.STRtree(self._geoms)
        # one edge per node pair (the shortest) for the Dijkstra graph and path rebuilding
        order = np.lexsort((self._len, self._v, self._u))
        pair = self._u[order] * n_nodes + self._v[order]
        first = np.concatenate(([True], pair[1:] != pair[:-1]))
        best = order[first]
        self._pair_edge = dict(zip((self._u[best] * n_nodes + self._v[best]).tolist(), best.tolist()))
        self._n = n_nodes
        self._graph = csr_matrix(
            (np.maximum(self._len[best], 0.01), (self._u[best], self._v[best])), shape=(n_nodes, n_nodes)
        )
        self._max_rows = max(64, int(self.settings.cache_mb * 1e6 / (12 * n_nodes)))

    # --- shortest paths -------------------------------------------------------
    def _ensure_rows(self, nodes: np.ndarray, limits: np.ndarray) -> dict[int, float]:
        """Dijkstra rows from ``nodes`` reaching at least ``limits`` metres (bucketed, cached); the bucket per node."""
        step = 500.0
        wanted: dict[int, float] = {}
        for node, limit in zip(nodes.tolist(), limits.tolist()):
            bucket = min(float(np.ceil(limit / step) * step), self.settings.max_route_m)
            wanted[node] = max(bucket, wanted.get(node, 0.0))
        need = {n: b for n, b in wanted.items() if n not in self._rows or self._rows[n].limit < b}
        if not need:
            return wanted
        if len(self._rows) + len(need) > self._max_rows:  # over budget: keep only this track's rows
            self._rows.clear()
            need = wanted
        by_limit: dict[float, list[int]] = {}
        for node, limit in need.items():
            by_limit.setdefault(limit, []).append(node)
        for limit, group in by_limit.items():
            dist, pred = dijkstra(self._graph, directed=True, indices=group, limit=limit, return_predecessors=True)
            for k, node in enumerate(group):
                self._rows[node] = _Rows(limit, dist[k], pred[k])
        return wanted

    def _node_path_edges(self, a: int, b: int) -> list[int]:
        """Edges of the cached shortest path from node ``a`` to node ``b``."""
        return self.edges_along(_walk_back(self._rows[a].pred, a, b))

    def edges_along(self, nodes: list[int]) -> list[int]:
        """Edge indices joining consecutive node indices (the shortest edge where roads run in parallel)."""
        return [self._pair_edge[a * self._n + b] for a, b in zip(nodes, nodes[1:])]

    def distances_from(self, node: int, *, limit_m: float) -> np.ndarray:
        """Road distance (m) from node index ``node`` to every node, inf beyond ``limit_m``."""
        return dijkstra(self._graph, directed=True, indices=node, limit=limit_m)

    def shortest_edges(self, a: int, b: int) -> list[int]:
        """Edge indices of the shortest road path from node index ``a`` to node index ``b`` ([] if none)."""
        if a == b:
            return []
        _, pred = dijkstra(self._graph, directed=True, indices=a, return_predecessors=True)
        return self.edges_along(_walk_back(pred, a, b))

    # --- matching -------------------------------------------------------------
    def match(
        self,
        track: Track,
        *,
        heading_deg: np.ndarray | None = None,
        heading_kappa: float = 0.0,
        min_move_m: float | None = None,
        max_candidates: int | None = None,
        scope: np.ndarray | None = None,
        working: np.ndarray | None = None,
        leave_scope_cost: float = 0.0,
        silence_speed_kmh: np.ndarray | None = None,
        backtrack_m: float | None = None,
    ) -> MatchResult:
        """Match one track; every fix gets an edge or -1 (no road within the search radius).

        The keywords are for slow vehicles on dense streets (sweepers), where the position alone
        cannot tell a kerb from the opposite carriageway beside it; without them the match is the
        one the collection audit has always used.

        Parameters
        ----------
        track
            One cleaned track.
        heading_deg, heading_kappa
            Reported heading per fix (degrees clockwise from north, NaN where unknown) and its weight
            (von Mises κ): a candidate edge running at angle Δ from it scores ``κ·(cos Δ − 1)``, so the
            opposite carriageway loses 2κ per fix.
        min_move_m
            A fix is kept once this far from the last kept one (default 2 σ, so that a parked truck is
            one fix; a sweeper at 8 km/h moves only 22 m between fixes 10 s apart).
        max_candidates
            Candidate edges per fix (default the setting); a junction of dual carriageways with slip
            roads can crowd the true edge out of the nearest eight.
        scope, working, leave_scope_cost
            The edges a vehicle is sent to work (bool per edge), whether each fix reports working,
            and the log-odds against working off them: ``leave_scope_cost`` is charged once, at the
            working fix where the vehicle is first off scope (the brushes go on there, or it turns off
            the streets in scope while working) — a prior on the route choice, not on each fix. Where
            a slip road runs 5–10 m beside the street being swept, 8 m noise cannot tell them apart;
            a sweeper with its brushes on is far likelier on its own streets, while a whole street
            driven 10 m off still outweighs it.
        silence_speed_kmh
            A steady speed per fix (NaN where not known to be steady, e.g. a sweeper's working fixes):
            across a reporting silence (an interval over twice the median) between two such fixes the
            road distance expected is their mean speed × the silence rather than the straight line.
            Newson & Krumm's straight line fits fixes seconds apart; over 90 s of sweeping round a
            corner it favours the shortcut over the kerbs swept.
        backtrack_m
            How far a fix may fall behind the previous one on the same edge and still be noise (default
            the setting). An edge is one direction of travel, so going back along it is never driven;
            a slow vehicle's fixes, 22 m apart under 8 m noise, fall back 25 m now and then, and
            without the tolerance the matcher explains that with a loop round the block.
        """
        s = self.settings
        n = len(track)
        fix_edge = np.full(n, -1, dtype=np.int64)
        if n == 0:
            return MatchResult(track.device, [], fix_edge, 0.0, 0)
        keep = _thin(track.x, track.y, 2.0 * s.sigma_m if min_move_m is None else min_move_m)
        kept = np.flatnonzero(keep)
        x, y, t = track.x[kept], track.y[kept], track.t[kept]
        T, K = len(kept), max_candidates or s.max_candidates
        edge, dist, offset = self._candidates(x, y, K)
        log_emit = np.where(edge >= 0, -0.5 * (dist / s.sigma_m) ** 2, -np.inf)
        if heading_deg is not None and heading_kappa > 0:
            log_emit = log_emit + heading_kappa * (self._heading_cos(edge, offset, heading_deg[kept]) - 1.0)
        expected = None
        if silence_speed_kmh is not None and T > 1:
            expected = _silence_distance(track.t, kept, np.asarray(silence_speed_kmh, dtype=float))
        log_trans, limits = self._transitions(edge, offset, x, y, t, expected=expected, backtrack_m=backtrack_m)
        if scope is not None and working is not None and leave_scope_cost > 0 and T > 1:
            inside = np.where(edge >= 0, np.asarray(scope, dtype=bool)[np.maximum(edge, 0)], False)
            on = np.asarray(working, dtype=bool)[kept]
            # working off scope is charged once: where the brushes go on, or on leaving the streets in scope
            enter = (inside[:-1, :, None] | ~on[:-1, None, None]) & ~inside[1:, None, :] & on[1:, None, None]
            log_trans = log_trans - leave_scope_cost * enter
        states, posterior, segments = _viterbi(log_emit, log_trans)
        chosen = np.where(states >= 0, edge[np.arange(T), np.maximum(states, 0)], -1)
        # thinned fixes take the edge of the last kept fix before them
        pos = np.cumsum(keep) - 1
        fix_edge = chosen[pos]
        fix_post = posterior[pos]
        edges = self._path(chosen, limits)
        return MatchResult(
            track.device, edges, fix_edge, float(np.mean(np.where(fix_edge >= 0, fix_post, 0.0))), segments
        )

    def _candidates(self, x: np.ndarray, y: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        T = len(x)
        points = shapely.points(np.column_stack([x, y]))
        pi, ei = self._tree.query(points, predicate="dwithin", distance=self.settings.search_radius_m)
        edge = np.full((T, K), -1, dtype=np.int64)
        dist = np.full((T, K), np.inf)
        offset = np.zeros((T, K))
        if pi.size == 0:
            return edge, dist, offset
        d = shapely.distance(points[pi], self._geoms[ei])
        order = np.lexsort((d, pi))
        pi, ei, d = pi[order], ei[order], d[order]
        start = np.searchsorted(pi, pi, side="left")
        rank = np.arange(len(pi)) - start
        sel = rank < K
        pi, ei, d, rank = pi[sel], ei[sel], d[sel], rank[sel]
        along = shapely.line_locate_point(self._geoms[ei], points[pi])
        scale = np.divide(self._len[ei], self._geom_len[ei], out=np.ones(len(ei)), where=self._geom_len[ei] > 0)
        edge[pi, rank] = ei
        dist[pi, rank] = d
        offset[pi, rank] = np.clip(along * scale, 0.0, self._len[ei])
        return edge, dist, offset

    def _heading_cos(self, edge: np.ndarray, offset: np.ndarray, heading_deg: np.ndarray) -> np.ndarray:
        """cos of the angle between each candidate edge's direction at its offset and the fix's heading (1 unknown)."""
        ok = (edge >= 0) & np.isfinite(heading_deg)[:, None]
        out = np.ones(edge.shape)
        if not ok.any():
            return out
        e = edge[ok]
        geoms = self._geoms[e]
        along = offset[ok] * self._geom_len[e] / np.maximum(self._len[e], 1e-9)
        a = shapely.line_interpolate_point(geoms, np.clip(along - 2.0, 0.0, self._geom_len[e]))
        b = shapely.line_interpolate_point(geoms, np.clip(along + 2.0, 0.0, self._geom_len[e]))
        dx, dy = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
        norm = np.hypot(dx, dy)
        rad = np.radians(np.broadcast_to(heading_deg[:, None], edge.shape)[ok])
        out[ok] = np.where(norm > 0, (dx * np.sin(rad) + dy * np.cos(rad)) / np.where(norm > 0, norm, 1.0), 1.0)
        return out

    def _transitions(
        self,
        edge: np.ndarray,
        offset: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        t: np.ndarray,
        expected: np.ndarray | None = None,
        backtrack_m: float | None = None,
    ) -> tuple[np.ndarray, dict[int, float]]:
        """log P(state j at fix k+1 | state i at fix k) for all k, as a (T-1, K, K) array, and the reach per road node.

        The road distance expected between two fixes is the straight line, or ``expected`` (metres per
        step, NaN for the straight line) where the caller knows better.
        """
        s = self.settings
        T, K = edge.shape
        if T < 2:
            return np.zeros((0, K, K)), {}
        gc = np.hypot(np.diff(x), np.diff(y))
        dt = np.maximum(np.diff(t), 1.0)
        reach = np.minimum(np.minimum(dt * s.max_speed_kmh / 3.6, gc + s.route_slack_m), s.max_route_m)
        e0, e1 = edge[:-1], edge[1:]
        valid0 = e0 >= 0
        src = np.where(valid0, self._v[np.maximum(e0, 0)], -1)
        src_need = np.broadcast_to(reach[:, None], src.shape)
        limits = self._ensure_rows(src[valid0], src_need[valid0])
        uniq = np.unique(src[valid0])
        dst = np.where(e1 >= 0, self._u[np.maximum(e1, 0)], 0)
        udst, col = np.unique(dst, return_inverse=True)
        col = col.reshape(dst.shape)
        table = np.full((len(uniq) + 1, len(udst)), np.inf)  # only the node pairs this track needs
        for k, node in enumerate(uniq.tolist()):  # a row cached for a longer reach is cut back: no history
            row = self._rows[node].dist[udst]
            table[k] = np.where(row <= limits[node], row, np.inf)
        row = np.where(valid0, np.searchsorted(uniq, src), len(uniq))
        between = table[row[:, :, None], col[:, None, :]]  # (T-1, K, K)
        o0, o1 = offset[:-1], offset[1:]
        len0 = self._len[np.maximum(e0, 0)]
        route = (len0 - o0)[:, :, None] + between + o1[:, None, :]
        back = s.backtrack_m if backtrack_m is None else backtrack_m
        same = (e0[:, :, None] == e1[:, None, :]) & (o1[:, None, :] >= o0[:, :, None] - back)
        route = np.where(same, np.maximum(o1[:, None, :] - o0[:, :, None], 0.0), route)
        want = gc if expected is None else np.where(np.isfinite(expected), np.maximum(expected, gc), gc)
        log_t = -np.abs(route - want[:, None, None]) / s.beta_m
        ok = (route <= reach[:, None, None] + 2 * s.search_radius_m) & (e0[:, :, None] >= 0) & (e1[:, None, :] >= 0)
        return np.where(ok, log_t, -np.inf), limits

    def _path(self, chosen: np.ndarray, limits: dict[int, float]) -> list[int]:
        """Edges driven: the chosen edges joined by the shortest paths between them within this track's reach.

        The reach is the track's own (``limits``), never a longer row another track left in the cache,
        so a match does not depend on what was matched before.
        """
        path: list[int] = []
        prev = -1
        for e in chosen.tolist():
            if e < 0:
                prev = -1
                continue
            if prev >= 0 and e != prev:
                a, b = int(self._v[prev]), int(self._u[e])
                if a != b and a in limits and self._rows[a].dist[b] <= limits[a]:
                    path.extend(self._node_path_edges(a, b))
            if not path or path[-1] != e:
                path.append(e)
            prev = e
        return path


def _silence_distance(t: np.ndarray, kept: np.ndarray, speed_kmh: np.ndarray) -> np.ndarray:
    """Per step between kept fixes: speed × time across a reporting silence between two steady fixes, else NaN."""
    dt = np.diff(t)
    out = np.full(len(kept) - 1, np.nan)
    if not len(dt):
        return out
    a, b = kept[:-1], kept[1:]
    silence = (b == a + 1) & (dt[np.minimum(a, len(dt) - 1)] > 2.0 * float(np.median(dt)))
    mean = (speed_kmh[a] + speed_kmh[b]) / 2.0 / 3.6 * (t[b] - t[a])
    return np.where(silence & np.isfinite(mean), mean, np.nan)


def _thin(x: np.ndarray, y: np.ndarray, min_move_m: float) -> np.ndarray:
    """Keep a fix only once it is ``min_move_m`` from the last kept one (a parked truck is one fix)."""
    n = len(x)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    step = np.hypot(np.diff(x), np.diff(y))
    if np.all(step >= min_move_m):
        keep[:] = True
        return keep
    xl, yl = x.tolist(), y.tolist()
    keep[0] = True
    lx, ly = xl[0], yl[0]
    limit = min_move_m * min_move_m
    for i in range(1, n):
        if (xl[i] - lx) ** 2 + (yl[i] - ly) ** 2 >= limit:
            keep[i] = True
            lx, ly = xl[i], yl[i]
    keep[-1] = True
    return keep


def _viterbi(log_emit: np.ndarray, log_trans: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Best state per step, its posterior probability, and the number of HMM segments.

    Where no transition is possible (silence, off-road fix) the chain restarts: a new segment.
    Viterbi runs in log space; the forward-backward posteriors in scaled probability space.
    """
    T, K = log_emit.shape
    states = np.full(T, -1, dtype=np.int64)
    posterior = np.zeros(T)
    if T == 0:
        return states, posterior, 0
    with np.errstate(invalid="ignore"):
        emit_max = np.max(log_emit, axis=1, keepdims=True)
        emit = np.exp(log_emit - np.where(np.isfinite(emit_max), emit_max, 0.0))
    trans = np.exp(log_trans)
    back = np.zeros((T, K), dtype=np.int64)
    score = np.full((T, K), -np.inf)
    fwd = np.zeros((T, K))
    cols = np.arange(K)
    starts = []
    alive = False
    for k in range(T):
        if alive:
            cand = score[k - 1][:, None] + log_trans[k - 1]
            best = cand.argmax(axis=0)
            row = cand[best, cols] + log_emit[k]
            if row.max() > -np.inf:
                back[k] = best
                score[k] = row
                f = (fwd[k - 1] @ trans[k - 1]) * emit[k]
                total = f.sum()
                fwd[k] = f / total if total > 0 else emit[k] / emit[k].sum()
                continue
        alive = bool(emit_max[k, 0] > -np.inf)
        if alive:
            starts.append(k)
            score[k] = log_emit[k]
            fwd[k] = emit[k] / emit[k].sum()
    ends = [s - 1 for s in starts[1:]] + [T - 1]
    for start, end in zip(starts, ends):
        while end >= start and not score[end].max() > -np.inf:
            end -= 1
        bwd = np.ones(K)
        s = int(np.argmax(score[end]))
        for k in range(end, start - 1, -1):
            states[k] = s
            post = fwd[k] * bwd
            total = post.sum()
            posterior[k] = post[s] / total if total > 0 else 0.0
            if k > start:
                b = trans[k - 1] @ (emit[k] * bwd)
                total = b.sum()
                bwd = b / total if total > 0 else np.ones(K)
                s = int(back[k][s])
    return states, posterior, len(starts)


def correct_length_share(*, truth: list[int], matched: list[int], lengths: np.ndarray) -> tuple[float, float]:
    """(share of the true path's length matched, share of the matched length that is true), directed edges.

    Parameters
    ----------
    truth
        Directed edge indices of the true path.
    matched
        Directed edge indices the matcher chose.
    lengths
        Edge lengths (metres), indexed by edge.

    Returns
    -------
    tuple[float, float]
        Recall and precision by length, each 0.0 when its denominator is empty.
    """
    t, m = set(truth), set(matched)
    true_len = float(lengths[list(t)].sum()) if t else 0.0
    match_len = float(lengths[list(m)].sum()) if m else 0.0
    both = float(lengths[list(t & m)].sum()) if t & m else 0.0
    return (both / true_len if true_len else 0.0, both / match_len if match_len else 0.0)


def _walk_back(pred: np.ndarray, a: int, b: int) -> list[int]:
    """Node indices of the path a→b read from a Dijkstra predecessor row ([] if b is unreachable)."""
    nodes = [b]
    while nodes[-1] != a:
        p = int(pred[nodes[-1]])
        if p < 0:
            return []
        nodes.append(p)
    nodes.reverse()
    return nodes
