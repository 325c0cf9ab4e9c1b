"""What a ``pip install`` of the wheel gets: built here, installed into a fresh venv outside the repository.

The wheel has no ``weights/`` mirror, so ``segmentation(pretrained=True)`` goes to the Hub: here a local
server speaking the Hub protocol that serves the published folders. Dependencies come from this
environment (a ``.pth`` file names its site-packages; nothing is downloaded), while bidense_keras itself
is only the installed wheel.
"""

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

from bidense_keras import registry
from tests.conftest import REPO_ROOT, WEIGHTS_DIR
from tests.hub_server import HubServer

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import bidense_keras as bk
    from bidense_keras import download
    assert bk.__file__.startswith(sys.prefix), bk.__file__  # the installed wheel, not the checkout
    assert download.source_checkout_mirror() is None
    image = np.full((1, 64, 96, 3), 128.0, np.float32)
    labels = bk.segmentation(pretrained=True).predict(image, verbose=0).argmax(-1)
    depth = bk.depth(pretrained=True).predict(image, verbose=0)
    print("ok", labels.shape, depth.shape, bk.load("bidense_upernet_demo_rooms_seg").class_names[0])
""")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO_ROOT)], check=True, capture_output=True)
    (path,) = out.glob("bidense_keras-*.whl")
    return path


@pytest.fixture(scope="module")
def fresh_python(wheel, tmp_path_factory):
    """A venv outside the repository with only the wheel installed, and this environment's dependencies."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_the_wheel_holds_the_package_and_its_registry_but_no_weights(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "bidense_keras/published_weights.json" in names and "bidense_keras/loader.py" in names
    assert not [name for name in names if name.endswith(".h5") or name.startswith(("tests/", "weights/"))]


def test_an_installed_wheel_loads_the_default_presets_from_the_hub(fresh_python, tmp_path):
    entries = registry.read_registry()
    repos = {}
    for preset in ("bidense_upernet_demo_rooms_seg", "bidense_upernet_demo_rooms_depth"):
        assert entries[preset]["revision"] == "main"  # the server's main branch; pinned commits once pushed
        files = {name: (WEIGHTS_DIR / preset / name).read_bytes() for name in entries[preset]["files"]}
        repos[(entries[preset]["repo_id"], "3" * 40)] = files
    server = HubServer(repos).start()
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("BIDENSE_KERAS_WEIGHTS", "HF_HUB_OFFLINE", "PYTHONPATH")}
    environment.update(HF_ENDPOINT=server.url, HF_HUB_CACHE=str(tmp_path / "cache"), HF_HUB_DISABLE_TELEMETRY="1")
    try:
        done = subprocess.run([str(fresh_python), "-c", SCRIPT], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok (1, 64, 96) (1, 64, 96, 1) wall" in done.stdout
    assert server.count("GET") >= 2 * 3  # the files came from the Hub server, not from the checkout

    offline = {**environment, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    done = subprocess.run([str(fresh_python), "-c", SCRIPT], cwd=tmp_path, env=offline, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode != 0
    assert "not in the cache" in done.stderr and "no repository mirror (installed package)" in done.stderr
