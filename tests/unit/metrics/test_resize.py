"""`fid_resize`: how images reach Inception's input, a protocol tag of every Inception metric.

The swap is checked on a random-initialised Inception (no weights needed): at 299x299 every
resize is the identity, so all three must give the network's own features bit for bit; at
28x28 they must differ; torch-fidelity's module is left as it was.
"""

from __future__ import annotations

import pytest
import torch

from ganbench.config import RunConfig
from ganbench.data import Dataset
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception as inc
from ganbench.metrics import inception_weights as iw
from ganbench.metrics.references import run_tags
from ganbench.metrics.resize import RESIZES, pil_resize
from ganbench.specs.plan import canonical


@pytest.fixture(scope="module")
def random_inception():
    torch.manual_seed(0)
    sd = inc.inception_skeleton().state_dict()
    nets = {}
    cls = inc.tf_module().registry.FEATURE_EXTRACTORS_REGISTRY[inc.safe_extractor_name()]
    for name in RESIZES:
        net = cls(inc.SAFE_EXTRACTOR, ["2048"], ganbench_state_dict=sd, ganbench_resize=name)
        nets[name] = net.eval()
    return nets


def test_every_resize_is_the_identity_at_the_networks_size(random_inception):
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        feats = {n: net(x)[0] for n, net in random_inception.items()}
    assert torch.equal(feats["clean"], feats["tf-bilinear"])
    assert torch.equal(feats["friendly"], feats["tf-bilinear"])


def test_resizes_differ_from_small_images_and_leave_torch_fidelity_alone(random_inception):
    fe = inc.tf_module().feature_extractor_inceptionv3
    own = fe.interpolate_bilinear_2d_like_tensorflow1x
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, 256, (2, 3, 28, 28), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        feats = {n: net(x)[0] for n, net in random_inception.items()}
    assert fe.interpolate_bilinear_2d_like_tensorflow1x is own  # restored after each call
    # (a random network's features are tiny: compare relatively)
    assert not torch.allclose(feats["clean"], feats["tf-bilinear"], rtol=1e-2, atol=0)
    assert not torch.allclose(feats["clean"], feats["friendly"], rtol=1e-2, atol=0)


def test_pil_resizes_are_float_and_clean_is_clipped():
    x = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    x[..., ::2, :] = 255  # stripes: bicubic overshoots on them, bilinear does not
    clean, friendly = pil_resize(x, 299, "clean"), pil_resize(x, 299, "friendly")
    assert clean.dtype == friendly.dtype == torch.float32
    assert clean.shape == friendly.shape == (1, 3, 299, 299)
    assert float(clean.min()) >= 0 and float(clean.max()) <= 255
    assert not torch.equal(clean, clean.round())  # not quantised back to uint8
    assert float(friendly.min()) >= 0 and float(friendly.max()) <= 255


def test_resize_is_in_the_protocol_only_where_it_is_not_the_networks_own(tmp_path):
    p = tmp_path / "w.pth"
    p.write_bytes(b"not read here")
    w = iw.Weights(p, "cd" * 32, "test", False)
    data = Dataset("toy", "images", "test", images=torch.zeros(20, 1, 12, 12,
                                                                 dtype=torch.uint8))

    def ev(**kw):
        return fid.FidelityEvaluator(data, ["fid", "kid"], n_gen=10, root=tmp_path, weights=w,
                                     **kw)

    plain, friendly = ev(), ev(resize="friendly")
    assert "resize=" not in plain.protocols()[0]["fid10"]
    assert "resize=friendly;" in friendly.protocols()[0]["fid10"]
    assert "resize=friendly;" in friendly.protocols()[0]["kid10"]
    assert plain.ref_name != friendly.ref_name  # its own reference statistics
    assert run_tags(plain.protocols()[0]["fid10"])["resize"] == "tf-bilinear"
    assert run_tags(friendly.protocols()[0]["fid10"])["resize"] == "friendly"
    # a run that does not set it keeps its key
    assert "fid_resize" not in canonical(RunConfig(dataset="mnist", model="dcgan28",
                                                   image_metrics=["fid"]))
    assert canonical(RunConfig(dataset="mnist", model="dcgan28", image_metrics=["fid"],
                               fid_resize="clean"))["fid_resize"] == "clean"
