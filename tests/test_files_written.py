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


# ----- issue 17: never overwrite, even under a race; names refused before work --------------------------
def _racer(folder, tag, rounds, barrier, results):
    from gan_latent_lab.atomic import atomic_write as aw

    won = []
    for i in range(rounds):
        barrier.wait()
        try:
            with aw(os.path.join(folder, f"r{i}.bin")) as tmp:
                with open(tmp, "wb") as f:
                    f.write(tag.encode() * 64)
            won.append(i)
        except GANLabError:
            pass
    results[tag] = won


@pytest.mark.skipif(os.name != "posix", reason="fork start method")
def test_two_processes_saving_the_same_names_never_overwrite(tmp_path):
    """200 rounds; in each both processes save the same new name at the same moment: exactly one wins,
    and the file holds the winner's bytes (check-then-replace loses 10-20% of rounds)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    rounds = 200
    barrier, manager = ctx.Barrier(2), ctx.Manager()
    results = manager.dict()
    procs = [ctx.Process(target=_racer, args=(str(tmp_path), tag, rounds, barrier, results)) for tag in "AB"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    a, b = set(results["A"]), set(results["B"])
    assert not a & b, f"{len(a & b)} rounds where both 'won' (one overwrote the other)"
    assert a | b == set(range(rounds)), "a round where nobody saved"
    for i in range(rounds):
        assert (tmp_path / f"r{i}.bin").read_bytes() == (b"A" if i in a else b"B") * 64
    assert sorted(os.listdir(tmp_path)) == sorted(f"r{i}.bin" for i in range(rounds))


def test_temporary_files_of_dead_processes_are_cleaned(tmp_path):
    import subprocess
    import sys
    import time

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    old = time.time() - 3600
    stale = tmp_path / f".tmp-{dead_pid}-abc.safetensors"
    mine = tmp_path / f".tmp-{os.getpid()}-def.safetensors"
    ancient = tmp_path / ".tmp-xyz.bin"
    for p in (stale, mine, ancient):
        p.write_bytes(b"half")
    os.utime(stale, (old, old))
    os.utime(ancient, (old - 2 * 86400, old - 2 * 86400))
    with atomic_write(tmp_path / "new.bin") as tmp:
        open(tmp, "wb").write(b"x")
    assert sorted(os.listdir(tmp_path)) == sorted(["new.bin", mine.name])


@pytest.mark.parametrize("name", [".", "..", "...", " ", "a/.", "./", "x" * 300, "sub/" + "y" * 250, "a\x01b"])
def test_names_that_name_no_file_are_refused(tmp_path, name):
    from gan_latent_lab.nodes.paths import output_path

    with pytest.raises(InputError):
        output_path(str(tmp_path), name, ".safetensors")


def test_a_folder_is_never_a_save_target(tmp_path):
    (tmp_path / "d.safetensors").mkdir()
    for overwrite in (False, True):
        with pytest.raises(GANLabError, match="folder"):
            with atomic_write(tmp_path / "d.safetensors", overwrite=overwrite) as tmp:
                open(tmp, "wb").write(b"x")
    assert (tmp_path / "d.safetensors").is_dir() and os.listdir(tmp_path) == ["d.safetensors"]


def test_a_model_whose_config_is_not_json_is_not_saved(tmp_path):
    """A configuration that could not be read back (NaN, which the loader refuses) is refused before writing."""
    gen = load_gan(face_dcgan_path())
    gen.config = {**gen.config, "z_dim": float("nan")}
    with pytest.raises(GANLabError, match="cannot be saved as JSON"):
        save_converted(gen, tmp_path / "bad.safetensors")
    assert not list(tmp_path.iterdir())
