"""Short training on simulated conversations of the offline speech corpus, every model type x
attention type: validation loss falls, and the n-best averaged model loads back."""

import pytest
import torch

from test.train.offline_corpus import build_offline_sets, offline_data_args
from test.train.tiny_data import write_config


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    return build_offline_sets(tmp_path_factory.mktemp("offline"))


def config(model_type, attention):
    stack = dict(d_model=32, num_layers=1, num_heads=2, d_ff=2.0, dropout=0.0)
    if attention == "linear":
        stack.update(nb_features=16, feature_redraw_interval=5)
    cfg = dict(
        frontend=None,
        input_size=345,
        model_type=model_type,
        label_scheme="powerset",
        batch_type="unsorted",
        batch_size=12,
        max_epoch=3,
        optim="adam",
        optim_conf={"lr": 0.003},
        keep_nbest_models=2,
        num_workers=0,
        use_matplotlib=False,
        use_tensorboard=False,
        seed=0,
        log_interval=50,
    )
    if model_type in ("encoder", "encoder_decoder"):
        cfg["encoder_conf"] = dict(stack, attention_type=attention)
    if model_type in ("decoder", "encoder_decoder"):
        cfg["decoder_conf"] = dict(stack, attention_type="causal_linear" if attention == "linear" else "softmax")
    return cfg


@pytest.mark.parametrize("attention", ["softmax", "linear"])
@pytest.mark.parametrize("model_type", ["encoder", "decoder", "encoder_decoder"])
def test_short_run_lowers_validation_loss(model_type, attention, sets, tmp_path):
    from espnet2_tsdia.tasks.tsdia import TSDiarizationTask

    conf = write_config(tmp_path / "c.yaml", config(model_type, attention))
    out = tmp_path / "exp"
    TSDiarizationTask.main(cmd=["--config", str(conf), "--output_dir", str(out), *offline_data_args(sets)])
    stats = torch.load(out / "checkpoint.pth", weights_only=False)["reporter"]["stats"]
    losses = [stats[r]["valid"]["loss"] for r in sorted(stats)]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    model, args = TSDiarizationTask.build_model_from_file(out / "config.yaml", out / "valid.loss.ave.pth", "cpu")
    assert args.model_type == model_type
    avg = torch.load(out / "valid.loss.ave_2best.pth")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in avg.items())
