"""Issue 27, classes 4-5: files that are not files, and headers that claim more than the file
holds. One helper (safefile.py) refuses a FIFO or a device before opening it and reads with a
cap; each decoder checks a claimed shape against the file's size before allocating."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np
import pytest
from numpy.lib import format as npformat
from PIL import Image

from ganbench.data import folder
from ganbench.data.idx import IdxError, read_idx
from ganbench.data.unpickle import RefusedPickleError, safe_load
from ganbench.safefile import NotAFileError, path_problem, read_capped, regular_file
from ganbench.yamlfile import ConfigError, read_yaml


@pytest.fixture
def fifo(tmp_path):
    p = tmp_path / "pipe.yaml"
    os.mkfifo(p)
    return p


def test_a_fifo_is_refused_before_it_is_opened(fifo):
    # open() of a FIFO with no writer would block forever: this returns at once
    with pytest.raises(NotAFileError, match="named pipe"):
        read_capped(fifo)
    with pytest.raises(ConfigError, match=r"pipe\.yaml: is a named pipe"):
        read_yaml(fifo)


@pytest.mark.parametrize("dev", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused_not_read(dev):
    with pytest.raises(ConfigError, match="character device"):
        read_yaml(dev)
    with pytest.raises(NotAFileError, match="character device"):
        safe_load(dev)


def test_a_folder_and_a_missing_file(tmp_path):
    with pytest.raises(NotAFileError, match="is a folder"):
        regular_file(tmp_path)
    with pytest.raises(NotAFileError, match="cannot read"):
        regular_file(tmp_path / "nope")


def test_the_cap_is_applied_before_reading(tmp_path):
    p = tmp_path / "big"
    with open(p, "wb") as f:
        f.truncate(10 << 20)  # sparse: costs nothing
    with pytest.raises(NotAFileError, match="too large"):
        read_capped(p, limit=1 << 20)
    assert len(read_capped(p, limit=10 << 20)) == 10 << 20


class _Huge:
    """A pickle made only of allowed globals whose array claims 100 TB."""

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (10**14,), b"b"))


class _Call:
    def __reduce__(self):
        return (np.ndarray, ((10**7, 10**7),))


class _Objects:
    def __reduce__(self):
        return (np.dtype, ("O8", False, True))


@pytest.mark.parametrize("payload,needle", [(_Huge(), "claims shape (100000000000000,)"),
                                            (_Call(), "a call of numpy.ndarray"),
                                            (_Objects(), "Python objects")])
def test_a_cifar_batch_cannot_allocate_what_it_claims(tmp_path, payload, needle):
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps({b"data": payload, b"labels": [1]}, protocol=2))
    with pytest.raises(ValueError) as e:
        safe_load(p)
    assert str(p) in str(e.value) and needle in str(e.value)
    assert "\n" not in str(e.value)


def test_a_real_batch_still_loads(tmp_path):
    p = tmp_path / "ok"
    arr = np.arange(24, dtype=np.uint8).reshape(2, 12)
    for proto in (2, 4, 5):
        p.write_bytes(pickle.dumps({b"data": arr, b"labels": [0, 1]}, protocol=proto))
        np.testing.assert_array_equal(safe_load(p)[b"data"], arr)
    with pytest.raises(RefusedPickleError):
        p.write_bytes(pickle.dumps({b"x": os.system}))
        safe_load(p)


def test_a_gzip_bomb_idx_is_refused_at_the_cap(tmp_path, monkeypatch):
    import ganbench.data.idx as idx

    monkeypatch.setattr(idx, "MAX_DATA_BYTES", 1 << 20)
    raw = b"\0\0\x08\x01" + struct.pack(">I", 8 << 20) + bytes(8 << 20)
    z = zlib.compressobj(wbits=31)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(z.compress(raw) + z.flush())
    with pytest.raises(IdxError, match="unpacks to more than"):
        read_idx(p)


def test_an_image_header_claiming_a_billion_pixels_is_skipped(tmp_path):
    small = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(small)
    data = bytearray(small.read_bytes())
    data[16:24] = struct.pack(">II", 40_000, 40_000)  # IHDR width/height (CRC now wrong)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    big = tmp_path / "b.png"
    big.write_bytes(bytes(data))
    assert folder.decode(small, 8) is not None
    assert folder.decode(big, 8) is None


def test_an_npz_cache_claiming_more_than_it_holds_is_not_loaded(tmp_path):
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False,
                                         "shape": (10**6, 3, 64, 64)})
    p = tmp_path / "c.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("images.npy", buf.getvalue() + bytes(16))
    with pytest.raises(ValueError, match="claims"):
        folder._npz_fits(p)
    with pytest.warns(UserWarning, match="rebuilding"):
        assert folder._read_cache(p, 64) is None


def test_path_problem_names_what_the_file_system_refuses(tmp_path):
    assert path_problem(tmp_path / "a" / "b") is None
    assert "300 bytes" in path_problem(tmp_path / ("x" * 300) / "y")
    assert "NUL" in path_problem("a\0b")
    assert "longer than" in path_problem(tmp_path / "/".join(["d" * 200] * 30))
