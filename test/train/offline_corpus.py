"""A tiny simulated conversation set from the offline speech corpus, as TS-DIA example dirs
with stored features (the path tsdia.sh takes: simulate -> make_tsdia_examples ->
extract_feats), for end-to-end training tests."""

import sys
from pathlib import Path
from typing import Dict, List

SPEAKERS = ["en_allison", "fr_armelle", "it_carlo", "flite_slt"]


def build_offline_sets(root: Path, *, n_train: int = 6, n_valid: int = 3) -> Dict[str, Path]:
    """Returns {"train": example dir, "valid": example dir}; raises pytest.skip when the speech
    packages are not installed."""
    import pytest

    from espnet2_tsdia.corpora.offline_speech import available_sources, prepare_offline_speech
    from espnet2_tsdia.examples.example_dir import ExampleDirOptions, make_example_dir
    from espnet2_tsdia.examples.features import extract_example_dir
    from espnet2_tsdia.simulate.config import SimulationConfig
    from espnet2_tsdia.simulate.generate import generate_set

    missing = [s for s in SPEAKERS if s not in available_sources()]
    if missing:
        pytest.skip(f"offline speech sources not installed: {missing} (tools/install.sh)")
    report = prepare_offline_speech(root / "db", sources=SPEAKERS, max_seconds_per_speaker=15)
    out = {}
    for name, n, seed in (("train", n_train, 1), ("valid", n_valid, 2)):
        cfg = SimulationConfig(
            name=name,
            num_conversations=n,
            speaker_counts=((2, 1.0),),
            min_utts=2,
            max_utts=3,
            overlap_range=(0.0, 0.5),
            seed=seed,
        )
        data_dir = root / name
        generate_set(cfg, report.data_dir, data_dir, python=sys.executable)
        ex = data_dir / "tsdia"
        make_example_dir(
            data_dir, ex, ExampleDirOptions(chunk_frames=60, chunk_hop=30), mixture_scp=data_dir / "mixture.scp"
        )
        extract_example_dir(ex)
        out[name] = ex
    return out


def offline_data_args(sets: Dict[str, Path]) -> List[str]:
    args = []
    for split, fixed in (("train", ""), ("valid", "_fixed")):
        d = sets[split]
        args += [
            f"--{split}_data_path_and_name_and_type",
            f"{d}/chunks,speech,tsdia_feats",
            f"--{split}_data_path_and_name_and_type",
            f"{d}/chunks,enroll,tsdia_enroll_feats{fixed}",
            f"--{split}_data_path_and_name_and_type",
            f"{d}/chunks,labels,tsdia_labels",
            f"--{split}_shape_file",
            f"{d}/chunks.shape",
        ]
    return args
