import numpy as np
import pytest
import torch
from skimage import data

from detection.training import synth
from detection.training.train import multitask_loss
from detection.training.userdata import LabelledItem, make_example


def _face_item(label: int = 1) -> LabelledItem:
    image = data.astronaut()
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[100:160, 200:250] = 1  # a small manipulated face in a large frame
    return LabelledItem("frame.png", label, lambda: (image, mask * label))


def test_fake_examples_are_mostly_centred_on_the_manipulation() -> None:
    rng = np.random.default_rng(0)
    examples = [make_example(_face_item(), rng, 64) for _ in range(40)]
    assert all(e.image.shape == (64, 64, 3) and e.mask.shape == (64, 64) for e in examples)
    assert all(e.mask_known for e in examples)
    fakes = [e for e in examples if e.label]
    assert len(fakes) >= 20  # random crops of a 512 px frame would rarely hit a 60 x 50 region
    assert all(e.mask.mean() >= 0.003 for e in fakes)
    assert all(not e.mask.any() for e in examples if not e.label)


def test_real_items_never_produce_fake_labels() -> None:
    rng = np.random.default_rng(1)
    assert not any(make_example(_face_item(label=0), rng, 64).label for _ in range(10))


def test_items_without_masks_keep_their_label_and_skip_segmentation() -> None:
    image = data.coffee()
    item = LabelledItem("swap.png", 1, lambda: (image, None))
    example = make_example(item, np.random.default_rng(2), 48)
    assert example.label == 1 and not example.mask_known
    assert example.image.shape == (48, 48, 3) and not example.mask.any()


def test_unknown_masks_do_not_train_the_decoder() -> None:
    torch.manual_seed(0)
    logits, maps = torch.randn(4), torch.randn(4, 1, 8, 8)
    labels, masks = torch.tensor([1.0, 0.0, 1.0, 0.0]), (torch.rand(4, 1, 8, 8) > 0.5).float()
    none_known = torch.zeros(4, dtype=torch.bool)
    loss, parts = multitask_loss(logits, maps, labels, masks, none_known)
    assert parts["seg"] == 0.0 and parts["dice"] == 0.0
    assert loss.item() == pytest.approx(parts["cls"])
    some = torch.tensor([True, False, True, False])
    partial, _ = multitask_loss(logits, maps, labels, masks, some)
    subset, _ = multitask_loss(logits, maps[some], labels, masks[some])
    # Classification uses every row; segmentation terms are those of the known rows alone.
    assert partial.item() == pytest.approx(subset.item(), rel=1e-5)
    assert partial.item() > loss.item()


def test_chained_degradation_keeps_the_mask_aligned() -> None:
    image, donor = data.astronaut()[:300, :300].copy(), data.coffee()[:300, :300].copy()
    rng = np.random.default_rng(4)
    sample = synth.manipulate(image, donor, rng, kind="splice_hard")
    chained = synth.degrade_chain(sample, rng, out_size=96, middle_size=160)
    assert chained.image.shape == (96, 96, 3) and chained.mask.shape == (96, 96)
    expected = synth.degrade(sample, np.random.default_rng(0), out_size=96).mask
    assert np.mean(chained.mask != expected) < 0.02  # nearest-neighbour twice vs once
    pair = synth.make_training_pair(image, donor, np.random.default_rng(5), 64, 1.0, 1.0)
    assert pair.image.shape == (64, 64, 3) and pair.mask.any()
