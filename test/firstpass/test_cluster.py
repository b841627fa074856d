"""Clustering of embeddings: known number, estimated number, bounds, exact labels."""

import numpy as np
import pytest

from espnet2_tsdia.firstpass.cluster import (
    NME_PRUNING,
    ClusterOptions,
    cluster,
    connectivity,
    estimate_num_speakers,
    kmeans,
    nme_pruning,
    normalise_rows,
    relabel_by_appearance,
)

#: which of three speakers each of 12 embeddings belongs to (in time order)
TRUTH = [0, 0, 1, 1, 0, 2, 2, 1, 0, 2, 1, 1]


def embeddings(truth=TRUTH, *, dim=16, noise=0.05, seed=0):
    """Well-separated speakers: random unit directions plus small noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(truth) + 1, dim))
    return centres[truth] + noise * rng.standard_normal((len(truth), dim))


@pytest.mark.parametrize("method", ["spectral", "agglomerative"])
def test_known_number_gives_the_speakers(method):
    labels = cluster(embeddings(), ClusterOptions(method=method, num_speakers=3))
    assert labels.tolist() == TRUTH


def test_spectral_estimates_the_number_by_the_eigengap():
    for truth in (TRUTH, [0, 1, 0, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0], [0, 1, 2, 3, 0, 1, 2, 3, 3, 2, 1, 0]):
        for pruning in (None, 0.3, 0.5):
            labels = cluster(embeddings(truth, seed=3), ClusterOptions(pruning=pruning))
            assert labels.tolist() == truth


def test_agglomerative_with_a_distance_threshold():
    labels = cluster(embeddings(), ClusterOptions(method="agglomerative", threshold=0.5))
    assert labels.tolist() == TRUTH
    # a threshold that merges everything, kept inside the bounds
    two = cluster(embeddings(), ClusterOptions(method="agglomerative", threshold=1.99, min_speakers=2))
    assert len(set(two.tolist())) == 2


def test_bounds_on_the_estimate():
    assert set(cluster(embeddings(), ClusterOptions(max_speakers=2)).tolist()) <= {0, 1}
    assert len(set(cluster(embeddings(), ClusterOptions(min_speakers=4)).tolist())) == 4
    assert len(set(cluster(embeddings([0] * 8), ClusterOptions(min_speakers=2)).tolist())) == 2
    two = [0, 1, 1, 0, 1, 0, 0, 1]
    assert cluster(embeddings(two), ClusterOptions(min_speakers=2, max_speakers=2)).tolist() == two


def test_small_inputs():
    assert cluster(np.zeros((0, 4))).tolist() == []
    assert cluster(np.ones((1, 4))).tolist() == [0]
    assert cluster(embeddings([0, 1]), ClusterOptions(num_speakers=5)).tolist() == [0, 1]


def test_eigengap_and_helpers():
    values = np.array([0.0, 0.0, 0.01, 0.9, 1.0, 1.05])
    assert estimate_num_speakers(values, 1, 5) == 3
    assert estimate_num_speakers(values, 1, 2) == 2
    assert estimate_num_speakers(values, 4, 5) == 4
    x = embeddings()
    assert connectivity(normalise_rows(x[[0, 1, 4, 8]])) > 0.99 and connectivity(normalise_rows(x)) < 0.5
    assert relabel_by_appearance(np.array([5, 5, 2, 7, 2])).tolist() == [0, 0, 1, 2, 1]
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [0.0, 0.1]])
    assert kmeans(pts, 2).tolist() == [0, 0, 1, 1, 0]


def test_permutation_of_the_input_permutes_the_clusters():
    x = embeddings()
    order = np.random.default_rng(7).permutation(len(TRUTH))
    labels = cluster(x[order], ClusterOptions(num_speakers=3))
    truth = np.array(TRUTH)[order]
    # same partition: two items share a label exactly when they share a speaker
    assert (labels[:, None] == labels[None, :]).tolist() == (truth[:, None] == truth[None, :]).tolist()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "kmeans"}, "clustering method must be one of ['spectral', 'agglomerative'], got 'kmeans'"),
        ({"method": "agglomerative"}, "agglomerative clustering needs num_speakers or a distance threshold"),
        ({"min_speakers": 3, "max_speakers": 2}, "need 1 <= min_speakers <= max_speakers"),
        ({"num_speakers": 0}, "num_speakers must be >= 1 or None, got 0"),
        ({"threshold": 2.5}, "threshold is a cosine distance in (0, 2), got 2.5"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError) as e:
        ClusterOptions(**kwargs)
    assert message in str(e.value)


def test_bad_embeddings():
    x = embeddings()
    x[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        cluster(x)


def test_nme_choice_of_neighbours():
    # 30 rows, 10 per speaker: the chosen share keeps at least NME_MIN_NEIGHBOURS neighbours
    truth = TRUTH * 2 + [0, 1, 2, 2, 1, 0]
    x = normalise_rows(embeddings(truth))
    p = nme_pruning(x, 1, 8)
    assert np.ceil(p * 30) >= 5 and p in NME_PRUNING
    assert nme_pruning(x[:3], 1, 8) == NME_PRUNING[-1]  # too few rows for the floor: the largest share
    assert cluster(x, ClusterOptions(pruning=p)).tolist() == truth
    # an unbalanced pair (25 + 5): the minor speaker is still found, known number or not
    truth = [0] * 12 + [1] * 5 + [0] * 13
    for options in (ClusterOptions(), ClusterOptions(num_speakers=2)):
        assert cluster(embeddings(truth, seed=3), options).tolist() == truth
