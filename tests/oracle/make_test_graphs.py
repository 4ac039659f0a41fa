#!/usr/bin/env python3
"""Small ONNX graphs with random weights that cover the operators EfficientNet-Lite does not use.

`resnet_style` (opset 11): Conv+BatchNormalization, MaxPool, residual Add, an unfolded
BatchNormalization, grouped and dilated Conv, AveragePool, Concat, GlobalAveragePool,
Flatten, Gemm, legacy Softmax, Clip with min/max inputs.

`mobilenet_style` (opset 17): Conv with auto_pad SAME_UPPER, HardSwish, depthwise Conv,
squeeze-excitation (ReduceMean, HardSigmoid, Mul), Sigmoid, Identity, Pad, Transpose,
Reshape, MatMul, Softmax, multiplication by a constant.

Usage: make_test_graphs.py OUT_DIR  (writes resnet_style.onnx, mobilenet_style.onnx)
"""

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Graph:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array, prefix="c"):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def weight(self, *shape, scale=None):
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        s = scale if scale is not None else (2.0 / fan_in) ** 0.5
        return self.const((self.rng.standard_normal(shape) * s).astype(np.float32), "w")

    def op(self, op_type, inputs, out=None, **attrs):
        out = out or self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=self.name(op_type), **attrs))
        return out

    def conv(self, x, cin, cout, k, group=1, bias=True, out=None, **attrs):
        inputs = [x, self.weight(cout, cin // group, k, k)]
        if bias:
            inputs.append(self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32), "b"))
        return self.op("Conv", inputs, out, kernel_shape=[k, k], group=group, **attrs)

    def batchnorm(self, x, c):
        r = self.rng
        params = [
            self.const((1 + 0.2 * r.standard_normal(c)).astype(np.float32)),
            self.const((0.1 * r.standard_normal(c)).astype(np.float32)),
            self.const((0.1 * r.standard_normal(c)).astype(np.float32)),
            self.const((0.5 + r.random(c)).astype(np.float32)),
        ]
        return self.op("BatchNormalization", [x] + params, epsilon=1e-3)

    def model(self, name, input_shape, outputs, opset):
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, [f"{o}_{i}" for i in range(r)]) for o, r in outputs.items()],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="vsearch-tests")
        model.ir_version = 7
        onnx.checker.check_model(model)
        return model


def resnet_style():
    g = Graph(1)
    x = g.conv("input", 3, 16, 3, pads=[1, 1, 1, 1])
    x = g.batchnorm(x, 16)
    x = g.op("Relu", [x])
    x = g.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    skip = x
    y = g.op("Relu", [g.conv(x, 16, 16, 3, pads=[1, 1, 1, 1])])
    y = g.conv(y, 16, 16, 3, pads=[1, 1, 1, 1])
    x = g.op("Relu", [g.op("Add", [y, skip])], out="block1")
    x = g.batchnorm(x, 16)  # after a Relu: stays a standalone BatchNormalization
    x = g.conv(x, 16, 32, 3, group=4, strides=[2, 2], pads=[1, 1, 1, 1])
    x = g.op("Clip", [x, g.const(np.array(0, np.float32)), g.const(np.array(6, np.float32))])
    x = g.conv(x, 32, 32, 3, dilations=[2, 2], pads=[2, 2, 2, 2], bias=False)
    a = g.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    b = g.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2], count_include_pad=1)
    c = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], dilations=[1, 1])
    x = g.op("Concat", [a, b, c], out="concat", axis=1)
    x = g.op("GlobalAveragePool", [x])
    x = g.op("Flatten", [x], out="pooled", axis=1)
    x = g.op("Gemm", [x, g.weight(10, 96), g.const(np.linspace(-1, 1, 10).astype(np.float32))], out="logits",
             transB=1, alpha=0.5, beta=2.0)
    g.op("Softmax", [x], out="probs", axis=1)
    return g.model("resnet_style", ["N", 3, 32, 32], {"probs": 2, "logits": 2, "pooled": 2}, 11)


def mobilenet_style():
    g = Graph(2)
    x = g.conv("input", 3, 16, 3, strides=[2, 2], auto_pad="SAME_UPPER")
    x = g.op("HardSwish", [x])
    x = g.conv(x, 16, 16, 3, group=16, auto_pad="SAME_UPPER")
    x = g.op("HardSwish", [x], out="dw")
    # Squeeze-excitation.
    s = g.op("ReduceMean", [x], axes=[2, 3], keepdims=1)
    s = g.op("Relu", [g.conv(s, 16, 8, 1)])
    s = g.op("HardSigmoid", [g.conv(s, 8, 16, 1)], alpha=0.2, beta=0.5)
    x = g.op("Mul", [x, s], out="se")
    x = g.conv(x, 16, 16, 1)
    x = g.op("Identity", [x], out="project")
    y = g.op("Sigmoid", [g.conv(x, 16, 16, 3, pads=[1, 1, 1, 1])])
    y = g.op("Mul", [y, x])  # swish-like gate on a computed tensor of the same shape
    y = g.op("Mul", [y, g.const(np.float32(0.5))])
    x = g.op("Add", [x, y], out="block")
    x = g.op("Pad", [x, g.const(np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))], mode="constant")
    x = g.op("Pad", [x, g.const(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], mode="reflect")
    x = g.conv(x, 16, 24, 3, strides=[2, 2])
    x = g.op("Transpose", [x], out="nhwc", perm=[0, 2, 3, 1])
    x = g.op("Reshape", [x, g.const(np.array([0, -1, 24], np.int64))])
    x = g.op("MatMul", [x, g.weight(24, 12)])
    e = g.op("ReduceMean", [x], out="embedding", axes=[1], keepdims=0)
    g.op("Softmax", [e], out="probs", axis=-1)
    return g.model("mobilenet_style", ["N", 3, 33, 33], {"probs": 2, "embedding": 2, "nhwc": 4}, 17)


GRAPHS = {"resnet_style": resnet_style, "mobilenet_style": mobilenet_style}


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, build in GRAPHS.items():
        onnx.save(build(), str(out / f"{name}.onnx"))
        print(out / f"{name}.onnx")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
