"""Property-based fuzzing of the loaders: any bytes either load or raise our CheckpointError."""

import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gan_latent_lab.errors import CheckpointError
from gan_latent_lab.loaders import GANGenerator, load_gan

import hostile_corpus as hc

FIXTURES = hc.valid_fixtures()
SETTINGS = settings(max_examples=120, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _load_bytes(data: bytes, ext: str):
    fd, path = tempfile.mkstemp(suffix=ext)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            gen = load_gan(path)
        except CheckpointError as e:
            assert os.path.basename(path) in str(e)
            return None
        assert isinstance(gen, GANGenerator)
        return gen
    finally:
        os.remove(path)


@SETTINGS
@given(st.binary(max_size=4096), st.sampled_from([".pt", ".pth", ".pkl", ".safetensors", ".bin"]))
def test_random_bytes(data, ext):
    _load_bytes(data, ext)


@SETTINGS
@given(st.integers(0, len(FIXTURES) - 1), st.data())
def test_mutated_fixtures(which, data):
    name, blob = FIXTURES[which]
    blob = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(blob)))
    _load_bytes(bytes(blob[:cut]), os.path.splitext(name)[1])


@SETTINGS
@given(st.binary(min_size=1, max_size=512))
def test_pickle_prefixed_garbage(data):
    _load_bytes(b"\x80\x02" + data, ".pkl")
