"""ESPnet model-zoo archives of a trained TS-DIA model: pack, check and unpack.

Packing (:func:`pack_model`) writes the zip through ESPnet's
``espnet2.main_funcs.pack_funcs.pack``, so espnet_model_zoo reads it like any ESPnet model::

    meta.yaml                          files: {model_file: ...}, yaml_files: {train_config: ...}
    exp/<name>/config.yaml             the training config; normalize_conf.stats_file rewritten
                                       to the packed statistics below
    exp/<name>/model.pth               the (averaged) model's state dict
    exp/<name>/feats_stats.npz         feature statistics of GlobalMVN (when the config has them)
    exp/<name>/RESULTS.md              scores (optional), and any extra files given
    exp/<name>/spk/config.yaml         with ``spk_model``: the speaker-embedding model of the
    exp/<name>/spk/model.pth           first pass (meta.yaml keys spk_train_config, spk_model_file)
    exp/<name>/decode.yaml             with ``inference_config``: the decode options (post-processing,
                                       first pass) diarize uses by default (meta.yaml key inference_config)

The files are staged in a temporary folder under these names before ``pack`` is called from
there: ``pack`` stores paths relative to the working directory, and ESPnet's unpacker rewrites
a path inside config.yaml only when it equals an archive member name exactly, so the staging
is what makes the unpacked config point at the unpacked statistics.

Unpacking (:func:`unpack_model`) accepts a local zip or a model-zoo tag. Before anything is
written, the archive is checked (:func:`check_model_archive`): a readable zip whose members'
CRCs match, no member that is absolute, contains ``..``, or is a symbolic link (it could escape
the unpack folder: "zip slip"), and a ``meta.yaml`` naming a ``train_config`` and a
``model_file`` that are members. Then espnet_model_zoo's ``ModelDownloader`` unpacks it into a
cache folder keyed by the archive's SHA-256, so a re-packed model at the same path is never
served from a stale cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

PathLike = Union[str, Path]
logger = logging.getLogger(__name__)

#: meta.yaml keys of the two files a TS-DIA archive must have
CONFIG_KEY = "train_config"
MODEL_KEY = "model_file"
DEFAULT_CACHE = Path("~/.cache/espnet2_tsdia")


class ModelArchiveError(ValueError):
    """A model archive that cannot be used: corrupt, unsafe or incomplete (the message says which)."""


# ----------------------------------------------------------------------------- packing
def _stats_file(config: Mapping[str, Any]) -> Optional[str]:
    conf = config.get("normalize_conf")
    if isinstance(conf, Mapping) and conf.get("stats_file"):
        return str(conf["stats_file"])
    return None


def _declared_stats(config: Mapping[str, Any], train_config: PathLike) -> Optional[Path]:
    """The statistics file a config names (resolved against the current folder, then the
    config's folder), or None when it names none.

    Raises:
        FileNotFoundError: it names one that is in neither place.
    """
    declared = _stats_file(config)
    if declared is None:
        return None
    path = Path(declared)
    candidates = [path] if path.is_absolute() else [path, Path(train_config).parent / path]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"{train_config}: normalize_conf.stats_file {declared!r} not found; pass stats_file=")
    return found


def _with_frontend_conf(config: Dict[str, Any], train_config: PathLike, frontend_conf: Optional[PathLike]) -> None:
    """Write the yaml ``frontend_conf`` into a config without a frontend (models on stored features)."""
    from espnet2_tsdia.inference.model_files import read_train_config

    if frontend_conf is None:
        return
    fconf = read_train_config(frontend_conf, what="frontend config")
    if config.get("frontend"):
        logger.warning(
            "%s has a frontend (%s); --frontend_conf %s is not packed", train_config, config["frontend"], frontend_conf
        )
    else:
        config["frontend_conf"] = fconf


@dataclass
class _Member:
    """A file to pack: where it comes from, its name under ``exp/<name>/``, its meta.yaml key
    (None: an extra file) and whether it is a yaml file (ESPnet rewrites paths inside those)."""

    source: Optional[Path]
    name: str
    key: Optional[str] = None
    yaml_config: Optional[Dict[str, Any]] = None


def _model_members(
    config: Dict[str, Any],
    train_config: PathLike,
    model_file: PathLike,
    stats_file: Optional[PathLike],
    *,
    prefix: str,
    keys,
) -> List[_Member]:
    """Config, weights and statistics of one model, its config's stats path pointing at the packed copy."""
    from espnet2_tsdia.inference.model_files import load_state_dict

    load_state_dict(model_file)  # refuse to ship a file that would not load
    stats = Path(stats_file) if stats_file is not None else _declared_stats(config, train_config)
    members = [_Member(Path(model_file), prefix + "model.pth", keys[1])]
    if stats is not None:
        members.append(_Member(stats, prefix + "feats_stats.npz"))
    members.append(_Member(None, prefix + "config.yaml", keys[0], config))
    return members


def _folder(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def _write_archive(members: Sequence[_Member], rel: Path, outpath: Path) -> None:
    """Stage ``members`` under ``<tmp>/<rel>`` and write the zip with ESPnet's ``pack``."""
    import yaml
    from espnet2.main_funcs.pack_funcs import pack

    for m in members:
        if m.source is not None and not m.source.is_file():
            raise FileNotFoundError(f"no such file to pack: {m.source}")
    names = [m.name for m in members]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two packed files would be named {twice[0]!r}")
    stats_of = {_folder(m.name): m.name for m in members if m.name.endswith("feats_stats.npz")}
    with tempfile.TemporaryDirectory(prefix="tsdia_pack_") as tmp:
        stage = Path(tmp) / rel
        files: Dict[str, str] = {}
        yaml_files: Dict[str, str] = {}
        options: List[str] = []
        for m in members:
            target = stage / m.name
            target.parent.mkdir(parents=True, exist_ok=True)
            member = str(rel / m.name)
            if m.yaml_config is not None:
                if _folder(m.name) in stats_of:
                    m.yaml_config.setdefault("normalize_conf", {})["stats_file"] = str(rel / stats_of[_folder(m.name)])
                target.write_text(yaml.safe_dump(m.yaml_config, sort_keys=False), encoding="utf-8")
            else:
                shutil.copyfile(m.source, target)
            if m.key is None:
                options.append(member)
            elif m.yaml_config is not None:
                yaml_files[m.key] = member
            else:
                files[m.key] = member
        outpath.parent.mkdir(parents=True, exist_ok=True)
        # pack() stores paths relative to the working directory and prints every member.
        with contextlib.chdir(tmp), contextlib.redirect_stdout(io.StringIO()) as printed:
            pack(files=files, yaml_files=yaml_files, option=options, outpath=str(outpath))
        for line in printed.getvalue().splitlines():
            logger.debug("pack: %s", line)


def pack_model(
    *,
    train_config: PathLike,
    model_file: PathLike,
    outpath: PathLike,
    stats_file: Optional[PathLike] = None,
    results_md: Optional[PathLike] = None,
    extra_files: Iterable[PathLike] = (),
    name: Optional[str] = None,
    frontend_conf: Optional[PathLike] = None,
    spk_model: Optional[PathLike] = None,
    inference_config: Optional[PathLike] = None,
) -> Path:
    """Write a model-zoo zip of a trained model (layout in the module docstring).

    Args:
        train_config: the training's config.yaml.
        model_file: the model state dict to ship (e.g. ``valid.loss.ave.pth``).
        outpath: the zip to write (must end in ``.zip``).
        stats_file: feature statistics; default the config's ``normalize_conf.stats_file``
            (resolved against the current folder, then the config's folder).
        results_md: a RESULTS.md to include.
        extra_files: more files, stored next to the others under their base names.
        name: the folder under ``exp/`` (default: the model file's folder name).
        frontend_conf: for a model trained on stored features (``frontend: null``), a yaml of
            the TSDiaFbankFrontend arguments they were extracted with (the recipe's
            ``conf/fbank.yaml``); written into the packed config's ``frontend_conf``, which
            the task ignores without a frontend and inference uses to compute the features.
        spk_model: a speaker-embedding training dir (``spk_train``'s output: config.yaml and
            ``valid.eer.best.pth`` or another of ``SPK_MODEL_FILES``), packed under
            ``exp/<name>/spk/`` with meta.yaml keys ``spk_train_config`` / ``spk_model_file``:
            the archive then diarizes without enrollment (the first pass).
        inference_config: a decode yaml (tsdia_inference option names: threshold,
            median_filter, min_speech, min_silence, clustering, cluster_threshold, iterations,
            ...), typically the one chosen on the validation set; packed as ``decode.yaml``
            with meta.yaml key ``inference_config``, read by ``diarize`` as its defaults.

    Returns:
        ``outpath``.

    Raises:
        FileNotFoundError: a listed file is missing. ValueError: bad outpath or config.
    """
    from espnet2_tsdia.inference.model_files import (
        INFERENCE_CONFIG_KEY,
        SPK_CONFIG_KEY,
        SPK_MODEL_KEY,
        read_inference_config,
        read_train_config,
        speaker_model_dir_files,
    )

    outpath = Path(outpath).absolute()
    if outpath.suffix != ".zip":
        raise ValueError(f"outpath must end in .zip, got {outpath}")
    name = name or Path(model_file).resolve().parent.name or "model"
    if "/" in name or name in (".", ".."):
        raise ValueError(f"name must be a plain folder name, got {name!r}")
    config = read_train_config(train_config)
    _with_frontend_conf(config, train_config, frontend_conf)
    members = _model_members(config, train_config, model_file, stats_file, prefix="", keys=(CONFIG_KEY, MODEL_KEY))
    if spk_model is not None:
        spk_config_file, spk_model_file = speaker_model_dir_files(spk_model)
        spk_config = read_train_config(spk_config_file, what="speaker-model config")
        members += _model_members(
            spk_config, spk_config_file, spk_model_file, None, prefix="spk/", keys=(SPK_CONFIG_KEY, SPK_MODEL_KEY)
        )
    if inference_config is not None:
        read_inference_config({INFERENCE_CONFIG_KEY: str(inference_config)})  # refuse one that would not load
        members.append(_Member(Path(inference_config), "decode.yaml", INFERENCE_CONFIG_KEY))
    if results_md is not None:
        members.append(_Member(Path(results_md), "RESULTS.md"))
    members += [_Member(Path(p), Path(p).name) for p in extra_files]
    _write_archive(members, Path("exp") / name, outpath)
    check_model_archive(outpath)
    logger.info("packed %s (%d bytes)", outpath, outpath.stat().st_size)
    return outpath


# ----------------------------------------------------------------------------- checking
def _unsafe_member(info: zipfile.ZipInfo) -> Optional[str]:
    """Why a member could write outside the unpack folder, or None when it is safe."""
    name = info.filename
    if "\\" in name:
        return "contains a backslash"
    p = PurePosixPath(name)
    if p.is_absolute() or (p.parts and ":" in p.parts[0]):
        return "is an absolute path"
    if ".." in p.parts:
        return "contains '..'"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def check_model_archive(path: PathLike) -> Dict[str, str]:
    """Check a model zip without unpacking it; returns meta.yaml's ``{key: member}`` files.

    Raises:
        ModelArchiveError: missing file, not a zip, a corrupt member (CRC), an unsafe member
            name (absolute, ``..``, backslash, symlink), no or a malformed meta.yaml, or a
            ``train_config`` / ``model_file`` entry that is missing or names no member.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ModelArchiveError(f"{p}: no such model archive")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            for info in infos:
                why = _unsafe_member(info)
                if why is not None:
                    raise ModelArchiveError(
                        f"{p}: refused: member {info.filename!r} {why} and could be written outside the unpack folder"
                    )
            bad = zf.testzip()
            if bad is not None:
                raise ModelArchiveError(f"{p}: corrupt archive: member {bad!r} fails its CRC check")
            names = {i.filename for i in infos}
            metas = [n for n in names if PurePosixPath(n).name == "meta.yaml"]
            if not metas:
                raise ModelArchiveError(f"{p}: not a model archive: no meta.yaml (write one with pack_model)")
            meta_name = min(metas, key=len)
            try:
                meta = yaml.safe_load(zf.read(meta_name))
            except yaml.YAMLError as e:
                raise ModelArchiveError(f"{p}: {meta_name} is not valid YAML ({' '.join(str(e).split())})") from None
    except zipfile.BadZipFile as e:
        raise ModelArchiveError(f"{p}: not a valid zip archive ({e})") from None
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError) as e:
        raise ModelArchiveError(f"{p}: cannot read the archive ({' '.join(str(e).split())})") from None
    if (
        not isinstance(meta, dict)
        or not isinstance(meta.get("files"), dict)
        or not isinstance(meta.get("yaml_files"), dict)
    ):
        raise ModelArchiveError(f"{p}: {meta_name} must map 'files' and 'yaml_files' to dicts, got {meta!r:.200}")
    files: Dict[str, str] = {**meta["yaml_files"], **meta["files"]}
    for key in (CONFIG_KEY, MODEL_KEY):
        if key not in files:
            raise ModelArchiveError(
                f"{p}: {meta_name} has no {key!r} entry (keys: {sorted(files)}); is this a TS-DIA model archive?"
            )
    for key, member in files.items():
        if not isinstance(member, str) or member not in names:
            raise ModelArchiveError(f"{p}: {meta_name} names {key}={member!r}, which is not in the archive")
    return files


def file_sha256(path: PathLike, *, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- unpacking
def unpack_model(model_tag: PathLike, *, cachedir: Optional[PathLike] = None) -> Dict[str, str]:
    """Unpack a model zip (local path) or a model-zoo tag; returns meta.yaml's files as paths
    (at least ``train_config`` and ``model_file``).

    A local zip is checked (:func:`check_model_archive`) and unpacked by
    ``ModelDownloader.download_and_unpack`` into ``<cachedir>/<sha256[:16]>/``. Anything else that
    does not look like a path (``user/model_name``, a URL) is a model-zoo tag: it is downloaded by
    ``ModelDownloader.download`` (this needs a network), checked the same way, then unpacked. A
    missing file that looks like a path (``*.zip``, absolute, ``./...``) is reported as missing.

    Raises:
        ModelArchiveError: the archive fails the checks, or the tag cannot be fetched.
    """
    root = Path(cachedir if cachedir is not None else DEFAULT_CACHE).expanduser()
    local = Path(model_tag)
    if local.is_file():
        archive = local.absolute()
    elif str(model_tag).endswith((".zip", ".tar.gz", ".tgz")) or local.is_absolute() or str(model_tag).startswith("."):
        raise ModelArchiveError(f"{model_tag}: no such model archive")
    else:
        downloads = root / "downloads"
        fetched = _download(str(model_tag), downloads)
        if fetched.is_dir():  # a Hugging Face snapshot: the hub client has already unpacked it
            return _hub_files(str(model_tag), downloads)
        archive = fetched
    check_model_archive(archive)
    return _unpack_checked(archive, root / file_sha256(archive)[:16])


def _downloader(cachedir: Path):
    import warnings

    from espnet_model_zoo.downloader import ModelDownloader

    cachedir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ModelDownloader(cachedir=cachedir)


def _download(tag: str, cachedir: Path) -> Path:
    try:
        path = Path(_downloader(cachedir).download(tag, quiet=True))
    except Exception as e:  # network, unknown tag, zenodo/huggingface errors
        raise ModelArchiveError(f"cannot fetch model tag {tag!r}: {' '.join(str(e).split())[:300]}") from None
    if not path.exists():
        raise ModelArchiveError(f"model tag {tag!r} gave no file (expected a zip archive, got {path})")
    return path


def _hub_files(tag: str, cachedir: Path) -> Dict[str, str]:
    """meta.yaml's files of a downloaded Hugging Face snapshot, checked to lie inside ``cachedir``."""
    try:
        files = {k: str(v) for k, v in _downloader(cachedir).download_and_unpack(tag, quiet=True).items()}
    except Exception as e:
        raise ModelArchiveError(f"cannot unpack model tag {tag!r}: {' '.join(str(e).split())[:300]}") from None
    for key in (CONFIG_KEY, MODEL_KEY):
        if key not in files:
            raise ModelArchiveError(f"model tag {tag!r}: its meta.yaml has no {key!r} entry (keys: {sorted(files)})")
    root = cachedir.resolve()
    for key, value in files.items():
        if not Path(value).resolve().is_relative_to(root):
            raise ModelArchiveError(f"model tag {tag!r}: {key} at {value} lies outside {root}")
    return files


def _unpack_checked(archive: Path, outdir: Path) -> Dict[str, str]:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Expanding a local model to the cachedir"
            files = _downloader(outdir).download_and_unpack(str(archive))
    except Exception as e:  # the zoo's unpacker raises assorted types on malformed archives
        raise ModelArchiveError(f"{archive}: cannot unpack ({' '.join(str(e).split())[:300]})") from None
    out = {k: str(v) for k, v in files.items()}
    root = outdir.resolve()
    for key, value in out.items():
        if not Path(value).resolve().is_relative_to(root):
            raise ModelArchiveError(f"{archive}: unpacked {key} at {value}, outside {root}")
    return out
