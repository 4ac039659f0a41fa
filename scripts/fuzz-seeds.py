"""Writes the fuzz seeds that need an image or ONNX encoder: Tests/Fuzz/corpus/{image,exif,onnx}/.

Run once with the project's venv (Pillow, onnx) when the seeds should change; the seeds are committed.
`vsearch-fuzz make-seeds` writes the others (index, payload, multipart, sources) with vsearch's own writers.
"""

import io
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else "Tests/Fuzz/corpus"


def save(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


def picture(mode, size=(8, 6)):
    image = Image.new("RGB", size)
    image.putdata([(x * 30 % 256, y * 40 % 256, (x + y) * 20 % 256) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def encoded(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exif(orientation):
    data = Image.Exif()
    data[0x0112] = orientation
    return data.tobytes()


images = {
    "baseline.jpg": encoded(picture("RGB"), "JPEG", quality=80),
    "progressive.jpg": encoded(picture("RGB"), "JPEG", quality=70, progressive=True),
    "gray.jpg": encoded(picture("L"), "JPEG"),
    "cmyk.jpg": encoded(picture("CMYK"), "JPEG"),
    "rotated.jpg": encoded(picture("RGB"), "JPEG", exif=exif(6)),
    "rgb.png": encoded(picture("RGB"), "PNG"),
    "rgba.png": encoded(picture("RGBA"), "PNG"),
    "palette.png": encoded(picture("P"), "PNG"),
    "gray16.png": encoded(picture("I;16"), "PNG"),
    "gray-alpha.png": encoded(picture("LA"), "PNG"),
    "rotated.png": encoded(picture("RGB"), "PNG", exif=exif(8)),
    "lossy.webp": encoded(picture("RGB"), "WEBP", quality=60),
    "lossless.webp": encoded(picture("RGBA"), "WEBP", lossless=True),
    "rotated.webp": encoded(picture("RGB"), "WEBP", exif=exif(3)),
}
for name, data in images.items():
    save("image", name, data)
    if name.startswith("rotated"):
        save("exif", name, data)


def tensor(value):
    array = np.asarray(value)
    return array if array.dtype == np.int64 else array.astype(np.float32)


def model(nodes, initializers, input_shape, output, path):
    graph = helper.make_graph(
        nodes, "fuzz-seed",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(tensor(value), name) for name, value in initializers.items()],
    )
    save("onnx", path, helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())


rng = np.random.default_rng(7)
model(
    [helper.make_node("Conv", ["input", "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
     helper.make_node("BatchNormalization", ["conv", "s", "bias", "mean", "var"], ["bn"]),
     helper.make_node("Clip", ["bn", "lo", "hi"], ["relu6"]),
     helper.make_node("GlobalAveragePool", ["relu6"], ["pool"]),
     helper.make_node("Flatten", ["pool"], ["flat"]),
     helper.make_node("Gemm", ["flat", "fc", "fcb"], ["out"], transB=1)],
    {"w": rng.standard_normal((4, 3, 3, 3)), "b": np.zeros(4), "s": np.ones(4), "bias": np.zeros(4),
     "mean": np.zeros(4), "var": np.ones(4), "lo": np.array(0.0), "hi": np.array(6.0),
     "fc": rng.standard_normal((2, 4)), "fcb": np.zeros(2)},
    [1, 3, 8, 8], "out", "conv-bn-gemm.onnx")
model(
    [helper.make_node("Conv", ["input", "dw"], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3),
     helper.make_node("HardSwish", ["d"], ["h"]),
     helper.make_node("Add", ["h", "input"], ["a"]),
     helper.make_node("MaxPool", ["a"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
     helper.make_node("ReduceMean", ["m"], ["r"], axes=[2, 3], keepdims=0),
     helper.make_node("Softmax", ["r"], ["out"], axis=1)],
    {"dw": rng.standard_normal((3, 1, 3, 3))},
    [1, 3, 8, 8], "out", "depthwise-residual.onnx")
model(
    [helper.make_node("Pad", ["input", "pads"], ["p"], mode="reflect"),
     helper.make_node("Transpose", ["p"], ["t"], perm=[0, 1, 3, 2]),
     helper.make_node("Reshape", ["t", "shape"], ["r"]),
     helper.make_node("MatMul", ["r", "mm"], ["out"])],
    {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64), "shape": np.array([1, 300], dtype=np.int64),
     "mm": rng.standard_normal((300, 2))},
    [1, 3, 8, 8], "out", "pad-transpose-matmul.onnx")
print(f"fuzz seeds written under {root}")
