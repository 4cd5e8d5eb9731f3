"""Load hostile corpus cases in a fresh process and report each outcome as one JSON line.

Run by tests/test_hostile_files.py: ``python3 hostile_runner.py <checkout> <corpus folder>``.  Before
a case starts its name is printed and flushed, so a case that kills the process (a segfault, the
kernel's out-of-memory killer) is named by the test instead of taking pytest down with it.  Peak
resident memory is read after every case (``ru_maxrss``: a case's growth is what it added to the peak)."""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import sys
import time


def _import_package(root: str):
    spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(root, "__init__.py"),
                                                  submodule_search_locations=[root])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gan_latent_lab"] = mod
    spec.loader.exec_module(mod)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(root: str, corpus: str) -> None:
    _import_package(root)
    sys.path.insert(0, os.path.join(root, "tests"))
    import hostile_corpus as hc  # noqa: E402
    from gan_latent_lab.directions.io import load_directions, load_latent  # noqa: E402
    from gan_latent_lab.directions.voynov import load_voynov  # noqa: E402
    from gan_latent_lab.errors import GANLabError  # noqa: E402
    from gan_latent_lab.loaders import load_encoder, load_gan  # noqa: E402
    from gan_latent_lab.loaders.vgg import read_lpips_weights, read_vgg16  # noqa: E402
    from gan_latent_lab.workflow import core_node_defs  # noqa: E402

    def load_image(path: str):
        """The workflow runner's LoadImage node, its input folder the corpus folder."""
        node = core_node_defs(os.path.join(corpus, "_out"), [], os.path.dirname(path))["LoadImage"]
        return node.call(image=os.path.basename(path))

    readers = {"load_gan": load_gan, "load_directions": load_directions, "load_latent": load_latent,
               "load_voynov": load_voynov, "read_vgg16": read_vgg16, "read_lpips_weights": read_lpips_weights,
               "load_encoder": load_encoder, "load_image": load_image}
    base = _peak_mb()
    for name in sorted(os.listdir(corpus)):
        print(json.dumps({"start": name}), flush=True)
        reader = hc.reader_for(name)
        t0 = time.perf_counter()
        result = {"case": name, "reader": reader}
        try:
            readers[reader](os.path.join(corpus, name))
        except GANLabError as e:
            result.update(outcome="refused", type=type(e).__name__, message=str(e))
        except BaseException as e:  # noqa: BLE001 - the point is to report anything that is not ours
            result.update(outcome="raw", type=type(e).__name__, message=str(e)[:300])
        else:
            result.update(outcome="loaded", message="")
        result.update(seconds=time.perf_counter() - t0, growth_mb=_peak_mb() - base)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
