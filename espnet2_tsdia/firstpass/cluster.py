"""Clustering of speaker embeddings: agglomerative and spectral, with a known or estimated number.

Both work on cosine similarities of the (L2-normalised) embeddings and return labels
``0..K-1`` numbered by first appearance (the first embedding is in cluster 0, the next new
cluster is 1, ...), so that results are comparable and tests can state them exactly.

- :func:`agglomerative`: average-linkage hierarchical clustering on cosine distance
  (``scipy.cluster.hierarchy``), cut at ``num_speakers`` clusters, or at a cosine distance
  ``threshold`` whose cluster count is then kept inside ``[min_speakers, max_speakers]``.
- :func:`spectral`: the affinity matrix (cosine similarity, negative values set to 0) is pruned
  to the ``pruning`` share of each row's strongest neighbours and symmetrised (the p-pruning of
  NME-SC, Park et al. 2020; by default the share is chosen per recording by NME-SC's criterion,
  :func:`nme_pruning`), its normalised Laplacian ``I - D^-1/2 A D^-1/2`` is decomposed, and
  the number of speakers is, unless given, the ``k`` in ``[min_speakers, max_speakers]`` with the
  largest eigengap ``lambda_(k+1) - lambda_k`` (eigenvalues ascending) among ``k >= 2``. A pruned
  graph always splits into neighbourhoods, so one speaker is decided on the unpruned graph
  instead: when its algebraic connectivity ``lambda_2`` (near 1 when every window is alike) is at
  least ``one_speaker_connectivity``, the smallest allowed number is taken. That threshold
  depends on the embedding model; the default 0.7 separates the demo's validation recordings
  (two-speaker conversations 0.39-0.67, one-speaker recordings 0.41-0.81 with the demo's
  x-vector model). The rows of the first
  ``k`` eigenvectors, normalised, are grouped by k-means (:func:`kmeans`: farthest-point
  initialisation from the first row, so it is deterministic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

METHODS = ("spectral", "agglomerative")


@dataclass(frozen=True)
class ClusterOptions:
    """How the first pass groups its embeddings.

    Args:
        method: ``spectral`` (default; estimates the number by the eigengap) or
            ``agglomerative`` (needs ``num_speakers`` or ``threshold``).
        num_speakers: the known number of speakers; None = estimate it.
        min_speakers / max_speakers: bounds of the estimate.
        threshold: agglomerative only: cosine distance at which clusters stop merging.
        one_speaker_connectivity: spectral with an estimated number only: one voice (the
            smallest allowed number) when the unpruned graph's connectivity reaches this.
        pruning: spectral only: share of each row's neighbours kept in the affinity (0, 1];
            None = chosen per recording by the NME criterion (:func:`nme_pruning`).
    """

    method: str = "spectral"
    num_speakers: Optional[int] = None
    min_speakers: int = 1
    max_speakers: int = 8
    threshold: Optional[float] = None
    one_speaker_connectivity: float = 0.7
    pruning: Optional[float] = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"clustering method must be one of {list(METHODS)}, got {self.method!r}")
        if self.min_speakers < 1 or self.max_speakers < self.min_speakers:
            raise ValueError(
                f"need 1 <= min_speakers <= max_speakers, got min_speakers={self.min_speakers} "
                f"max_speakers={self.max_speakers}"
            )
        if self.num_speakers is not None and self.num_speakers < 1:
            raise ValueError(f"num_speakers must be >= 1 or None, got {self.num_speakers}")
        if self.threshold is not None and not (math.isfinite(self.threshold) and 0 < self.threshold < 2):
            raise ValueError(f"threshold is a cosine distance in (0, 2), got {self.threshold}")
        if self.method == "agglomerative" and self.num_speakers is None and self.threshold is None:
            raise ValueError("agglomerative clustering needs num_speakers or a distance threshold")
        if self.pruning is not None and not 0 < self.pruning <= 1:
            raise ValueError(f"pruning must be in (0, 1] or None, got {self.pruning}")


def normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, D) embeddings, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def relabel_by_appearance(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0, 1, ... in the order their first member appears."""
    labels = np.asarray(labels)
    order = {}
    for lab in labels.tolist():
        order.setdefault(lab, len(order))
    return np.array([order[lab] for lab in labels.tolist()], dtype=np.int64)


def kmeans(x: np.ndarray, k: int, *, iterations: int = 100) -> np.ndarray:
    """(N, D) points -> (N,) labels of ``k`` clusters (Lloyd iterations, farthest-point start)."""
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}], got {k}")
    centres = [x[0]]
    dist = np.sum((x - x[0]) ** 2, axis=1)
    for _ in range(1, k):
        centres.append(x[int(np.argmax(dist))])
        dist = np.minimum(dist, np.sum((x - centres[-1]) ** 2, axis=1))
    c = np.stack(centres)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            if np.any(labels == j):
                c[j] = x[labels == j].mean(axis=0)
    return labels


def _bounds(options: ClusterOptions, n: int) -> Tuple[int, int]:
    hi = min(options.max_speakers, n)
    return min(options.min_speakers, hi), hi


def agglomerative(embeddings: np.ndarray, options: ClusterOptions) -> np.ndarray:
    """(N, D) embeddings -> (N,) labels (module docstring)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x = normalise_rows(embeddings)
    n = x.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    tree = linkage(x, method="average", metric="cosine")
    tree[:, 2] = np.maximum(tree[:, 2], 0.0)  # cosine distances of identical rows come out as -1e-16
    lo, hi = _bounds(options, n)
    if options.num_speakers is not None:
        labels = fcluster(tree, t=min(options.num_speakers, n), criterion="maxclust")
    else:
        labels = fcluster(tree, t=options.threshold, criterion="distance")
        k = len(np.unique(labels))
        if not lo <= k <= hi:
            labels = fcluster(tree, t=min(max(k, lo), hi), criterion="maxclust")
    return relabel_by_appearance(labels)


def affinity(x: np.ndarray, pruning: float) -> np.ndarray:
    """(N, D) unit rows -> (N, N) pruned, symmetric affinity (module docstring)."""
    a = np.clip(x @ x.T, 0.0, None)
    n = a.shape[0]
    keep = max(1, int(math.ceil(pruning * n)))
    if keep < n:
        weakest = np.argsort(-a, axis=1, kind="stable")[:, keep:]
        np.put_along_axis(a, weakest, 0.0, axis=1)
    return (a + a.T) / 2.0


def laplacian_eigenvalues(a: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the normalised Laplacian of ``a``."""
    d = a.sum(axis=1)
    inv = np.where(d > 0, 1.0 / np.sqrt(np.maximum(d, 1e-12)), 0.0)
    lap = np.eye(a.shape[0]) - inv[:, None] * a * inv[None, :]
    values, vectors = np.linalg.eigh(lap)
    return values, vectors


def estimate_num_speakers(values: np.ndarray, lo: int, hi: int) -> int:
    """The ``k`` in ``[lo, hi]`` with the largest eigengap ``values[k] - values[k-1]`` (ties: the
    smallest k); ``values`` ascending."""
    n = values.size
    hi = min(hi, n - 1)
    if hi < lo:
        return max(1, min(lo, n))
    gaps = [values[k] - values[k - 1] for k in range(lo, hi + 1)]
    return lo + int(np.argmax(gaps))


def connectivity(x: np.ndarray) -> float:
    """Algebraic connectivity (second smallest eigenvalue of the normalised Laplacian) of the
    unpruned affinity of unit rows ``x``: near 1 when all rows are alike."""
    return float(laplacian_eigenvalues(affinity(x, 1.0))[0][1])


#: the shares of neighbours the NME criterion tries
NME_PRUNING = tuple(round(0.02 * i, 2) for i in range(1, 26))
#: fewest neighbours (itself included) a row keeps when NME chooses: fewer splits a speaker into
#: fragments (a graph of pairs always has many zero eigenvalues)
NME_MIN_NEIGHBOURS = 5


def nme_pruning(x: np.ndarray, lo: int, hi: int, candidates=NME_PRUNING) -> float:
    """The pruning share of NME-SC (Park et al. 2020): for each candidate share ``p``, the largest
    eigengap among ``k`` in ``[max(lo, 2), hi]`` normalised by the largest eigenvalue, ``g_p``; the
    share with the smallest ``p / g_p`` wins (ties: the smaller share). Few neighbours keep the
    graph clean, a large gap says the clusters are clear. Shares that keep fewer than
    :data:`NME_MIN_NEIGHBOURS` neighbours are not tried (the largest candidate is, always)."""
    n = x.shape[0]
    best, best_ratio = candidates[-1], math.inf
    first, last = max(lo, 2), min(hi, n - 1)
    floor = min(NME_MIN_NEIGHBOURS, n)
    for p in candidates:
        if math.ceil(p * n) < floor:
            continue
        values = laplacian_eigenvalues(affinity(x, p))[0]
        if last < first:
            gap = values[1] - values[0]
        else:
            gap = max(values[k] - values[k - 1] for k in range(first, last + 1))
        ratio = p / max(gap / max(values[-1], 1e-12), 1e-12)
        if ratio < best_ratio:
            best, best_ratio = p, ratio
    return best


def spectral(embeddings: np.ndarray, options: ClusterOptions) -> np.ndarray:
    """(N, D) embeddings -> (N,) labels (module docstring)."""
    x = normalise_rows(embeddings)
    n = x.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    lo, hi = _bounds(options, n)
    pruning = options.pruning if options.pruning is not None else nme_pruning(x, lo, hi)
    values, vectors = laplacian_eigenvalues(affinity(x, pruning))
    if options.num_speakers is not None:
        k = min(options.num_speakers, n)
    elif connectivity(x) >= options.one_speaker_connectivity:
        k = lo
    else:
        k = estimate_num_speakers(values, max(lo, 2) if hi >= 2 else lo, hi)
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    spec = normalise_rows(vectors[:, :k])
    return relabel_by_appearance(kmeans(spec, k))


def cluster(embeddings: np.ndarray, options: ClusterOptions = ClusterOptions()) -> np.ndarray:
    """(N, D) embeddings -> (N,) cluster labels numbered by first appearance."""
    if np.asarray(embeddings).shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if options.method == "agglomerative":
        return agglomerative(embeddings, options)
    return spectral(embeddings, options)
