import gan_latent_lab


def test_package_imports_from_this_checkout():
    import os

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert os.path.dirname(gan_latent_lab.__file__) == here
    assert "GANLabLoadModel" in gan_latent_lab.NODE_CLASS_MAPPINGS
