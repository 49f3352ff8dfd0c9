"""No file a user or a shared folder supplies is unpickled unsafely (issue 13, item 7): a
pickle whose __reduce__ writes a marker file is refused as --weights, as the evaluator's
weights and as a planted feature-cache entry; the marker never appears."""

from __future__ import annotations

import pytest
import torch
from helpers.cli import assert_user_error, invoke, write

from ganbench.data import Dataset
from ganbench.metrics import fidelity as fid
from ganbench.metrics import inception_weights as iw
from ganbench.metrics.safe_cache import UnsafeFileError


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def evil(path, marker):
    torch.save({"fc.weight": torch.zeros(2), "x": Payload(marker)}, path)
    return path


def test_the_payload_runs_when_unpickled_unsafely(tmp_path):
    """The control: the file really carries a payload."""
    marker = tmp_path / "marker"
    torch.load(evil(tmp_path / "evil.pt", marker), weights_only=False)
    assert marker.exists()


def test_weights_option_refuses_the_pickle(tmp_path):
    marker = tmp_path / "marker"
    w = evil(tmp_path / "evil.pt", marker)
    run_file = write(tmp_path / "run.yaml", "dataset: ring8\nsteps: 2\n")
    for cmd in (["run", run_file], ["sweep", tmp_path / "none.yaml"]):
        r = invoke(*cmd, "--weights", w)
        assert_user_error(r, str(w), "refused to unpickle")
    assert not marker.exists()


def images() -> Dataset:
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(0))
    return Dataset("tiny", "images", "test", images=x)


def test_evaluator_refuses_user_weights_that_are_a_pickle(tmp_path):
    marker = tmp_path / "marker"
    path = evil(tmp_path / "evil.pt", marker)
    w = iw.Weights(path, iw.file_sha256(path), "user", iw.has_head(path))
    try:
        fid.FidelityEvaluator(images(), ["fid"], n_gen=6, root=tmp_path, weights=w)
        raise AssertionError("accepted")
    except UnsafeFileError as e:
        assert str(path) in str(e) and "\n" not in str(e)
    assert not marker.exists() and not w.has_head


@pytest.mark.parametrize("metrics", [["fid", "kid"], ["fd", "dc"]])  # Inception's, DINOv2's
def test_a_planted_feature_cache_file_is_refused_not_run(tmp_path, metrics):
    marker = tmp_path / "marker"
    (tmp_path / "w.pth").write_bytes(b"never read: source is not 'user'")
    w = iw.Weights(tmp_path / "w.pth", "ab" * 32, "test", False)
    ev = fid.FidelityEvaluator(images(), metrics, n_gen=6, root=tmp_path, weights=w)
    files = ev._cache_files()
    assert len(files) == 2
    for f in files:  # what torch-fidelity would have loaded with pickle
        evil(f, marker)
    try:
        fid.FidelityEvaluator(images(), metrics, n_gen=6, root=tmp_path, weights=w)
        raise AssertionError("accepted")
    except UnsafeFileError as e:
        assert "fidelity-cache" in str(e) and "refused to unpickle" in str(e)
    assert not marker.exists()


def test_plain_cache_items_round_trip(tmp_path):
    import numpy as np

    from ganbench.metrics.safe_cache import PrivateCache, save_atomic, to_shared

    stats = {"mu": np.arange(3, dtype=np.float32), "sigma": np.eye(3)}
    save_atomic(to_shared(stats), tmp_path / "s.pt")
    pc = PrivateCache(tmp_path)
    pc.pull(["s.pt"])
    back = torch.load(pc.dir / "s.pt", weights_only=False)  # as torch-fidelity reads it
    assert back["mu"].dtype == np.float32 and np.array_equal(back["sigma"], np.eye(3))


def test_private_folders_of_dead_processes_are_removed(tmp_path):
    import socket
    import subprocess
    import sys

    from ganbench.metrics.safe_cache import PrivateCache

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphan = tmp_path / f".private-{socket.gethostname()}-{dead}-x1"
    orphan.mkdir()
    other_host = tmp_path / f".private-elsewhere-{dead}-x2"
    other_host.mkdir()
    pc = PrivateCache(tmp_path)
    assert not orphan.exists() and other_host.exists() and pc.dir.is_dir()
