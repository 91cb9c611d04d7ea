import pytest
import torch

from hdys.config import ABLATIONS, Config, apply_overrides
from hdys.model import HDyS, parameter_counts
from hdys.model.blocks import PointSetEncoder


def test_point_encoder_ignores_order_and_padding():
    torch.manual_seed(0)
    enc = PointSetEncoder(9, 32, 2, 2).eval()
    x = torch.randn(4, 7, 9)
    valid = torch.ones(4, 7, dtype=torch.bool)
    z, _ = enc(x, valid)
    perm = torch.randperm(7)
    z_perm, _ = enc(x[:, perm], valid[:, perm])
    torch.testing.assert_close(z, z_perm, atol=1e-5, rtol=1e-5)
    padded = torch.cat([x, torch.randn(4, 3, 9) * 100], 1)  # garbage in padded slots
    z_pad, _ = enc(padded, torch.cat([valid, torch.zeros(4, 3, dtype=torch.bool)], 1))
    torch.testing.assert_close(z, z_pad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_point_encoder_without_tokens_gives_the_same_latent(layers):
    """The summary-only last layer computes the latent the full encoder computes, gradients included."""
    torch.manual_seed(0)
    enc = PointSetEncoder(9, 32, layers, 2).double()  # float64: equal to rounding, not to float32's 1e-5
    x = torch.randn(5, 11, 9, dtype=torch.float64)
    valid = torch.rand(5, 11) > 0.3
    valid[:, 0] = True
    z_full, tokens = enc(x, valid)
    z_fast, none = enc(x, valid, tokens=False)
    assert tokens.shape == (5, 11, 32) and none is None
    torch.testing.assert_close(z_fast, z_full, atol=1e-12, rtol=1e-10)
    g_full = torch.autograd.grad(z_full.square().sum(), list(enc.parameters()))
    g_fast = torch.autograd.grad(z_fast.square().sum(), list(enc.parameters()))
    for a, b in zip(g_full, g_fast):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


def test_default_parameter_count_matches_the_papers_scale():
    cfg = Config()
    cfg.model.muscle_names = [f"m{i}" for i in range(402)]
    cfg.model.emg_names = [f"e{i}" for i in range(8)]
    total = sum(parameter_counts(HDyS(cfg.model)).values())
    assert 2.5e6 < total < 4.5e6  # paper Table 7: 3.9M
    cfg64 = apply_overrides(cfg, ["model.latent_dim=64"])
    assert sum(parameter_counts(HDyS(cfg64.model)).values()) < total / 2  # paper: 1.4M


def _batch(corpus_path, cfg):
    from conftest import make_batch
    return make_batch(corpus_path, cfg, 16)


@pytest.mark.parametrize("variant", sorted(ABLATIONS))
def test_every_variant_trains_one_step(synth_corpus, variant):
    from conftest import tiny_config
    cfg = apply_overrides(tiny_config(), ABLATIONS[variant])
    if variant.startswith("latent"):
        cfg.model.encoder_hidden = (64, 32)
    batch = _batch(synth_corpus, cfg)
    torch.manual_seed(0)
    model = HDyS(cfg.model)
    loss, logs = model(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert ("align" in logs) == cfg.model.use_align
    assert any(k.startswith("fd/") for k in logs) == cfg.model.use_fdae
    assert (model.temporal is None) == (not cfg.model.use_temporal)
    assert any(k.startswith("id/markers->") for k in logs)
    assert "id/joint_angles->torque_rajagopal" in logs and "id/smpl->torque_smpl" in logs
    grads = [p.grad for p in model.encoders.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_predictions_have_every_head(synth_corpus):
    from conftest import tiny_config
    cfg = tiny_config()
    batch = _batch(synth_corpus, cfg)
    model = HDyS(cfg.model)
    preds = model.predict(batch)
    assert set(preds) == set(batch["kin"])
    B_markers = batch["kin"]["markers"]["x"].shape[0]
    assert preds["markers"]["torque_smpl"].shape == (B_markers, 16, 69)
    assert preds["markers"]["muscle_activation"].shape[-1] == len(cfg.model.muscle_names) == 4


def test_config_errors_quote_the_value():
    with pytest.raises(ValueError, match="latent_dim.*-5"):
        apply_overrides(Config(), ["model.latent_dim=-5"])
    with pytest.raises(ValueError, match="unknown field 'model.latnet_dim'"):
        apply_overrides(Config(), ["model.latnet_dim=64"])
    with pytest.raises(ValueError, match="expected true/false"):
        apply_overrides(Config(), ["model.use_fdae=maybe"])
    cfg = apply_overrides(Config(), ["train.window=16", "model.use_align=false"])
    assert cfg.train.window == 16 and cfg.model.use_align is False
    assert Config.from_json(cfg.to_json()) == cfg


def test_balanced_reconstruction_gives_every_dynamics_type_the_same_weight():
    from hdys.model.hdys import combine_terms
    t = lambda v: torch.tensor(float(v), requires_grad=True)  # noqa: E731
    terms = [("torque", t(1)), ("torque", t(1)), ("torque", t(1)), ("emg", t(4))]
    assert float(combine_terms(terms, "sum")) == 7.0
    balanced = combine_terms(terms, "dynamics")
    assert float(balanced) == pytest.approx(4 * (1 + 4) / 2)  # total weight 4 terms, half each group
    balanced.backward()
    grads = [float(x.grad) for _, x in terms]
    assert grads[3] == pytest.approx(sum(grads[:3])) == pytest.approx(2.0)


def test_the_correlation_term_has_a_finite_gradient_for_a_constant_prediction():
    """The mean predictor's output does not change over a window (zero spread): its gradient stays finite
    (sqrt at 0 made it NaN, which stopped the mean-predictor row of `hdys experiment table1`)."""
    from hdys.model.hdys import _masked_decorrelation
    torch.manual_seed(0)
    y = torch.randn(2, 16, 3)
    c = torch.zeros(3, requires_grad=True)
    term = _masked_decorrelation(c.expand(2, 16, 3), y, torch.ones_like(y, dtype=torch.bool))
    term.backward()
    assert float(term) == pytest.approx(1.0) and torch.isfinite(c.grad).all()


def test_the_correlation_term_scores_shape_not_scale_and_skips_resting_channels():
    from hdys.model.hdys import _masked_decorrelation, reconstruction_terms
    torch.manual_seed(0)
    y = torch.randn(3, 32, 4)
    valid = torch.ones_like(y, dtype=torch.bool)
    assert float(_masked_decorrelation(2.5 * y - 1.0, y, valid)) == pytest.approx(0.0, abs=1e-5)
    assert float(_masked_decorrelation(-y, y, valid)) == pytest.approx(2.0, abs=1e-5)
    resting = y.clone()
    resting[..., 0] = 0.01 * resting[..., 0]  # a channel that barely moves: left out, whatever is predicted there
    pred = y.clone()
    pred[..., 0] = torch.randn(3, 32)
    assert float(_masked_decorrelation(pred, resting, valid)) == pytest.approx(0.0, abs=1e-5)
    # ... unless the floor is below its spread (~0.01): then its windows count, and a random prediction costs
    assert float(_masked_decorrelation(pred, resting, valid, min_std=0.002)) > 0.15
    assert _masked_decorrelation(pred, torch.zeros_like(y), valid) is None
    # invalid frames are outside the statistics: garbage there changes nothing
    valid[:, 20:] = False
    junk = pred.clone()
    junk[:, 20:] = 1e3
    assert float(_masked_decorrelation(junk, y, valid)) == pytest.approx(float(_masked_decorrelation(pred, y, valid)))
    # in the loss: only the dynamics judged by PCC get the term
    batch = {"kin": {"markers": {"idx": torch.arange(3)}},
             "dyn": {d: {"idx": torch.arange(3), "y": y, "valid": torch.ones_like(valid)} for d in ("emg", "grf")}}
    preds = {"markers": {"emg": -y, "grf": -y}}
    plain = dict(reconstruction_terms(preds, batch, {}))
    logs: dict = {}
    with_corr = dict(reconstruction_terms(preds, batch, logs, corr_weight=0.5))
    assert float(with_corr["emg"] - plain["emg"]) == pytest.approx(0.5 * 2.0, abs=1e-4)
    assert float(with_corr["grf"]) == float(plain["grf"]) and logs["corr/markers->emg"] == pytest.approx(-1.0, abs=1e-5)
    # the floor reaches the term: a resting channel predicted at random counts only under a low floor
    batch["dyn"]["emg"]["y"] = resting
    preds = {"markers": {"emg": pred}}
    high = dict(reconstruction_terms(preds, batch, {}, corr_weight=1.0))["emg"]
    low = dict(reconstruction_terms(preds, batch, {}, corr_weight=1.0, corr_min_std=0.002))["emg"]
    assert float(low - high) > 0.15


GOLDEN_LOSS = 0.27692348  # computed at commit cb2b99d (torch 2.13 CPU)


def test_the_first_loss_under_a_fixed_seed_is_unchanged(synth_corpus):
    """A golden value: the tiny model's loss on the fixture batch, seed 0. A change to the model, the features,
    the normalisation or the loss that moves it must be deliberate (update the number and say why)."""
    from conftest import tiny_config
    cfg = tiny_config()
    batch = _batch(synth_corpus, cfg)
    torch.manual_seed(0)
    loss, _ = HDyS(cfg.model)(batch)
    assert float(loss) == pytest.approx(GOLDEN_LOSS, rel=1e-4)


def test_alignment_of_all_pairs_at_once_equals_the_loss_pair_by_pair():
    """The batched InfoNCE (one product for all latent pairs) against Eq. 3 computed pair by pair on the same
    frames: the common windows' frames of the pair on the grid every fd_frame_stride-th frame."""
    import torch.nn.functional as F
    from hdys.model.hdys import common
    torch.manual_seed(0)
    cfg = Config().model
    cfg.latent_dim, cfg.fd_frame_stride, cfg.align_max_frames = 8, 2, 1000
    model = HDyS(cfg)
    T, s = 6, cfg.fd_frame_stride
    layout = [([0, 1, 2], 1), ([1, 2, 4], 1), ([0, 4], s), ([3], 1), ([2, 3, 4], s)]  # (windows, stride)
    latents = [(torch.tensor(w), torch.randn(len(w), -(-T // st), 8, requires_grad=True), st) for w, st in layout]
    got = model._align(latents)
    terms = []
    for i in range(len(latents)):
        for j in range(i + 1, len(latents)):
            (ia_idx, za, sa), (ib_idx, zb, sb) = latents[i], latents[j]
            ia, ib = common(ia_idx, ib_idx)
            za, zb = za[ia][:, :: s // sa].flatten(0, 1), zb[ib][:, :: s // sb].flatten(0, 1)
            if za.shape[0] < 2:
                continue
            logits = F.normalize(za, dim=-1) @ F.normalize(zb, dim=-1).T / cfg.temperature
            labels = torch.arange(za.shape[0])
            terms.append(0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)))
    want = torch.stack(terms).mean()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    g_got = torch.autograd.grad(got, [z for _, z, _ in latents])
    g_want = torch.autograd.grad(want, [z for _, z, _ in latents])
    for x, y in zip(g_got, g_want):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)
