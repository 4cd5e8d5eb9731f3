"""Issue 8: every hostile or broken file is refused with our error naming it; nothing runs."""

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from gan_latent_lab.errors import CheckpointError
from gan_latent_lab.loaders import load_gan

import hostile_corpus as hc

TIME_LIMIT_S = 2.0
MEMORY_LIMIT_MB = 500


@pytest.fixture(scope="module")
def sentinel_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sentinel")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, sentinel_dir):
    d = tmp_path_factory.mktemp("corpus")
    for name, blob in hc.corpus(str(sentinel_dir / hc.SENTINEL_NAME)):
        (d / name).write_bytes(blob)
    return d


def test_corpus_is_large_enough(corpus_dir):
    names = os.listdir(corpus_dir)
    assert len(names) >= 40
    kinds = {os.path.splitext(n)[1] for n in names}
    assert {".pkl", ".pt", ".pth", ".safetensors"} <= kinds


def test_valid_fixtures_load(tmp_path):
    for name, blob in hc.valid_fixtures():
        p = tmp_path / name
        p.write_bytes(blob)
        gen = load_gan(p)
        assert gen.arch == "dcgan" and gen.resolution == 8


def test_every_hostile_file_is_refused(corpus_dir, sentinel_dir):
    slow = []
    for name in sorted(os.listdir(corpus_dir)):
        t0 = time.perf_counter()
        with pytest.raises(CheckpointError) as e:
            load_gan(corpus_dir / name)
        took = time.perf_counter() - t0
        assert name in str(e.value), (name, str(e.value))
        assert not (sentinel_dir / hc.SENTINEL_NAME).exists(), f"{name} ran code"
        if took > TIME_LIMIT_S:
            slow.append((name, took))
    assert not slow, f"files that took longer than {TIME_LIMIT_S} s: {slow}"


def test_forbidden_globals_are_named(corpus_dir):
    for name, glob in [("reduce_os_system.pkl", "os.system"), ("reduce_eval.pkl", "builtins.eval"),
                       ("reduce_subprocess_popen.pkl", "subprocess.Popen"), ("torch_zip_os_system.pt", "system"),
                       ("reduce_posix_system.pkl", "posix.system"), ("reduce_import.pkl", "builtins.__import__")]:
        with pytest.raises(CheckpointError, match=glob.replace(".", r"\.")):
            load_gan(corpus_dir / name)


def test_corpus_stays_under_memory_bound(corpus_dir, sentinel_dir):
    """Load the whole corpus in a fresh process and watch its peak memory after each file."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = f"""
import importlib.util, json, os, resource, sys
spec = importlib.util.spec_from_file_location("gan_latent_lab", {os.path.join(root, '__init__.py')!r},
                                              submodule_search_locations=[{root!r}])
mod = importlib.util.module_from_spec(spec); sys.modules["gan_latent_lab"] = mod; spec.loader.exec_module(mod)
from gan_latent_lab.loaders import load_gan
from gan_latent_lab.errors import CheckpointError
import torch  # noqa: F401  (baseline includes torch)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
worst = []
for name in sorted(os.listdir({str(corpus_dir)!r})):
    try:
        load_gan(os.path.join({str(corpus_dir)!r}, name))
    except CheckpointError:
        pass
    worst.append((name, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base))
print(json.dumps(worst))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    growth = json.loads(out.stdout.strip().splitlines()[-1])
    over = [(n, g) for n, g in growth if g > MEMORY_LIMIT_MB]
    assert not over, f"peak memory grew past {MEMORY_LIMIT_MB} MB at: {over[:3]}"
    assert not (sentinel_dir / hc.SENTINEL_NAME).exists()


def test_flipped_bytes_load_or_refuse_cleanly(tmp_path):
    """A flipped byte either still loads (it hit tensor data) or raises our error, never anything else."""
    import numpy as np

    rng = np.random.default_rng(1)
    for name, blob in hc.valid_fixtures():
        for i in range(15):
            data = bytearray(blob)
            pos = int(rng.integers(0, len(data)))
            data[pos] ^= 0xFF
            p = tmp_path / f"flip{i}_{name}"
            p.write_bytes(bytes(data))
            start = time.perf_counter()
            try:
                gen = load_gan(p)
            except CheckpointError as e:
                assert p.name in str(e)
            else:
                assert isinstance(gen, torch.nn.Module)
            assert time.perf_counter() - start < 2.0, p.name


def test_the_hostile_pickles_really_run_code_when_unpickled_naively(tmp_path):
    """Control: plain pickle.loads of the corpus' os.system file does create the sentinel."""
    import pickle

    target = tmp_path / "control"
    blob = dict(hc.hostile_pickles(str(target)))["reduce_os_system.pkl"]
    pickle.loads(blob)
    assert target.exists()
