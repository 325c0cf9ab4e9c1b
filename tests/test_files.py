import pytest

from bidense_keras.files import atomic_path, write_bytes_atomic, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "a" / "config.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["config.json"]


def test_temporary_keeps_the_suffixes_and_replaces_on_success(tmp_path):
    target = tmp_path / "model.weights.h5"
    with atomic_path(target) as temporary:
        assert temporary.name.endswith(".weights.h5") and temporary.parent == tmp_path
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert write_bytes_atomic(target, b"x").read_bytes() == b"x"
