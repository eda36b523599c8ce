import torch

from galmerge.training import InMemoryBatches


def batches_of(n=50, batch_size=8, **kwargs):
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    labels = torch.arange(n) % 2
    options = {"shuffle": True, "augment": False, "seed": 0, "channels_last": False}
    options.update(kwargs)
    return InMemoryBatches(images, labels, batch_size=batch_size, **options)


def rows_seen(loader):
    return [int(v) for batch in loader for v in batch["source"][0][:, 0, 0, 0]]


def test_an_epoch_is_one_pass_over_the_rows():
    loader = batches_of()
    seen = rows_seen(loader)
    assert sorted(seen) == list(range(50))
    assert len(loader) == 7


def test_labels_stay_with_their_images():
    for batch in batches_of():
        images, labels = batch["source"]
        assert torch.equal(labels, images[:, 0, 0, 0].long() % 2)


def test_order_changes_by_epoch_and_repeats_with_the_seed():
    loader = batches_of()
    loader.sampler.set_epoch(0)
    first = rows_seen(loader)
    loader.sampler.set_epoch(1)
    second = rows_seen(loader)
    assert first != second
    again = batches_of()
    again.sampler.set_epoch(1)
    assert rows_seen(again) == second


def test_only_the_given_rows_are_used():
    loader = batches_of(rows=torch.tensor([3, 5, 7, 9, 11]), batch_size=2)
    assert sorted(rows_seen(loader)) == [3, 5, 7, 9, 11]


def test_no_batch_holds_a_single_image():
    loader = batches_of(n=17, batch_size=8)
    sizes = [len(b["source"][0]) for b in loader]
    assert sum(sizes) == 17 and min(sizes) >= 2


def test_target_stream_cycles_through_its_own_images():
    target = torch.full((5, 1, 4, 4), -1.0)
    target[:, 0, 0, 0] = torch.arange(5, dtype=torch.float32) + 100
    loader = batches_of(n=24, batch_size=8, target_images=target)
    seen = []
    for batch in loader:
        assert len(batch["target"]) == len(batch["source"][0])
        seen += [int(v) for v in batch["target"][:, 0, 0, 0]]
    assert len(seen) == 24 and set(seen) == {100, 101, 102, 103, 104}
    assert all(seen.count(v) in (4, 5) for v in set(seen))  # walked through permutations


def test_shards_for_distributed_training_are_disjoint():
    shards = [set(rows_seen(batches_of(rank=r, world_size=2))) for r in (0, 1)]
    assert not shards[0] & shards[1] and len(shards[0] | shards[1]) == 50


def test_channels_last_and_augmentation():
    loader = batches_of(channels_last=True, augment=True)
    images = next(iter(loader))["source"][0]
    assert images.is_contiguous(memory_format=torch.channels_last)
