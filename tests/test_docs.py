"""The documentation: the site builds strictly, the API reference covers every module and every public
name has a docstring, and the README stays a short page whose preset table is generated."""

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import pytest

import bidense_keras
from bidense_keras import publish
from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"


def _modules():
    """Every module of the package (packages' ``__init__`` excluded) and the command's entry point, by dotted name."""
    return sorted([*(info.name for info in pkgutil.walk_packages(bidense_keras.__path__, "bidense_keras.")
                     if not info.ispkg), "bidense_keras_command"])


def test_the_documentation_site_builds_strictly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "models" / "index.html").is_file()
    assert "bidense_keras.loader.load" in (tmp_path / "site" / "reference" / "models" / "index.html").read_text()


def test_every_module_is_in_the_api_reference():
    documented = set()
    for page in (REPO_ROOT / "docs" / "reference").glob("*.md"):
        documented |= set(re.findall(r"^::: (\S+)$", page.read_text(), flags=re.M))
    assert set(_modules()) - documented == set()
    assert documented - set(_modules()) == set()  # no page names a module that is gone


def _overrides_a_library_method(cls, method):
    """Whether ``method`` of ``cls`` overrides one of a base class from another package (Keras' ``call``...)."""
    return any(hasattr(base, method) for base in cls.__mro__[1:] if not base.__module__.startswith("bidense_keras"))


def test_every_public_name_has_a_docstring():
    missing = []
    for name in _modules():
        module = importlib.import_module(name)
        if not inspect.getdoc(module):
            missing.append(name)
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or getattr(value, "__module__", None) != name:
                continue
            if (inspect.isfunction(value) or inspect.isclass(value)) and not inspect.getdoc(value):
                missing.append(f"{name}.{attribute}")
            if inspect.isclass(value):  # new public methods (Keras documents build, call, get_config, ...)
                missing += [f"{name}.{attribute}.{method}" for method, function in vars(value).items()
                            if inspect.isfunction(function) and not method.startswith("_")
                            and not _overrides_a_library_method(value, method) and not inspect.getdoc(function)]
    assert not missing, missing


def test_the_readme_is_short_and_its_preset_table_is_generated():
    text = README.read_text()
    assert len(text.splitlines()) <= 160
    assert text == publish.readme_with_table(text, publish.preset_table())
    assert "`bidense_upernet_demo_rooms_seg` | upernet | segmentation | bidense |" in text
    with pytest.raises(ValueError, match="markers"):
        publish.readme_with_table("no table here", "")


def test_the_readme_links_to_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README.read_text()):
        if not target.startswith("http"):
            assert (REPO_ROOT / target).exists(), target


@pytest.mark.slow
def test_the_readme_quickstart_runs(tmp_path, monkeypatch):
    block = re.search(r"## Quickstart\n\n```python\n(.*?)```", README.read_text(), flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(block, "README.md quickstart", "exec"), scope)  # noqa: S102 - the README's own code
    assert scope["classes"].shape == (4, 96, 128) and scope["metres"].shape == (4, 96, 128, 1)
    assert (tmp_path / "seg.tflite").stat().st_size > 100_000
