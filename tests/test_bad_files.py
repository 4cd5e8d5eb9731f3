"""Files that are not generators: each raises our error naming the file, and nothing runs."""

import os
import pickle
import zipfile

import pytest
import torch

from gan_latent_lab.errors import CheckpointError, UnsafePickleError
from gan_latent_lab.loaders import load_gan

from helpers import face_dcgan_path


class _Evil:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("name,data", [
    ("empty.pt", b""),
    ("random.pth", os.urandom(4096)),
    ("notes.safetensors", b"just some text, not a checkpoint\n" * 10),
])
def test_junk_files_raise_our_error(tmp_path, name, data):
    p = _write(tmp_path, name, data)
    with pytest.raises(CheckpointError) as e:
        load_gan(p)
    assert name in str(e.value)


def test_truncated_zip_raises_our_error(tmp_path):
    data = open(face_dcgan_path(), "rb").read()
    p = _write(tmp_path, "cut.tar", data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.tar"):
        load_gan(p)


def test_raw_pickle_with_foreign_global_is_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    p = _write(tmp_path, "evil.pkl", pickle.dumps({"G_ema": _Evil(sentinel)}))
    with pytest.raises(UnsafePickleError) as e:
        load_gan(p)
    assert "evil.pkl" in str(e.value) and "system" in str(e.value)
    assert not sentinel.exists()


def test_torch_zip_with_foreign_global_is_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    torch.save({"state": _Evil(sentinel)}, p)
    with pytest.raises(UnsafePickleError) as e:
        load_gan(p)
    assert "evil.pt" in str(e.value) and "system" in str(e.value)
    assert not sentinel.exists()


def test_zip_that_is_not_torch(tmp_path):
    p = tmp_path / "archive.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointError, match="archive.pt"):
        load_gan(p)


def test_unknown_architecture_state_dict(tmp_path):
    p = tmp_path / "mlp.pt"
    torch.save({"encoder.0.weight": torch.zeros(4, 4), "encoder.0.bias": torch.zeros(4)}, p)
    with pytest.raises(CheckpointError, match="mlp.pt.*unknown architecture"):
        load_gan(p)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt"):
        load_gan(tmp_path / "nope.pt")
