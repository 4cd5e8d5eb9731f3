"""Make ``gan_latent_lab`` import from this checkout, whatever the folder is called or installed as."""

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "gan_latent_lab" not in sys.modules or os.path.dirname(sys.modules["gan_latent_lab"].__file__) != ROOT:
    for name in [m for m in sys.modules if m == "gan_latent_lab" or m.startswith("gan_latent_lab.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["gan_latent_lab"] = module
    spec.loader.exec_module(module)
