"""Issue 8: saves are atomic, stay inside our folders and never overwrite unless asked."""

import os

import pytest

from gan_latent_lab.atomic import atomic_write
from gan_latent_lab.errors import GANLabError, InputError
from gan_latent_lab.loaders import load_gan, save_converted
from gan_latent_lab.nodes.paths import safe_join

from helpers import face_dcgan_path


def test_existing_file_is_kept_byte_for_byte(tmp_path):
    target = tmp_path / "keep.safetensors"
    target.write_bytes(b"original bytes")
    gen = load_gan(face_dcgan_path())
    with pytest.raises(GANLabError, match="already exists"):
        save_converted(gen, target)
    assert target.read_bytes() == b"original bytes"
    assert os.listdir(tmp_path) == ["keep.safetensors"]


def test_overwrite_when_asked(tmp_path):
    target = tmp_path / "m.safetensors"
    target.write_bytes(b"old")
    save_converted(load_gan(face_dcgan_path()), target, overwrite=True)
    assert load_gan(target).arch == "dcgan"


def test_failure_mid_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"before")
    with pytest.raises(RuntimeError):
        with atomic_write(target, overwrite=True) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"before"
    assert os.listdir(tmp_path) == ["data.bin"]


@pytest.mark.parametrize("name", ["../evil.safetensors", "a/../../evil", "/etc/passwd", "C:/x.pt", "..\\x.pt", "", "a\x00b"])
def test_widget_names_cannot_escape_the_folder(tmp_path, name):
    with pytest.raises(InputError):
        safe_join(str(tmp_path), name)


def test_widget_names_inside_the_folder(tmp_path):
    assert safe_join(str(tmp_path), "sub/run.voynov") == os.path.join(os.path.realpath(tmp_path), "sub", "run.voynov")


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(InputError, match="outside"):
        safe_join(str(root), "link/file.safetensors")
