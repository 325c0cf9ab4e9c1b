"""What a ``pip install`` of the wheel gets: built here, installed into a fresh venv outside the repository.

The wheel has no ``weights/`` mirror: it carries the default presets packed (``bundled/``), so
``segmentation(pretrained=True)`` and ``depth(pretrained=True)`` work offline at once, while other presets
come from the Hub: here a local server speaking the Hub protocol that serves the published folders.
Dependencies come from this environment (a ``.pth`` file names its site-packages; nothing is downloaded),
while bidense_keras itself is only the installed wheel.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bidense_keras import compat, registry
from bidense_keras.models import UperNet
from bidense_keras.presets import DEFAULT_PRESETS
from bidense_keras.weights import model_arguments
from tests.conftest import REPO_ROOT, WEIGHTS_DIR
from tests.hub_server import HubServer
from tests.side_envs import REPOSITORY_BUILD, exclusive


pytestmark = pytest.mark.slow  # builds the wheel and installs it into a fresh venv

DEFAULTS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import bidense_keras as bk
    from bidense_keras import download
    assert bk.__file__.startswith(sys.prefix), bk.__file__  # the installed wheel, not the checkout
    assert download.source_checkout_mirror() is None
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    np.savez(sys.argv[1], segmentation=bk.segmentation(pretrained=True).predict(image, verbose=0),
             depth=bk.depth(pretrained=True).predict(image, verbose=0))
    print("ok", bk.load("bidense_upernet_demo_rooms_seg").class_names[0])
""")
HUB_SCRIPT = textwrap.dedent("""
    import numpy as np
    import bidense_keras as bk
    model = bk.load("fp32_upernet_demo_rooms_seg")
    print("ok", model.predict(np.full((1, 64, 96, 3), 128.0, np.float32), verbose=0).shape)
""")
HUB_PRESET = "fp32_upernet_demo_rooms_seg"  # not bundled


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    with exclusive(REPOSITORY_BUILD):
        # setuptools copies the modules into build/lib and never removes one deleted since: a build/ left by an
        # older checkout would put modules that no longer exist into the wheel.
        shutil.rmtree(REPO_ROOT / "build", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(out), str(REPO_ROOT)], check=True, capture_output=True)
    (path,) = out.glob("bidense_keras-*.whl")
    return path


def test_the_wheel_holds_exactly_the_tracked_modules_and_the_command(wheel):
    tracked = subprocess.run(["git", "ls-files", "bidense_keras*.py", "bidense_keras/**/*.py"], cwd=REPO_ROOT,
                             check=True, capture_output=True, text=True).stdout.split()
    with zipfile.ZipFile(wheel) as archive:
        packaged = [name for name in archive.namelist() if name.startswith("bidense_keras") and name.endswith(".py")]
        (entry_points,) = [name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")]
        commands = archive.read(entry_points).decode()
    assert "bidense_keras_command.py" in tracked
    assert sorted(packaged) == sorted(tracked)
    assert "bidense-keras = bidense_keras_command:main" in commands


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


def _offline(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("BIDENSE_KERAS_WEIGHTS", "HF_ENDPOINT", "PYTHONPATH")}
    return {**environment, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache"),
            "HF_HUB_DISABLE_TELEMETRY": "1"}


def test_the_wheel_holds_the_package_its_registry_and_the_packed_defaults_within_2_mb(wheel):
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    assert "bidense_keras/published_weights.json" in names and "bidense_keras/loader.py" in names
    assert not [name for name in names if name.endswith(".h5") or name.startswith(("tests/", "weights/"))]
    bundled = [info for info in archive.infolist() if info.filename.startswith("bidense_keras/bundled/")]
    entries = registry.read_registry()
    for preset in ("bidense_upernet_demo_rooms_seg", "bidense_upernet_demo_rooms_depth"):
        files = {info.filename.rsplit("/", 1)[1] for info in bundled if f"/{preset}/" in info.filename}
        assert files == {"config.json", "metadata.json", "model.bits.npz"}, preset
        for name in files:  # the very bytes the registry pins
            data = archive.read(f"bidense_keras/bundled/{preset}/{name}")
            assert entries[preset]["files"][name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert sum(info.file_size for info in bundled) <= 2 * 1024 * 1024


def test_an_installed_wheel_predicts_with_the_default_presets_offline(fresh_python, tmp_path):
    done = subprocess.run([str(fresh_python), "-c", DEFAULTS_SCRIPT, str(tmp_path / "outputs.npz")], cwd=tmp_path,
                          env=_offline(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok wall" in done.stdout
    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    installed = np.load(tmp_path / "outputs.npz")
    for task in ("segmentation", "depth"):  # the same model as the checkout's published .h5 (not its bits)
        folder = WEIGHTS_DIR / DEFAULT_PRESETS[task]
        model = UperNet(**model_arguments(folder))
        compat.load_weights_strictly(model, folder / "model.weights.h5")
        np.testing.assert_array_equal(installed[task], model.predict(image, verbose=0))


def test_an_installed_wheel_loads_other_presets_from_the_hub(fresh_python, tmp_path):
    entry = registry.read_registry()[HUB_PRESET]
    assert entry["revision"] == "main"  # the server's main branch; pinned commits once pushed
    files = {name: (WEIGHTS_DIR / HUB_PRESET / name).read_bytes() for name in entry["files"]}
    server = HubServer({(entry["repo_id"], "3" * 40): files}).start()
    online = {**_offline(tmp_path), "HF_ENDPOINT": server.url, "HF_HUB_CACHE": str(tmp_path / "cache")}
    del online["HF_HUB_OFFLINE"]
    try:
        done = subprocess.run([str(fresh_python), "-c", HUB_SCRIPT], cwd=tmp_path, env=online,
                              capture_output=True, text=True, timeout=600)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok (1, 64, 96, 9)" in done.stdout
    assert server.count("GET") == 3  # config, metadata and weights came from the Hub server

    done = subprocess.run([str(fresh_python), "-c", HUB_SCRIPT], cwd=tmp_path, env=_offline(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "not in the cache" in done.stderr and "no repository mirror (installed package)" in done.stderr
