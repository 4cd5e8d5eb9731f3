"""Issues 8 and 17: every hostile or broken file and input is refused with our error naming it.

The file corpus (tests/hostile_corpus.py) runs in one fresh subprocess (tests/hostile_runner.py), so a
case that would crash the interpreter fails this test, naming the case, instead of killing pytest; the
same run measures each case's time and peak memory.  Inputs (node widgets, names, paths, a held run)
run in-process: they cannot crash, and must be refused before any work starts."""

import json
import os
import subprocess
import sys
import time
import types
from collections import Counter

import numpy as np
import pytest
import torch

from gan_latent_lab.errors import CheckpointError, GANLabError
from gan_latent_lab.loaders import load_gan

import hostile_corpus as hc

TIME_LIMIT_S = 10.0
MEMORY_LIMIT_MB = 1024
CLASSES = ("c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def sentinel_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sentinel")


@pytest.fixture(scope="module")
def corpus(sentinel_dir):
    return hc.corpus(str(sentinel_dir / hc.SENTINEL_NAME))


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, corpus):
    d = tmp_path_factory.mktemp("corpus")
    for name, data in corpus:
        hc.write_case(str(d), name, data)
    return d


@pytest.fixture(scope="module")
def outcomes(corpus_dir, sentinel_dir):
    """Every file case loaded in one fresh process: {name: result}."""
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "hostile_runner.py"), ROOT, str(corpus_dir)],
                         capture_output=True, text=True, timeout=900)
    results, started = {}, None
    for line in run.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if "start" in rec:
            started = rec["start"]
        else:
            results[rec["case"]] = rec
    assert run.returncode == 0, f"the runner died (rc {run.returncode}) while loading {started!r}: {run.stderr[-2000:]}"
    assert not (sentinel_dir / hc.SENTINEL_NAME).exists(), "a hostile file ran code"
    return results


def _class(name: str) -> str:
    head = name.split("_")[0]
    return head if head in CLASSES else "issue8"


def test_corpus_is_large_enough_and_covers_every_class(corpus):
    files = Counter(_class(n) for n, _ in corpus)
    inputs = Counter(_class(n) for n, _ in hc.hostile_inputs())
    total = files + inputs
    assert len({n for n, _ in corpus}) == len(corpus)
    assert sum(total.values()) >= 250, total
    assert all(total[c] >= 5 for c in CLASSES), total
    kinds = {os.path.splitext(n)[1] for n, _ in corpus}
    assert {".pkl", ".pt", ".pth", ".safetensors", ".npz", ".npy", ".voynov"} <= kinds
    readers = Counter(hc.reader_for(n) for n, _ in corpus)
    assert all(readers[r] >= 20 for r in ("load_gan", "load_directions", "load_latent", "read_vgg16")), readers


def test_every_hostile_file_is_refused_by_our_error_naming_it(corpus, outcomes):
    problems = []
    for name, data in corpus:
        r = outcomes.get(name)
        if r is None:
            problems.append((name, "no result"))
            continue
        if r["outcome"] != "refused":
            problems.append((name, r["outcome"], r["type"], r["message"][:200]))
            continue
        named = [name] + (list(data) if isinstance(data, dict) else [])
        if not any(n in r["message"] for n in named):
            problems.append((name, "does not name the file", r["message"][:200]))
        want = hc.EXPECT.get(name)
        if want and want.lower() not in r["message"].lower():
            problems.append((name, f"message lacks {want!r}", r["message"][:200]))
    assert not problems, f"{len(problems)} cases: {problems[:12]}"


def test_no_case_takes_long_or_much_memory(outcomes):
    slow = [(n, round(r["seconds"], 1)) for n, r in outcomes.items() if r["seconds"] > TIME_LIMIT_S]
    big = [(n, round(r["growth_mb"])) for n, r in outcomes.items() if r["growth_mb"] > MEMORY_LIMIT_MB]
    assert not slow, f"cases over {TIME_LIMIT_S} s: {slow}"
    assert not big, f"peak memory grew past {MEMORY_LIMIT_MB} MB at: {big[:3]}"


def test_the_dtype_and_storage_attacks_are_refused_for_their_reason(outcomes):
    """Spot checks that the refusals come from the checks, not from an unrelated failure."""
    for name, fragment in [("c1_dtype_field_offset_far.pkl", "fields"), ("c2_pickle_offset_past_end.pkl", "element 103"),
                           ("c2_zip_stride0_expand_gb.pt", "4096.0 MiB"), ("c3_zip_deflate_bomb.pt", "40.0 MiB"),
                           ("c4_nvlabs_sg2_resolution_2e30.pkl", "1073741824"), ("c8_run_step_negative.voynov", "-1000000000"),
                           ("c2_vgg_ts_storage_entry_smaller.pt", "holds 16 bytes, but 1000 float32 values need 4000"),
                           ("c2_vgg_ts_stride0_4gib_extra.pt", "4152.1 MiB"), ("c3_vgg_ts_deflate_bomb.pt", "40.0 MiB"),
                           ("c3_lat_npz_deflate_bomb.npz", "40.0 MiB"), ("c3_lat_pt_deflate_bomb.pt", "40.0 MiB"),
                           ("c2_lat_pt_stride0_expand_gb.pt", "4096.0 MiB"), ("c2_run_stride0_expand_gb.voynov", "4096.0 MiB"),
                           ("c4_native_brock_channels_implies_terabytes.safetensors", "implies"),
                           ("c4_tf_v1_resolution_disagrees.pkl", "variables make 16"),
                           ("c1_vgg_ts_global_os_system.pt", "system'")]:
        assert fragment in outcomes[name]["message"], (name, outcomes[name]["message"])


def test_the_new_builders_make_readable_files_when_not_hostile(tmp_path):
    """Controls for the issue-15/19 cases: the same builders without the attack give files that load, so
    each refusal above is the attack's, not a malformed builder's."""
    from gan_latent_lab.directions.io import load_latent
    from gan_latent_lab.loaders.vgg import read_lpips_weights, read_vgg16

    (tmp_path / "vgg16.pt").write_bytes(hc.vgg_torchscript(value=0.25))
    vgg = read_vgg16(tmp_path / "vgg16.pt")
    assert vgg.layout == "nvidia" and len(vgg.convs) == 13 and vgg.convs[12][0].shape == (512, 512, 3, 3)
    assert float(vgg.convs[3][0].min()) == float(vgg.convs[3][0].max()) == 0.25 and float(vgg.lin[4].sum()) == 128.0
    (tmp_path / "vgg.pth").write_bytes(hc._torch_bytes(hc._lpips_state()))
    assert [t.numel() for t in read_lpips_weights(tmp_path / "vgg.pth")] == [64, 128, 256, 512, 512]
    (tmp_path / "ours.npz").write_bytes(hc._ours_npz())
    lat = load_latent(tmp_path / "ours.npz")
    assert lat.fingerprint == "abc" and lat.seeds == [0, 1] and lat.codes.shape == (2, 1, 8)
    (tmp_path / "v1.pkl").write_bytes(hc._v1_pickle(hc.V1_STATIC))
    assert load_gan(tmp_path / "v1.pkl").arch == "stylegan-genforce"
    folder = tmp_path / "sngan"
    hc.write_case(str(tmp_path), "sngan", {"generator.pt": hc._oracle_bytes("sngan_sn_resnet32", "generator.pt"),
                                           "args.json": hc._oracle_bytes("sngan_sn_resnet32", "args.json")})
    assert load_gan(folder).arch == "sngan-resnet"


def test_the_encoder_builders_make_readable_files_when_not_hostile(tmp_path):
    """Controls for the issue-16 cases: without the attack, the same builders give an encoder (with and
    without its decoder), e4e direction files and images that load, so each refusal is the attack's.
    float16 / bfloat16 weights and options that the official code accepts (64.0, 0 / 1, None) load too."""
    from gan_latent_lab.directions.io import load_directions
    from gan_latent_lab.loaders import load_encoder
    from gan_latent_lab.workflow import load_image

    (tmp_path / "e4e.pt").write_bytes(hc.encoder_file())
    enc = load_encoder(tmp_path / "e4e.pt")
    assert (enc.kind, enc.n_styles, enc.w_dim, enc.decoder) == ("e4e", 2, 8, None)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    codes = enc.encode(x)
    assert codes.shape == (1, 2, 8) and bool(torch.isfinite(codes).all())
    for name, sd in [("half", {k: v.half() if v.is_floating_point() else v for k, v in hc.tiny_encoder_state().items()}),
                     ("bf16", {k: v.bfloat16() if v.is_floating_point() else v for k, v in hc.tiny_encoder_state().items()})]:
        (tmp_path / f"{name}.pt").write_bytes(hc.encoder_file(sd))
        low = load_encoder(tmp_path / f"{name}.pt").encode(x)
        assert low.dtype == torch.float32 and float((low - codes).abs().max()) < 0.05 * float(codes.abs().max()), name
    for opts in ({**hc.TINY_OPTS, "stylegan_size": 4.0, "start_from_latent_avg": 1},
                 {**hc.TINY_OPTS, "start_from_latent_avg": None}):
        (tmp_path / "opts.pt").write_bytes(hc.encoder_file(opts=opts))
        assert load_encoder(tmp_path / "opts.pt").adds_latent_avg == bool(opts["start_from_latent_avg"])
    (tmp_path / "psp_w.pt").write_bytes(hc.encoder_with_decoder())
    psp = load_encoder(tmp_path / "psp_w.pt")
    assert psp.kind == "psp_w" and (psp.decoder.num_ws, psp.decoder.w_dim) == (8, 32)
    for name, obj in [("age.pt", torch.ones(1, 8)), ("pca.pt", {"comp": torch.ones(2, 1, 8), "std": torch.ones(2)})]:
        (tmp_path / name).write_bytes(hc._torch_bytes(obj))
        assert load_directions(tmp_path / name).vectors.shape[1] == 8
    (tmp_path / "noise.png").write_bytes(hc.small_png())
    image, mask = load_image(str(tmp_path / "noise.png"))
    expected = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)  # what small_png drew
    assert image.shape == (1, 24, 32, 3) and torch.equal(image[0], torch.from_numpy(expected).float() / 255)
    (tmp_path / "zeros.png").write_bytes(hc.png_bytes(64, 48))
    assert torch.equal(load_image(str(tmp_path / "zeros.png"))[0], torch.zeros(1, 48, 64, 3))
    (tmp_path / "two.gif").write_bytes(hc.gif_bytes(2, 16))
    frames = load_image(str(tmp_path / "two.gif"))[0]
    assert frames.shape == (2, 16, 16, 3) and float(frames[0].max()) == 0.0 and float(frames[1].min()) == 1.0


@pytest.fixture()
def ctx(tmp_path, monkeypatch):
    from gan_latent_lab.nodes import direction_nodes, edit_nodes, ganspace_nodes, latent_nodes, model_nodes, voynov_nodes

    models = tmp_path / "models"
    hc.input_files(str(models))
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(models))
    monkeypatch.setenv("GAN_LATENT_LAB_DEVICE", "cpu")
    name, blob = hc.valid_fixtures()[2]
    (tmp_path / name).write_bytes(blob)
    model = load_gan(tmp_path / name)
    latent = model_nodes.GANLatentFromSeed().sample(model, 0, 2, 1.0, 0, "0")[0]
    dirs = direction_nodes.SeFaDirections().find(model, "all", 3)[0]
    nodes = {"model": model_nodes, "direction": direction_nodes, "edit": edit_nodes, "ganspace": ganspace_nodes,
             "voynov": voynov_nodes, "latent": latent_nodes}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return types.SimpleNamespace(model=model, latent=latent, dirs=dirs, models=str(models), tmp=str(scratch), nodes=nodes)


def test_every_hostile_input_is_refused_before_work(ctx, tmp_path):
    problems = []
    for name, call in hc.hostile_inputs():
        before = set(_tree(tmp_path))
        t0 = time.perf_counter()
        try:
            call(ctx)
        except GANLabError as e:
            want = hc.EXPECT.get(name)
            if want and want.lower() not in str(e).lower():
                problems.append((name, f"message lacks {want!r}", str(e)[:200]))
        except Exception as e:  # noqa: BLE001
            problems.append((name, type(e).__name__, str(e)[:160]))
        else:
            problems.append((name, "accepted"))
        took = time.perf_counter() - t0
        if took > 3.0:
            problems.append((name, f"took {took:.1f} s (work started)"))
        written = [p for p in set(_tree(tmp_path)) - before if os.path.isfile(p) and not p.endswith("plain_file")]
        if written:
            problems.append((name, "wrote", written[:3]))
        assert not os.path.exists(os.path.join(os.path.dirname(ctx.tmp), "x")), name
    assert not problems, problems


def _tree(root):
    for folder, dirs, files in os.walk(root):
        for n in dirs + files:
            yield os.path.join(folder, n)


def test_valid_fixtures_and_edge_cases_load(tmp_path):
    """The same tiny DCGAN in every container, safetensors whose header length reads like a pickle
    (640, 896, 1152, 1408 bytes: ``80 02`` .. ``80 05``) and float16 / bfloat16 weights all load."""
    ref = None
    for name, blob in hc.valid_fixtures() + hc.valid_edge_cases():
        p = tmp_path / name
        p.write_bytes(blob)
        gen = load_gan(p)
        assert gen.arch == "dcgan" and gen.resolution == 8, name
        w = gen.state_dict()["main.0.weight"]
        ref = w if ref is None else ref
        assert torch.allclose(w, ref, atol=1e-2, rtol=1e-2), name
    assert (tmp_path / "header_896.safetensors").read_bytes()[:2] == b"\x80\x03"


def test_forbidden_globals_are_named(corpus_dir):
    for name, glob in [("reduce_os_system.pkl", "os.system"), ("reduce_eval.pkl", "builtins.eval"),
                       ("reduce_subprocess_popen.pkl", "subprocess.Popen"), ("torch_zip_os_system.pt", "system"),
                       ("reduce_posix_system.pkl", "posix.system"), ("reduce_import.pkl", "builtins.__import__")]:
        with pytest.raises(CheckpointError, match=glob.replace(".", r"\.")):
            load_gan(corpus_dir / name)


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
