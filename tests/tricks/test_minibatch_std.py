"""Minibatch standard deviation (Karras et al. 2018): one extra channel in D."""

from __future__ import annotations

from helpers.tricks import cfg, images

from ganbench.train import Trainer


def test_minibatch_std_adds_one_channel_to_ds_last_block(tmp_path):
    for c in (images(tmp_path), cfg(tmp_path)):
        plain = Trainer(c)
        with_std = Trainer(c.model_copy(update={"tricks": {"minibatch_std": {}}}))
        x = plain.data.sample(8)
        feats = with_std.d.mbstd(with_std.d.body(x))
        assert feats.shape[1] == plain.d.body(x).shape[1] + 1
        # the extra channel is the batch's std: identical samples give ~0
        same = with_std.d.mbstd(with_std.d.body(x[:1].expand(8, *x.shape[1:]).contiguous()))
        assert same[:, -1].abs().max().item() < 1e-3
