"""safetensors read and written without the package (checked against it when installed),
and the activation files of ``qbelief probe --activations``."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from nets.tensorfile import (
    load_activation_file,
    load_safetensors,
    read_safetensors_metadata,
    save_activation_file,
    save_safetensors,
)

ARRAYS = {"f64": np.linspace(0, 1, 12).reshape(3, 4), "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
          "f16": np.array([1.5, -2.0], dtype=np.float16), "i64": np.array([[-1, 2**40]], dtype=np.int64),
          "i32": np.arange(5, dtype=np.int32), "i8": np.array([-128, 127], dtype=np.int8),
          "u8": np.arange(4, dtype=np.uint8), "b": np.array([True, False, True]), "empty": np.zeros((0, 2), np.float32),
          "scalar": np.array(3.25)}


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k])


def test_round_trip_every_dtype_and_layout(tmp_path):
    p = save_safetensors(tmp_path / "x.safetensors", ARRAYS, metadata={"run": "7"})
    _same(load_safetensors(p), ARRAYS)
    assert read_safetensors_metadata(p) == {"run": "7"}
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert n % 8 == 0 and header["f32"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": header["f32"]["data_offsets"]}
    ends = sorted(v["data_offsets"] for k, v in header.items() if k != "__metadata__")
    assert ends[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ends, ends[1:])) and ends[-1][1] == len(raw) - 8 - n
    # big-endian input is stored little-endian
    _same(load_safetensors(save_safetensors(tmp_path / "be.safetensors", {"x": ARRAYS["f64"].astype(">f8")})),
          {"x": ARRAYS["f64"]})


def test_bfloat16_and_tensors(tmp_path):
    t = {"bf": torch.tensor([[1.0, -2.5], [0.1, 3e5]]).to(torch.bfloat16), "f": torch.ones(3)}
    back = load_safetensors(save_safetensors(tmp_path / "t.safetensors", t))
    assert back["bf"].dtype == np.float32
    np.testing.assert_array_equal(back["bf"], t["bf"].float().numpy())
    np.testing.assert_array_equal(back["f"], np.ones(3, np.float32))


def test_against_the_safetensors_package(tmp_path):
    st = pytest.importorskip("safetensors")
    from safetensors.numpy import load_file, save_file
    from safetensors.torch import load_file as load_torch

    ours = save_safetensors(tmp_path / "ours.safetensors", ARRAYS, metadata={"a": "b"})
    _same(load_file(ours), ARRAYS)
    with st.safe_open(str(ours), "np") as f:
        assert f.metadata() == {"a": "b"}
    save_file(ARRAYS, tmp_path / "theirs.safetensors", metadata={"c": "d"})
    _same(load_safetensors(tmp_path / "theirs.safetensors"), ARRAYS)
    assert read_safetensors_metadata(tmp_path / "theirs.safetensors") == {"c": "d"}
    bf = {"w": torch.randn(4, 3).to(torch.bfloat16)}
    save_safetensors(tmp_path / "bf.safetensors", bf)
    assert torch.equal(load_torch(tmp_path / "bf.safetensors")["w"], bf["w"])


def test_malformed_files_are_refused(tmp_path):
    p = save_safetensors(tmp_path / "ok.safetensors", {"x": np.arange(4, dtype=np.float32)})
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    cases = {
        "short": (raw[:5], "shorter than its 8-byte header"),
        "huge": (struct.pack("<Q", 10**9) + raw[8:], "exceeds the file size"),
        "json": (raw[:8] + b"{" * n + raw[8 + n:], "not JSON"),
        "truncated": (raw[:-4], "inconsistent with shape"),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=msg):
            load_safetensors(tmp_path / name)
    bad = json.dumps({"x": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "dtype").write_bytes(struct.pack("<Q", len(bad)) + bad + bytes(8))
    with pytest.raises(ValueError, match="has dtype 'C64'"):
        load_safetensors(tmp_path / "dtype")
    with pytest.raises(ValueError, match="cannot store"):
        save_safetensors(tmp_path / "c.safetensors", {"z": np.ones(2, complex)})


@pytest.mark.parametrize("suffix", [".npz", ".pt", ".safetensors"])
def test_activation_files(tmp_path, suffix):
    rng = np.random.default_rng(0)
    tok = rng.integers(0, 3, size=(5, 4))
    acts = {"blocks.0.resid_post": rng.normal(size=(5, 4, 6)).astype(np.float32)}
    unt = {"blocks.0.resid_post": rng.normal(size=(5, 4, 6)).astype(np.float32)}
    p = save_activation_file(tmp_path / f"a{suffix}", tok, acts, untrained=unt, weights=np.arange(1, 6.0))
    f = load_activation_file(p)
    np.testing.assert_array_equal(f.tokens, tok)
    np.testing.assert_array_equal(f.activations["blocks.0.resid_post"], acts["blocks.0.resid_post"])
    np.testing.assert_array_equal(f.untrained["blocks.0.resid_post"], unt["blocks.0.resid_post"])
    np.testing.assert_array_equal(f.weights, np.arange(1, 6.0))
    # tokens from a separate file
    save_activation_file(tmp_path / f"t{suffix}", tok, {})
    np.save(tmp_path / "tok.npy", tok)
    np.savez(tmp_path / "only.npz", x=acts["blocks.0.resid_post"])
    for tokens in (tmp_path / f"t{suffix}", tmp_path / "tok.npy"):
        np.testing.assert_array_equal(load_activation_file(tmp_path / "only.npz", tokens=tokens).tokens, tok)


def test_activation_file_errors(tmp_path):
    np.savez(tmp_path / "flat.npz", tokens=np.zeros((2, 3), int), x=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must be arrays \(N, L, d\)"):
        load_activation_file(tmp_path / "flat.npz")
    (tmp_path / "a.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="activation files end in .npz, .pt, .safetensors"):
        load_activation_file(tmp_path / "a.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_activation_file(tmp_path / "missing.npz")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="dict of named tensors"):
        load_activation_file(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="activation files end in"):
        save_activation_file(tmp_path / "a.csv", np.zeros((1, 1), int), {})
