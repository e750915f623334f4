"""Chapter 08: BPTT by hand, gradient flow, memory over distance, clipping, a language model.

The studies are the notebook's own calls (same keys), so `make test` reads the results the
notebook stage kept; each claim also gets a made-up study that makes it fail.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.chapters import recurrent_networks as chapter

pytestmark = pytest.mark.slow

NAMES = ["ref", "flow", "recall", "clip", "lm", "duel", "sample"]
KEYS = dict(zip(NAMES, jax.random.split(jax.random.key(0), 7), strict=True))


@pytest.fixture(scope="module")
def flow():
    return chapter.gradient_flow(key=KEYS["flow"])


@pytest.fixture(scope="module")
def recall():
    return chapter.recall_study(key=KEYS["recall"])


@pytest.fixture(scope="module")
def clipping():
    return chapter.clipping_study(key=KEYS["clip"])


@pytest.fixture(scope="module")
def language():
    return chapter.language_study(key=KEYS["lm"])


# ------------------------------------------------------------------- BPTT


def test_hand_written_bptt_equals_jax_grad_and_finite_differences():
    ref = chapter.reference_check(key=KEYS["ref"])
    assert set(ref.max_rel_autodiff) == {"w_in", "w_rec", "b", "w_out", "b_out"}
    assert max(ref.max_rel_autodiff.values()) < ref.AUTODIFF_TOLERANCE
    assert max(ref.max_rel_numeric.values()) < ref.NUMERIC_TOLERANCE
    assert ref.loss_diff < 1e-12


def test_the_bptt_check_can_fail():
    """A backward pass without the path from the future (δ_{t+1} Uᵀ) fails both checks."""
    truncated = chapter.reference_check(key=KEYS["ref"], through_time=False)
    assert max(truncated.max_rel_autodiff.values()) > 1e3 * truncated.AUTODIFF_TOLERANCE
    assert max(truncated.max_rel_numeric.values()) > 1e3 * truncated.NUMERIC_TOLERANCE
    # the output weights see no recurrence: their gradient is still exact
    assert truncated.max_rel_autodiff["w_out"] < truncated.AUTODIFF_TOLERANCE


# ------------------------------------------------------------------- gradient flow


def test_distance_norms_equal_jax_jacobian_of_the_whole_rollout():
    """The product of step Jacobians is ∂h_T/∂h_t of the unrolled network (jax.jacrev)."""
    model, params = chapter.flow_network(1.25, 0.1, key=jax.random.key(4))
    x = jax.random.randint(jax.random.key(5), (12,), 0, chapter.RECALL_VOCAB)
    hs, jac = chapter.step_jacobians(model, params, x)
    u = params["w_in"][x] + params["b"][None, :]
    mask = jnp.ones((1, model.hidden))

    def rollout(h: jax.Array, start: int) -> jax.Array:
        for t in range(start, len(x)):
            h = model.step(params, h[None], u[t][None], mask=mask)[0]
        return h

    norms = chapter.distance_norms(jac)
    for d in (1, 5, 12):
        start = len(x) - d  # h_{T−d} → h_T
        h_from = hs[start - 1] if start > 0 else jnp.zeros(model.hidden)
        full = jax.jacrev(rollout)(h_from, start)
        assert norms[d - 1] == pytest.approx(float(np.linalg.norm(full, 2)), rel=1e-4)


def test_the_gradient_vanishes_below_radius_one_and_explodes_above_with_small_inputs(flow):
    found = chapter.claims(flow=flow)
    assert found.vanishes_below_one
    assert found.grows_above_one_with_small_inputs
    assert found.saturation_vanishes_it_anyway


def test_fitted_rate_recovers_a_geometric_factor_and_the_radius_is_exact():
    norms = 3.0 * 0.8 ** np.arange(1, 61)
    assert chapter.fitted_rate(norms) == pytest.approx(0.8, rel=1e-9)
    for radius in (0.5, 1.5):
        _, params = chapter.flow_network(radius, 1.0, key=jax.random.key(6))
        assert chapter.spectral_radius(params["w_rec"]) == pytest.approx(radius, rel=1e-5)


def test_the_flow_claims_can_fail(flow):
    small, default = chapter.INPUT_SCALES.values()
    lingering = dataclasses.replace(flow, norms={**flow.norms, (small, 0.9): np.full(60, 0.05)})
    assert not chapter.claims(flow=lingering).vanishes_below_one  # 5 % left after T steps
    cooler = dataclasses.replace(flow, mean_abs_h={**flow.mean_abs_h, (default, 1.0): 0.01})
    assert not chapter.claims(flow=cooler).saturation_vanishes_it_anyway
    grown = dataclasses.replace(flow, rates={**flow.rates, (default, 0.8): 1.05})
    assert not chapter.claims(flow=grown).vanishes_below_one
    flat = dataclasses.replace(flow, rates={**flow.rates, (small, 1.25): 0.99})
    assert not chapter.claims(flow=flat).grows_above_one_with_small_inputs
    exploding = dataclasses.replace(flow, rates={**flow.rates, (default, 1.5): 1.02})
    assert not chapter.claims(flow=exploding).saturation_vanishes_it_anyway


# ------------------------------------------------------------------- memory, clipping


def test_the_gru_remembers_longer_than_a_vanilla_rnn_of_its_size(recall):
    assert chapter.claims(recall=recall).gru_remembers_longer
    vanilla, gru = (recall.results[(c, 30)].metrics["test_acc"][:, 0] for c in ("vanilla", "gru"))
    assert vanilla.max() < 0.25  # at L = 30 the plain RNN never leaves chance …
    first = [int(recall.results[("gru", 30)].steps[np.argmax(run > 0.5)]) for run in gru]
    assert min(first) >= 300 and np.all(gru[:, -1] >= chapter.SOLVED)  # … the GRU climbs late
    v, g = (chapter.recall_config(c).model.n_params() for c in ("vanilla", "gru"))
    assert abs(v - g) / g < 0.01  # equal parameter counts, to 1 %


def test_the_recall_claim_can_fail(recall):
    forgetful = dict(recall.results)
    for d in chapter.RECALL_LENGTHS[2:]:  # the GRU no better than the vanilla RNN from 30 on
        forgetful[("gru", d)] = recall.results[("vanilla", d)]
    assert not chapter.claims(
        recall=dataclasses.replace(recall, results=forgetful)
    ).gru_remembers_longer


def test_recall_data_hold_the_message_first_and_the_label_is_the_message():
    d = chapter.recall_data(7, key=jax.random.key(8))
    x, y = np.asarray(d.x_train), np.asarray(d.y_train)
    message_at = chapter.RECALL_MAX - 7
    assert np.all(x[:, :message_at] == chapter.PAD)
    np.testing.assert_array_equal(x[:, message_at], y)
    dis = x[:, message_at + 1 :]
    assert dis.shape[1] == 7 and np.all((dis >= chapter.RECALL_SYMBOLS) & (dis < chapter.PAD))
    with pytest.raises(ValueError, match="distance must be in"):
        chapter.recall_data(0, key=jax.random.key(8))


def test_clipping_rescues_sgd_on_the_exploding_side(clipping):
    found = chapter.claims(clipping=clipping)
    assert found.clipping_rescues_sgd
    assert found.smaller_steps_work_in_some_seeds


def test_the_clipping_claim_can_fail(clipping):
    r = clipping.results
    for name, stand_in in (("plain", "clipped"), ("clipped", "plain")):
        fake = dataclasses.replace(clipping, results={**r, name: r[stand_in]})
        assert not chapter.claims(clipping=fake).clipping_rescues_sgd, name
    for stand_in in ("plain", "clipped"):  # solved in no seed, or in all of them
        fake = dataclasses.replace(clipping, results={**r, "plain, small steps": r[stand_in]})
        assert not chapter.claims(clipping=fake).smaller_steps_work_in_some_seeds, stand_in


# ------------------------------------------------------------------- the language model


def test_more_text_lowers_bits_and_a_bigger_model_pays_only_with_it(language):
    found = chapter.claims(language=language)
    assert found.data_lowers_bits_at_every_size
    assert found.bigger_pays_only_with_data


def test_the_language_claims_can_fail(language):
    r = language.result
    flipped = dataclasses.replace(
        r, metrics={**r.metrics, "test_loss": r.metrics["test_loss"][:, ::-1]}
    )
    fake = dataclasses.replace(language, result=flipped)  # more data, more bits
    assert not chapter.claims(language=fake).data_lowers_bits_at_every_size
    widths = dataclasses.replace(
        r, metrics={**r.metrics, "test_loss": r.metrics["test_loss"][..., ::-1, :]}
    )
    assert not chapter.claims(
        language=dataclasses.replace(language, result=widths)
    ).bigger_pays_only_with_data


def test_samples_are_text_from_the_vocabulary_and_depend_on_the_key(language):
    a = chapter.sample(language, 64, chapter.LM_WINDOWS[-1], key=KEYS["sample"])
    b = chapter.sample(language, 64, chapter.LM_WINDOWS[-1], key=jax.random.key(99))
    assert a.startswith("The ") and len(a) == 4 + 160
    assert set(a) <= set(language.vocab)
    assert a != b


# ------------------------------------------------------------------- explorers


def test_the_explorers_answer_every_control_and_retrain_live(flow, language, recall):
    fe = chapter.flow_explorer(flow, key=KEYS["flow"])
    assert [c.name for c in fe.controls] == ["radius", "inputs"]
    timings = fe.set(radius=1.1, inputs=0.1)  # off the grid: recomputed live
    assert timings["live"] and "radius 1.1" in fe.last_spec.title
    fe.set(radius=1.5, inputs=0.1)  # on the grid: the study's norms, and the title says so
    rate = flow.rates[(0.1, 1.5)]
    assert f"multiplied by {rate:.2f}" in fe.last_spec.title
    re = chapter.recall_explorer(recall)
    assert [c.name for c in re.controls] == ["distance", "cell"]
    re.set(distance=30, cell="gru")
    final = recall.results[("gru", 30)].final("test_acc")[:, 0]
    assert f"test accuracy {', '.join(f'{a:.2f}' for a in final)}" in re.last_spec.title
    with pytest.raises(ValueError, match="cell"):
        re.set(cell="lstm")
    le = chapter.lm_explorer(language)
    assert [c.name for c in le.controls] == ["hidden", "windows"]
    le.set(hidden=16, windows=chapter.LM_WINDOWS[0])
    assert "16 units, 1,600 training characters" in le.last_spec.title
    with pytest.raises(ValueError, match="hidden"):
        le.set(hidden=17.5)


def test_on_mnist1d_the_gru_leads_the_cnn_and_the_mlp_at_this_budget():
    duel = chapter.sequence_duel(key=KEYS["duel"])
    assert chapter.claims(duel=duel).gru_leads_on_mnist1d
    assert set(duel.params) == {"GRU", "CNN", "MLP"}
    worse = dataclasses.replace(duel, errors={**duel.errors, "GRU": duel.errors["MLP"] + 0.01})
    assert not chapter.claims(duel=worse).gru_leads_on_mnist1d
