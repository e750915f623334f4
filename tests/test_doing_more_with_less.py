"""Chapter 11: the studies' claims (read from the notebook's own calls, same keys), each with
a made-up study that makes it fail; the explorers; the sweep across two processes."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from course.chapters import doing_more_with_less as chapter

NAMES = ["aug", "distill", "compress", "parallel", "exercise"]
KEYS = dict(zip(NAMES, jax.random.split(jax.random.key(0), 5), strict=True))


@pytest.fixture(scope="module")
def aug():
    return chapter.augmentation_study(key=KEYS["aug"], progress=False)


@pytest.fixture(scope="module")
def distill():
    return chapter.distillation_study(key=KEYS["distill"], progress=False)


@pytest.fixture(scope="module")
def comp():
    return chapter.compression_study(key=KEYS["compress"], progress=False)


def test_equivalent_n_reads_the_curve_in_log_n():
    """Halfway between two sizes' errors is their geometric mean; below the curve's end is
    'more than the pool'; a bump in the curve does not count as 'more data is worse'."""
    sizes, errors = [100, 400, 1600], np.array([0.6, 0.4, 0.3])
    assert chapter.equivalent_n(sizes, errors, 0.5) == pytest.approx(200.0)
    assert chapter.equivalent_n(sizes, errors, 0.4) == pytest.approx(400.0)
    assert chapter.equivalent_n(sizes, errors, 0.2) == float("inf")
    assert chapter.equivalent_n(sizes, errors, 0.7) == 100.0
    assert chapter.equivalent_n(sizes, np.array([0.6, 0.4, 0.45]), 0.42) > 100


@pytest.mark.slow
def test_augmentation_claims_and_their_failures(aug):
    found = chapter.Claims(augmentation=aug)
    assert found.augmentation_is_worth_twice_the_data and found.noise_alone_is_worth_little
    assert found.shifts_carry_the_gain
    # made up: shifts that do nothing (the augmented runs are the plain runs)
    acc = aug.result.metrics["test_acc"].copy()
    acc[:, :, 1, :] = acc[:, :, 0, :]
    flat = chapter.AugmentationStudy(dataclasses.replace(aug.result, metrics={"test_acc": acc}))
    assert not chapter.Claims(augmentation=flat).augmentation_is_worth_twice_the_data
    assert not chapter.Claims(augmentation=flat).shifts_carry_the_gain
    # made up: noise as good as shifts
    acc = aug.result.metrics["test_acc"].copy()
    acc[:, :, 0, 1, :] = acc[:, :, 1, 0, :]
    noisy = chapter.AugmentationStudy(dataclasses.replace(aug.result, metrics={"test_acc": acc}))
    assert not chapter.Claims(augmentation=noisy).noise_alone_is_worth_little


@pytest.mark.slow
def test_distillation_claims_and_their_failures(distill):
    found = chapter.Claims(distillation=distill)
    assert found.distillation_helps_at_small_n
    assert found.distillation_is_worse_on_average_with_all_the_data_at_t4
    assert found.most_accurate_teacher_is_not_the_best and found.larger_teacher_is_more_confident
    # made up: the distilled students are the labels-only ones (no gain anywhere)
    same = {w: dataclasses.replace(r, metrics={"test_acc": np.repeat(
        distill.labels_only.metrics["test_acc"][:, :, None], len(chapter.TEMPERATURES), 2)})
        for w, r in distill.distilled.items()}  # fmt: skip
    none = dataclasses.replace(distill, distilled=same)
    assert not chapter.Claims(distillation=none).distillation_helps_at_small_n
    # made up: the large teacher's students are the small teacher's, a bit better
    swapped = dict(distill.distilled)
    better = distill.distilled[32].metrics["test_acc"] + 0.01
    swapped[512] = dataclasses.replace(distill.distilled[512], metrics={"test_acc": better})
    assert not chapter.Claims(
        distillation=dataclasses.replace(distill, distilled=swapped)
    ).most_accurate_teacher_is_not_the_best
    # made up: every student gains at n = 4000 too
    gain = {w: dataclasses.replace(r, metrics={"test_acc": r.metrics["test_acc"] + 0.2})
            for w, r in distill.distilled.items()}  # fmt: skip
    assert not chapter.Claims(
        distillation=dataclasses.replace(distill, distilled=gain)
    ).distillation_is_worse_on_average_with_all_the_data_at_t4
    # made up: gains of three standard errors (past 2 SE, short of t₀.₉₇₅ = 4.3 for 3 seeds)
    labels = distill.labels_only.metrics["test_acc"]
    noise = np.array([-1.0, 0.0, 1.0])[:, None, None]  # per seed: mean 0, std 1 (ddof 1)
    one_se = {w: dataclasses.replace(r, metrics={"test_acc": np.repeat(
        (labels + 0.01 + 0.01 * np.sqrt(3) / 3 * noise)[:, :, None], len(chapter.TEMPERATURES), 2)})
        for w, r in distill.distilled.items()}  # fmt: skip
    weak = dataclasses.replace(distill, distilled=one_se)
    g = weak.gain(128, 4.0)
    np.testing.assert_allclose(g["mean"] / g["se"], 3.0, rtol=1e-3)
    assert not chapter.Claims(distillation=weak).distillation_helps_at_small_n
    # made up: the small teacher the surer one
    sure = dataclasses.replace(distill, confidence={32: 0.9, 128: 0.8, 512: 0.7})
    assert not chapter.Claims(distillation=sure).larger_teacher_is_more_confident


@pytest.mark.slow
def test_compression_claims_and_their_failures(comp):
    found = chapter.Claims(compression=comp)
    assert found.fine_tuning_rescues_pruning and found.eight_bits_cost_under_half_a_point
    assert found.per_channel_beats_per_tensor and found.two_bits_break
    print(f"smallest keep within a point: {comp.smallest_keep(0.01)}")
    broken = dataclasses.replace(comp, fine_tuned=comp.pruned)  # fine-tuning that does nothing
    assert not chapter.Claims(compression=broken).fine_tuning_rescues_pruning
    q = {s: v.copy() for s, v in comp.quantized.items()}
    q["tensor"][:, chapter.BITS.index(8)] += 0.006  # 8 bits 0.6 points worse
    assert not chapter.Claims(
        compression=dataclasses.replace(comp, quantized=q)
    ).eight_bits_cost_under_half_a_point
    q = {"tensor": comp.quantized["channel"], "channel": comp.quantized["tensor"]}
    assert not chapter.Claims(
        compression=dataclasses.replace(comp, quantized=q)
    ).per_channel_beats_per_tensor


def test_data_parallel_claim_and_its_failure():
    p = chapter.data_parallel_check(key=KEYS["parallel"], steps=40)
    assert chapter.Claims(parallel=p).data_parallel_equals_one_device, p["max_diff"]
    off = {**p, "max_diff": {**p["max_diff"], "test_loss": 1e-3}}
    assert not chapter.Claims(parallel=off).data_parallel_equals_one_device
    summed = {**p, "grad_diff": 1.0}  # a gradient twice the mean: off by its own size
    assert not chapter.Claims(parallel=summed).data_parallel_equals_one_device


@pytest.mark.slow
def test_the_sweep_as_two_processes_equals_one_process():
    """Two processes joined by jax.distributed, one device each: bit-identical results."""
    two = chapter.two_process_sweep()
    assert int(two["processes"]) == 2 and int(two["devices"]) == 2
    assert int(two["local_devices"]) == 1
    one = chapter.distributed_grid(jax.random.key(0), devices=jax.devices()[:2]).final("test_acc")
    np.testing.assert_array_equal(two["test_acc"], one)


@pytest.mark.slow
def test_the_explorers_move_and_their_twins_fit_the_budget(distill, comp):
    x = chapter.distillation_explorer(distill, key=KEYS["distill"])
    spec = x.view(x.values(), x.lookup(x.values()))
    assert "teacher 128×128" in spec.title and len(spec.panels) == 2
    twin = x.twin()
    assert twin.count('"panels"') == 3 * len(chapter.TEMPERATURES) * len(chapter.STUDENT_SIZES)
    assert len(twin.encode()) < 1_800_000
    y = chapter.compression_explorer(comp, key=KEYS["compress"])
    errors = y.lookup(y.values())
    i = chapter.KEEPS.index(0.2)
    assert errors["mean"] >= comp.fine_tuned[:, i].mean() - 0.02  # 4 bits on top of pruning
    twin = y.twin()
    assert twin.count('"panels"') == len(chapter.KEEPS) * len(chapter.BITS) * 2
    assert len(twin.encode()) < 1_800_000
    y.set(bits=8)
    assert y.timings["live"] is False


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: chapter.augmentation_study(key=0), "key"),
        (lambda: chapter.two_process_sweep(processes=1), "processes"),
        (lambda: chapter.DistillationStudy(None, {32: None}, {}).errors(64, 1.0), "teacher"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
