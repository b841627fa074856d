"""Command-line options of the first pass, shared by ``diarize`` and ``tsdia_inference``.

Light on purpose (no torch): the tools parse and check their options before loading a model.
"""

from __future__ import annotations

from espnet2_tsdia.firstpass.cluster import ClusterOptions
from espnet2_tsdia.firstpass.pipeline import FirstPassOptions


def add_first_pass_arguments(parser) -> None:
    """The first-pass options shared by ``diarize`` and ``tsdia_inference``."""
    group = parser.add_argument_group("first pass (no enrollment)")
    group.add_argument(
        "--spk_model",
        default=None,
        help="speaker-embedding model: a spk_train dir, a zip, or a model-zoo tag (default: the one packed with the model)",
    )
    group.add_argument(
        "--num_speakers", type=int, default=None, help="the known number of speakers (default: estimate)"
    )
    group.add_argument("--min_speakers", type=int, default=1, help="fewest speakers the estimate may give")
    group.add_argument("--max_speakers", type=int, default=8, help="most speakers the estimate may give")
    group.add_argument(
        "--clustering", choices=["spectral", "agglomerative"], default="spectral", help="clustering of the embeddings"
    )
    group.add_argument(
        "--cluster_threshold", type=float, default=None, help="agglomerative: cosine distance that stops merging"
    )
    group.add_argument(
        "--iterations", type=int, default=0, help="refinements: TS-DIA output -> new enrollment regions -> TS-DIA"
    )


def first_pass_options(args) -> FirstPassOptions:
    """:class:`FirstPassOptions` from the options of :func:`add_first_pass_arguments`."""
    if args.iterations < 0:
        raise ValueError(f"--iterations must be >= 0, got {args.iterations}")
    clustering = ClusterOptions(
        method=args.clustering,
        num_speakers=args.num_speakers,
        min_speakers=args.min_speakers,
        max_speakers=args.max_speakers,
        threshold=args.cluster_threshold,
    )
    return FirstPassOptions(clustering=clustering)
