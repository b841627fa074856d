#!/usr/bin/env python3
"""Choose the decode options (threshold, median filter, min speech/silence) on a validation set.

Usage:
    # the grid search on a validation set's posteriors; writes best.yaml for tsdia_inference
    python -m espnet2_tsdia.bin.tune_decode --posteriors exp/tsdia/decode_dev/posteriors.scp \\
        --ref dump/dev/rttm --grid conf/decode_search.yaml --base_config conf/decode.yaml \\
        --train_config exp/tsdia/config.yaml --out_dir exp/tsdia/decode_search
    # the posteriors come from one tsdia_inference run on the validation set (any enrollment source)
    python -m espnet2_tsdia.bin.tsdia_inference --train_config exp/tsdia/config.yaml \\
        --model_file exp/tsdia/valid.loss.ave.pth --output_dir exp/tsdia/decode_dev \\
        --data_path_and_name_and_type dump/dev/wav.scp,speech,sound \\
        --data_path_and_name_and_type dump/dev/rttm,rttm,rttm

The grid yaml lists values per option (``threshold: [0.3, 0.4, 0.5]``, ``median_filter``,
``min_speech``, ``min_silence``; options it leaves out keep the base config's value). Writes in
``--out_dir``: ``best.yaml`` (the base config with the chosen options, and a header saying where
they come from), ``search.tsv`` (every candidate's frame errors, best first) and ``RESULTS.md``
(the best candidates, and the chosen one's DER through pyannote). See
:mod:`espnet2_tsdia.tune.decode`. Never give it a test set.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import List, Optional

from espnet2_tsdia.utils import cli

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = cli.get_parser(__doc__, prog="tune_decode")
    parser.add_argument("--posteriors", required=True, help="posteriors.scp of tsdia_inference on the validation set")
    parser.add_argument("--ref", required=True, help="reference RTTM of the validation set")
    parser.add_argument("--grid", required=True, help="yaml: option -> list of values")
    parser.add_argument("--base_config", default=None, help="decode yaml whose other keys best.yaml keeps")
    parser.add_argument(
        "--train_config", default=None, help="config.yaml of the model (its label_scheme); default powerset"
    )
    parser.add_argument("--out_dir", required=True, help="where best.yaml, search.tsv and RESULTS.md go")
    parser.add_argument("--top", type=int, default=10, help="candidates listed in RESULTS.md")
    cli.add_log_level(parser)
    return parser


def _yaml(path: str, what: str) -> dict:
    import yaml

    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the {what} must be a mapping, got {type(data).__name__}")
    return data


def main(argv: Optional[List[str]] = None) -> int:
    parser = get_parser()
    args = parser.parse_args(argv)
    cli.setup_logging(args.log_level)
    for name in ("posteriors", "ref", "grid", "base_config", "train_config"):
        p = getattr(args, name)
        if p is not None and not Path(p).is_file():
            parser.error(f"--{name}: no such file: {p}")
    if args.top < 1:
        parser.error(f"--top must be >= 1, got {args.top}")

    import numpy as np
    import yaml

    from espnet2_tsdia.formats.errors import DataFormatError
    from espnet2_tsdia.formats.rttm import read_rttm
    from espnet2_tsdia.inference.postprocess import target_readout
    from espnet2_tsdia.scoring.der import score
    from espnet2_tsdia.tune.decode import DecodeGrid, decode_config, hypothesis_turns, read_posteriors, search

    try:
        grid = DecodeGrid.from_dict(_yaml(args.grid, "grid"), where=args.grid)
        base = _yaml(args.base_config, "decode config") if args.base_config else {}
        scheme = "powerset"
        if args.train_config:
            scheme = _yaml(args.train_config, "train config").get("label_scheme") or scheme
        posteriors = read_posteriors(args.posteriors)
        num_classes = {p.shape[1] for p in posteriors.values()}
        if len(num_classes) != 1:
            raise ValueError(f"{args.posteriors}: posteriors with different class counts {sorted(num_classes)}")
        readout = target_readout(scheme, num_classes.pop())
        ref = read_rttm(args.ref)
        if not ref:
            raise ValueError(f"{args.ref}: the reference has no SPEAKER line")
        trials = search(posteriors, ref, grid, readout)
    except (DataFormatError, ValueError, OSError) as e:
        return cli.fail(parser.prog, e)

    best = trials[0]
    der = score(ref, hypothesis_turns(posteriors, readout, best.options)).total
    default = next((t for t in trials if t.options == type(best.options)()), None)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Decode options chosen on {args.ref} (posteriors {args.posteriors}) by espnet2_tsdia.bin.tune_decode\n"
        f"# over {len(trials)} candidates of {args.grid}: frame error {100 * best.error:.2f} %, "
        f"DER {100 * (der.der or 0.0):.2f} % (collar 0, overlap scored)\n"
    )
    (out / "best.yaml").write_text(
        header + yaml.safe_dump(decode_config(base, best.options), sort_keys=False), encoding="utf-8"
    )
    cols = ("threshold", "median_filter", "min_speech", "min_silence")
    lines = ["\t".join(cols + ("error", "miss_frames", "fa_frames", "speech_frames"))]
    for t in trials:
        o = t.options
        lines.append(
            "\t".join(
                [f"{getattr(o, c):g}" for c in cols]
                + [f"{t.error:.6f}", str(t.miss), str(t.false_alarm), str(t.speech)]
            )
        )
    (out / "search.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    md = [
        "# Decode-option search",
        "",
        f"- validation set: `{args.ref}`; posteriors `{args.posteriors}`; grid `{args.grid}` ({len(trials)} candidates)",
        "- criterion: frame error (missed + false-alarm target frames / reference speech frames, 10 frames/s, "
        "collar 0, overlap scored, each target named after itself)",
        f"- chosen: {', '.join(f'{c} {getattr(best.options, c):g}' for c in cols)}: frame error "
        f"{100 * best.error:.2f} %, DER (pyannote, collar 0) {100 * (der.der or 0.0):.2f} % "
        f"(miss {100 * (der.miss_rate or 0.0):.2f} %, FA {100 * (der.false_alarm_rate or 0.0):.2f} %, "
        f"confusion {100 * (der.confusion_rate or 0.0):.2f} %)",
    ]
    if default is not None:
        md.append(f"- the defaults (threshold 0.5, no smoothing): frame error {100 * default.error:.2f} %")
    md += [
        "",
        "| threshold | median_filter | min_speech | min_silence | frame error % | miss % | FA % |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in trials[: args.top]:
        o = t.options
        md.append(
            f"| {o.threshold:g} | {o.median_filter} | {o.min_speech:g} | {o.min_silence:g} | {100 * t.error:.2f} "
            f"| {100 * t.miss / max(t.speech, 1):.2f} | {100 * t.false_alarm / max(t.speech, 1):.2f} |"
        )
    (out / "RESULTS.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    logger.info(
        "chose %s on %s: frame error %.2f %%, DER %.2f %% -> %s",
        best.options,
        args.ref,
        100 * best.error,
        100 * (der.der or np.nan),
        out / "best.yaml",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
