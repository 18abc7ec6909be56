"""The pure helpers of multi-process data parallelism (``keras_mr._internal.processes``)."""

import types

import numpy as np
import pytest

from keras_mr._internal import processes
from keras_mr._internal.processes import ProcessShard


def test_one_process_is_the_identity():
    assert processes.process_shard() == ProcessShard(0, 1)  # no distribution set
    pos = np.arange(5)
    one = ProcessShard(0, 1)
    assert processes.local_rows(pos, one) is pos
    assert processes.padded(pos, one) is pos
    processes.check_batch_sizes(7, 3, False, one)  # anything goes


def test_each_process_gets_its_contiguous_part_in_process_order():
    pos = np.arange(10, 18)
    parts = [processes.local_rows(pos, ProcessShard(i, 4)) for i in range(4)]
    assert [p.tolist() for p in parts] == [[10, 11], [12, 13], [14, 15], [16, 17]]
    np.testing.assert_array_equal(np.concatenate(parts), pos)  # the global batch, in order


def test_last_evaluation_batch_is_padded_with_its_last_example():
    np.testing.assert_array_equal(
        processes.padded(np.array([4, 5, 6]), ProcessShard(0, 2)), [4, 5, 6, 6]
    )
    np.testing.assert_array_equal(processes.padded(np.arange(4), ProcessShard(1, 2)), np.arange(4))


@pytest.mark.parametrize(("n", "batch", "drop"), [(96, 15, True), (99, 16, False), (97, 16, False)])
def test_batches_that_do_not_split_over_the_processes_are_refused(n, batch, drop):
    with pytest.raises(ValueError, match="multiples of 2.*drop_remainder=True"):
        processes.check_batch_sizes(n, batch, drop, ProcessShard(0, 2))


def test_batches_that_split_over_the_processes_are_accepted():
    processes.check_batch_sizes(96, 16, False, ProcessShard(1, 2))
    processes.check_batch_sizes(100, 16, True, ProcessShard(0, 2))  # remainder dropped
    processes.check_batch_sizes(98, 16, False, ProcessShard(0, 2))  # last batch of 2


def test_the_distribution_must_let_keras_mr_feed_the_rows():
    feeds_rows = types.SimpleNamespace(auto_shard_dataset=False)
    processes.check_feeds_process_rows(feeds_rows, keras_version=(3, 11))
    with pytest.raises(ValueError, match="auto_shard_dataset=False"):
        processes.check_feeds_process_rows(
            types.SimpleNamespace(auto_shard_dataset=True), keras_version=(3, 15)
        )
    with pytest.raises(ValueError, match="Keras 3.8 .*upgrade Keras to 3.11"):
        processes.check_feeds_process_rows(feeds_rows, keras_version=(3, 8))
