"""Build CLOV's ONNX models from Google MediaPipe's .tflite files, reproducibly.

    python models/recipe.py

One command. It
1. creates ``models/.build-venv`` (gitignored) with the pinned build tools below
   (tensorflow-cpu is about 1.6 GB; it is a build-time tool only, never a runtime dependency),
   then re-runs itself inside that environment;
2. downloads the sources into ``models/.cache`` (gitignored) and checks their sha256:
   the ``mediapipe==0.10.21`` wheel (``pip download --no-deps``; never installed, the .tflite
   files are read out of the zip) and the npm tarball ``@mediapipe/face_detection`` (``npm pack``)
   for the full-range face detector;
3. converts each .tflite with ``python -m tf2onnx.convert --tflite X --output Y --opset 17``;
4. applies these fixes to the ONNX graph:
   - MediaPipe's custom ``Convolution2DTransposeBias`` (left unconverted by tf2onnx in the two
     segmentation models) becomes a standard ``ConvTranspose`` with bias; stride and padding come
     from the op's custom options in the .tflite flatbuffer, weights and bias from the op's
     (dequantized) constant inputs;
   - for ``face_landmark_webgpu`` only, every ``PRelu`` becomes ``Relu(x) - alpha * Relu(-x)``
     (onnxruntime-web's WebGPU provider has no PRelu; outputs are identical). ``face_landmark``
     keeps PRelu: on the wasm provider the rewrite makes it 3-4x slower;
   - for the ``*_frame`` models only, the preprocessing moves into the graph: they take a
     camera frame as it comes (RGBA bytes, any size). The segmentation models resize it, and
     their first convolution absorbs the 1/255 scale and ignores alpha (``take_frames``); they
     also get two rewrites that keep the mask and cost less on the wasm provider: GlobalAveragePool
     for pools over a whole input, and each decoder 1x1 Conv moved before its bilinear Resize
     (``slim_segmentation``); the
     face models sample their rotated crop or letterbox out of it with ``GridSample``, given
     the frame region and the affine map (``take_crops``). The browser's wasm pipeline feeds
     them, so a frame needs no GPU round trip before inference;
   - every ``Reshape`` to the shape its input already has goes, and every name inside the
     graph is given by order of use (``drop_identity_reshapes``, ``canonicalize``): tf2onnx
     leaves either in a different state from run to run;
5. writes ``models/<name>.onnx``, the model card ``models/<name>.json`` (source, licence,
   inputs/outputs, preprocessing, sha256), and ``models/LICENSE`` (copied from the wheel).

Options: ``--only NAME`` (repeatable) builds a subset; ``--check`` rebuilds into a temporary
folder and fails if any result differs from the committed files (a reproducibility check).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".build-venv"
CACHE = HERE / ".cache"
OPSET = 17
CROP_OPSET = 20  # the face models that sample their crop out of frames (AffineGrid)
# tf2onnx's graph optimizers walk sets of objects hashed by address, so the graph they leave
# (equivalent every time) can vary between runs; without address randomisation it does not.
NO_ASLR = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []

# Build environment: exact pins, so the same command gives the same bytes.
BUILD_REQUIREMENTS = [
    "tensorflow-cpu==2.21.0",
    "tf2onnx==1.17.0",
    "onnx==1.23.2",
    "numpy==2.4.6",
    "protobuf==7.36.2",
    "flatbuffers==25.12.19",
]

WHEEL = {
    "registry": "PyPI",
    "package": "mediapipe",
    "version": "0.10.21",
    # One fixed build of the wheel, whatever the host: the .tflite files are the same in all.
    "file": "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    "pip_args": ["--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                 "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"],
    "sha256": "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
}
NPM = {
    "registry": "npm",
    "package": "@mediapipe/face_detection",
    "version": "0.4.1657300184",
    "file": "mediapipe-face_detection-0.4.1657300184.tgz",
    "sha256": "a118cde74923dc4435257fbfbb613464a0f58d115dff6314d4ff96c8aebf6419",
}

SEGMENTATION_PRE = (
    "RGB, resized (stretched) to the input size, float32 in 0..1 (pixel / 255), NHWC. "
    "MediaPipe keeps the frame's aspect ratio by choosing the landscape model for 16:9 input.")
SEGMENTATION_POST = (
    "Output is the person probability per pixel (sigmoid already applied); "
    "resize it back to the frame, threshold or use as soft alpha.")

MODELS = {
    "selfie_segmentation": {
        "source": WHEEL,
        "path": "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "tflite_sha256": "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
        "task": "person segmentation (general, square input)",
        "inputs": [{"range": [0.0, 1.0], "layout": "NHWC", "meaning": "RGB image"}],
        "outputs": [{"range": [0.0, 1.0], "layout": "NHWC",
                     "meaning": "person probability (sigmoid applied)"}],
        "preprocessing": SEGMENTATION_PRE,
        "postprocessing": SEGMENTATION_POST,
    },
    "selfie_segmentation_landscape": {
        "source": WHEEL,
        "path": "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
        "tflite_sha256": "a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
        "task": "person segmentation (landscape, 144x256 input)",
        "inputs": [{"range": [0.0, 1.0], "layout": "NHWC", "meaning": "RGB image"}],
        "outputs": [{"range": [0.0, 1.0], "layout": "NHWC",
                     "meaning": "person probability (sigmoid applied)"}],
        "preprocessing": SEGMENTATION_PRE,
        "postprocessing": SEGMENTATION_POST,
    },
    "face_detection_full_range": {
        "source": NPM,
        "path": "package/face_detection_full_range.tflite",
        "tflite_sha256": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
        "task": "face detection, full range (faces up to about 5 m; several faces)",
        "inputs": [{"range": [-1.0, 1.0], "layout": "NHWC", "meaning": "RGB image"}],
        "outputs": [
            {"range": "unbounded", "meaning":
             "per anchor: box centre dx, dy, width, height, then 6 keypoints (x, y) "
             "(right eye, left eye, nose tip, mouth centre, right ear, left ear), "
             "all in input pixels (192) relative to the anchor centre"},
            {"range": "unbounded", "meaning": "per anchor: face score logit (apply sigmoid)"},
        ],
        "preprocessing": (
            "RGB, letterboxed (aspect ratio kept, padded with zeros to a square), resized to "
            "192x192, float32 in -1..1 (pixel / 127.5 - 1), NHWC."),
        "postprocessing": (
            "2304 SSD anchors (one 48x48 grid, stride 4, fixed size 1, offset 0.5); "
            "decode with scale 192 (models/decode.py); sigmoid score with clipping at +-100, "
            "minimum score 0.6; weighted non-maximum suppression at IoU 0.3; undo the letterbox."),
    },
    "face_landmark": {
        "source": WHEEL,
        "path": "mediapipe/modules/face_landmark/face_landmark.tflite",
        "tflite_sha256": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        "task": "468 3D face landmarks on a face crop",
        "inputs": [{"range": [0.0, 1.0], "layout": "NHWC", "meaning": "RGB face crop"}],
        "outputs": [
            {"range": "crop pixels (x, y in 0..192; z relative depth in the same scale)",
             "meaning": "468 landmarks as x, y, z flattened (1404 values)"},
            {"range": "unbounded", "meaning": "face presence logit (sigmoid > 0.5 = face)"},
        ],
        "preprocessing": (
            "Crop: the detection box enlarged 1.5x, made square, rotated so the eyes are level "
            "(angle from the detector's right eye to left eye keypoints); resized to 192x192; "
            "RGB float32 in 0..1 (pixel / 255), NHWC."),
        "postprocessing": (
            "Divide x, y by 192 and map back through the crop's rotation and scale to frame "
            "coordinates. On later frames the next crop is derived from these landmarks."),
    },
}
# The same landmark model for onnxruntime-web's WebGPU provider, which has no PRelu. The
# wasm provider runs the original: in Chromium here the rewritten graph took 17-26 ms per
# face against 5.5 ms (1 thread).
MODELS["face_landmark_webgpu"] = {
    **MODELS["face_landmark"],
    "task": "468 3D face landmarks on a face crop (for the WebGPU provider: PRelu rewritten)",
    "rewrite_prelu": True,
}


# The models again, taking camera frames as they come: RGBA bytes of any size. For
# onnxruntime-web's wasm provider, whose input is in the page's memory anyway: the frame goes
# straight in, with no wait for the GPU to resample it and read it back.
FRAME_INPUT = {"range": [0, 255], "layout": "NHWC", "meaning": "RGBA camera frame"}
FRAME_PRE = (
    "None outside the model: a camera frame as RGBA bytes (VideoFrame.copyTo format RGBA), any "
    "size. The graph resizes it (bilinear, stretched) to the model's input; the first "
    "convolution takes the 1/255 scale and gives alpha no weight.")
PHASES_OUTPUT = {"range": [0.0, 1.0], "layout": "NCHW", "meaning":
                 "person probability (sigmoid applied) of mask pixel (2i + r, 2j + c) at [0, 2r + c, i, j]"}
PHASES_POST = (
    "The mask of the original model, H x W, as four half-size planes: pixel (2i + r, 2j + c) is "
    "plane 2r + c, row i, column j. Put each value back in its place (a depth-to-space), then as "
    "the original: " + SEGMENTATION_POST[0].lower() + SEGMENTATION_POST[1:])
CROP_INPUTS = [
    FRAME_INPUT,
    {"range": "frame pixels", "meaning": "region of the frame the crop reads: top, left, channel 0"},
    {"range": "frame pixels", "meaning": "end of that region: bottom, right, channel 3 (exclusive)"},
    {"range": "unbounded", "meaning":
     "AffineGrid theta: the model input's normalised coordinates (-1..1, align_corners 0) -> "
     "the region's"},
]
CROP_PRE = (
    "None outside the model: a camera frame as RGBA bytes, the region of it the crop lies in "
    "and the affine map from model input pixels to that region. The graph samples the crop "
    "(GridSample, bilinear, zeros outside the frame) and scales it as the original model wants: ")
for _name in ("selfie_segmentation", "selfie_segmentation_landscape"):
    MODELS[f"{_name}_frame"] = {
        **MODELS[_name],
        "task": MODELS[_name]["task"] + ", fed camera frames (RGBA bytes) as they come",
        "inputs": [FRAME_INPUT],
        "outputs": [PHASES_OUTPUT],
        "preprocessing": FRAME_PRE,
        "postprocessing": PHASES_POST,
        "take_frames": True,
    }
for _name, _scale, _offset in (("face_landmark", 1 / 255, 0.0), ("face_detection_full_range", 2 / 255, -1.0)):
    MODELS[f"{_name}_frame"] = {
        **MODELS[_name],
        "task": MODELS[_name]["task"] + ", sampled out of camera frames (RGBA bytes)",
        "inputs": CROP_INPUTS,
        "preprocessing": CROP_PRE + MODELS[_name]["preprocessing"],
        "take_crops": (_scale, _offset),
    }


# ----------------------------------------------------------------- build environment


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_build_venv() -> None:
    """Create or update the build virtual environment; re-exec this script inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    stamp = VENV / "clov-build-requirements.txt"
    wanted = "\n".join(BUILD_REQUIREMENTS) + "\n"
    if not venv_python().exists():
        print(f"creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        print("installing build requirements (tensorflow-cpu is about 1.6 GB)", flush=True)
        subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *BUILD_REQUIREMENTS], check=True)
        stamp.write_text(wanted)
    os.execv(str(venv_python()), [str(venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])


# ----------------------------------------------------------------- sources


def fetch(source: dict) -> Path:
    """Download a source artifact into the cache (once) and check its sha256."""
    CACHE.mkdir(exist_ok=True)
    target = CACHE / source["file"]
    if not target.exists() or sha256(target) != source["sha256"]:
        spec = f"{source['package']}=={source['version']}"
        if source["registry"] == "PyPI":
            subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                            "--no-deps", *source["pip_args"], "-d", str(CACHE), spec], check=True)
        else:
            spec = f"{source['package']}@{source['version']}"
            subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(CACHE), spec],
                           check=True, stdout=subprocess.DEVNULL)
    digest = sha256(target)
    if digest != source["sha256"]:
        raise SystemExit(f"{target.name}: sha256 {digest}, expected {source['sha256']}")
    return target


def extract(name: str, spec: dict, work: Path) -> Path:
    archive = fetch(spec["source"])
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            data = z.read(spec["path"])
    else:
        with tarfile.open(archive) as t:
            data = t.extractfile(spec["path"]).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec["tflite_sha256"]:
        raise SystemExit(f"{name}: .tflite sha256 {digest}, expected {spec['tflite_sha256']}")
    out = work / f"{name}.tflite"
    out.write_bytes(data)
    return out


def licence_text() -> str:
    with zipfile.ZipFile(fetch(WHEEL)) as z:
        return z.read("mediapipe-0.10.21.dist-info/LICENSE").decode()


# ----------------------------------------------------------------- .tflite facts


def tflite_custom_ops(path: Path) -> dict[str, dict]:
    """Custom ops of a .tflite, keyed by output tensor name: code, options, input names."""
    from tf2onnx.tflite import Model

    buf = path.read_bytes()
    model = Model.Model.GetRootAsModel(buf, 0)
    codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    graph = model.Subgraphs(0)
    found = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = codes[op.OpcodeIndex()].CustomCode()
        if not code:
            continue
        tensors = [graph.Tensors(op.Inputs(j)) for j in range(op.InputsLength())]
        out = graph.Tensors(op.Outputs(0))
        options = op.CustomOptionsAsNumpy()
        found[out.Name().decode()] = {
            "code": code.decode(),
            "options": bytes(options.tobytes()) if not isinstance(options, int) else b"",
            "inputs": [(t.Name().decode(), t.ShapeAsNumpy().tolist()) for t in tensors],
            "output_shape": out.ShapeAsNumpy().tolist(),
        }
    return found


def transpose_conv_params(options: bytes) -> tuple[str, int, int]:
    """MediaPipe reads the custom options as TfLiteTransposeConvParams:
    int32 padding (1 = SAME, 2 = VALID), int32 stride_width, int32 stride_height."""
    import struct

    padding, stride_w, stride_h = struct.unpack_from("<iii", options)
    return {1: "SAME", 2: "VALID"}[padding], stride_h, stride_w


# ----------------------------------------------------------------- ONNX fixes


def fix_transpose_conv(model, custom: dict) -> int:
    """Replace tf2onnx's unconverted TFL_Convolution2DTransposeBias by ConvTranspose (+bias)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    replaced = 0
    new_nodes = []
    drop = set()
    for node in g.node:
        if node.op_type != "TFL_Convolution2DTransposeBias":
            new_nodes.append(node)
            continue
        facts = custom[node.output[0]]
        padding, sh, sw = transpose_conv_params(facts["options"])
        x_name, w_name, b_name = node.input
        (_, x_shape), (_, w_shape), _ = facts["inputs"]
        w = numpy_helper.to_array(inits[w_name])  # OHWI, already dequantized to float32
        b = numpy_helper.to_array(inits[b_name])
        assert list(w.shape) == w_shape, (w.shape, w_shape)
        out_ch, kh, kw, _ = w.shape
        in_h, in_w = x_shape[1], x_shape[2]
        out_h, out_w = facts["output_shape"][1], facts["output_shape"][2]
        pads = []
        for size, k, s, o in ((in_h, kh, sh, out_h), (in_w, kw, sw, out_w)):
            total = (size - 1) * s + k - o  # what the full transposed conv produces beyond o
            if padding == "VALID":
                assert total == 0, "VALID transposed conv must produce the output size"
            assert total >= 0
            pads.append((total // 2, total - total // 2))  # TFLite crops the extra at the end
        base = node.output[0]
        w_onnx = numpy_helper.from_array(
            np.ascontiguousarray(w.transpose(3, 0, 1, 2)).astype(np.float32), base + "/W")
        b_onnx = numpy_helper.from_array(b.astype(np.float32).reshape(out_ch), base + "/B")
        g.initializer.extend([w_onnx, b_onnx])
        drop.update([w_name, b_name])
        # Input: tf2onnx feeds it NHWC through Transpose(perm 0,2,3,1) of an NCHW tensor; use
        # that NCHW tensor directly when it is there, otherwise transpose here.
        src = producers.get(x_name)
        perm = [a.ints for a in src.attribute if a.name == "perm"] if src is not None else []
        if src is not None and src.op_type == "Transpose" and list(perm[0]) == [0, 2, 3, 1]:
            x_nchw = src.input[0]
            if len(consumers[x_name]) == 1:
                drop.add(id(src))
        else:
            x_nchw = base + "/x_nchw"
            new_nodes.append(helper.make_node("Transpose", [x_name], [x_nchw], perm=[0, 3, 1, 2],
                                              name=base + "/to_nchw"))
        y_nchw = base + "/y_nchw"
        new_nodes.append(helper.make_node(
            "ConvTranspose", [x_nchw, w_onnx.name, b_onnx.name], [y_nchw], name=base,
            kernel_shape=[kh, kw], strides=[sh, sw],
            pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]]))
        new_nodes.append(helper.make_node("Transpose", [y_nchw], [node.output[0]],
                                          perm=[0, 2, 3, 1], name=base + "/to_nhwc"))
        replaced += 1
    still_used = {i for n in new_nodes if id(n) not in drop for i in n.input}
    del g.node[:]
    g.node.extend(n for n in new_nodes if id(n) not in drop)
    keep = [t for t in g.initializer if t.name not in drop or t.name in still_used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(model)
    return replaced


def fix_prelu(model) -> int:
    """PRelu(x, alpha) -> Relu(x) - alpha * Relu(-x)."""
    from onnx import helper

    g = model.graph
    out = []
    count = 0
    for node in g.node:
        if node.op_type != "PRelu":
            out.append(node)
            continue
        x, alpha = node.input
        y = node.output[0]
        base = node.name or y
        out += [
            helper.make_node("Relu", [x], [base + "/pos"], name=base + "/relu_pos"),
            helper.make_node("Neg", [x], [base + "/negx"], name=base + "/neg"),
            helper.make_node("Relu", [base + "/negx"], [base + "/neg_part"], name=base + "/relu_neg"),
            helper.make_node("Mul", [base + "/neg_part", alpha], [base + "/scaled"], name=base + "/mul"),
            helper.make_node("Sub", [base + "/pos", base + "/scaled"], [y], name=base + "/sub"),
        ]
        count += 1
    del g.node[:]
    g.node.extend(out)
    return count


def drop_identity_reshapes(model) -> int:
    """Remove each Reshape to the shape its input already has. tf2onnx's optimizer removes
    some of these and not others, and which ones varies from run to run; without any, the
    graph is the same every time (and does the same work, less a copy)."""
    from onnx import numpy_helper, shape_inference

    g = model.graph
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.value_info) + list(inferred.input)}
    consts = {t.name: numpy_helper.to_array(t).tolist() for t in g.initializer}
    outputs = {v.name for v in g.output}
    replaced: dict[str, str] = {}
    kept = []
    for node in g.node:
        node.input[:] = [replaced.get(n, n) for n in node.input]
        shape = shapes.get(node.input[0])
        if (node.op_type == "Reshape" and node.output[0] not in outputs
                and shape is not None and consts.get(node.input[1]) == shape):
            replaced[node.output[0]] = node.input[0]
        else:
            kept.append(node)
    del g.node[:]
    g.node.extend(kept)
    used = {n for node in g.node for n in node.input}
    unused = [t for t in g.initializer if t.name not in used]
    for t in unused:
        g.initializer.remove(t)
    stale = [v for v in g.value_info if v.name in replaced]
    for v in stale:
        g.value_info.remove(v)
    return len(replaced)


def canonicalize(model) -> None:
    """Name every tensor and node inside the graph by order of first use, and order the
    initializers the same way, so the same sources give the same bytes on every run: tf2onnx
    numbers the names it makes (``const_fold_opt__455``) and deduplicates the .tflite's own
    (``max_pooling2d_5`` or ``_7``) in an order that varies between runs and machines."""
    g = model.graph
    io = {v.name for v in list(g.input) + list(g.output)}
    inits = {t.name for t in g.initializer}
    mapping: dict[str, str] = {}
    for node in g.node:
        for name in list(node.input) + list(node.output):
            if name and name not in mapping and name not in io:
                mapping[name] = f"{'const' if name in inits else 't'}_{len(mapping)}"
    for i, node in enumerate(g.node):
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
        node.name = f"{node.op_type}_{i}"
    for t in g.initializer:
        t.name = mapping.get(t.name, t.name)
    order = {new: i for i, new in enumerate(mapping.values())}
    ordered = sorted(g.initializer, key=lambda t: (order.get(t.name, len(order)), t.name))
    del g.initializer[:]
    g.initializer.extend(ordered)
    for v in g.value_info:
        v.name = mapping.get(v.name, v.name)
    ordered = sorted(g.value_info, key=lambda v: v.name)
    del g.value_info[:]
    g.value_info.extend(ordered)


def nhwc_rgb_input(model) -> tuple[int, int, object]:
    """The model's one input, [1, height, width, 3]: its height, width, and the Transpose to
    NCHW that tf2onnx puts first (the graph's first step, which take_frames and take_crops
    replace)."""
    (old,) = model.graph.input
    _, height, width, channels = (d.dim_value for d in old.type.tensor_type.shape.dim)
    assert channels == 3
    (transpose,) = [n for n in model.graph.node if list(n.input) == [old.name]]
    assert transpose.op_type == "Transpose" and list(transpose.attribute[0].ints) == [0, 3, 1, 2]
    return height, width, transpose


def take_frames(model) -> None:
    """Make an NHWC RGB float model (input: Transpose to NCHW, then Conv) take uint8 RGBA frames
    of any size: Resize (bilinear) to the input size, Transpose the bytes to NCHW, then
    DequantizeLinear (scale 1) to floats; the first Conv gets a fourth input channel of zero
    weight for alpha and its weights divided by 255. Transposing bytes before converting, and
    converting with DequantizeLinear rather than Cast, each measured a few percent faster on
    onnxruntime-web's wasm provider; the values are the same."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    height, width, transpose = nhwc_rgb_input(model)
    (conv,) = [n for n in g.node if transpose.output[0] in n.input]
    assert conv.op_type == "Conv" and conv.input[0] == transpose.output[0]
    weights = next(t for t in g.initializer if t.name == conv.input[1])
    assert sum(weights.name in n.input for n in g.node) == 1, "first Conv's weights are shared"
    w = numpy_helper.to_array(weights)
    alpha = np.zeros((w.shape[0], 1, *w.shape[2:]), w.dtype)
    weights.CopyFrom(numpy_helper.from_array(np.concatenate([w / np.float32(255), alpha], axis=1), weights.name))
    frame = helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "height", "width", 4])
    constants = [
        numpy_helper.from_array(np.array([1, height, width, 4], np.int64), "frame_resize_sizes"),
        numpy_helper.from_array(np.array(1.0, np.float32), "frame_scale"),
        numpy_helper.from_array(np.array(0, np.uint8), "frame_zero_point"),
    ]
    pre = [
        helper.make_node("Resize", ["frame", "", "", "frame_resize_sizes"], ["frame_resized"],
                         name="frame_resize", mode="linear"),
        helper.make_node("Transpose", ["frame_resized"], ["frame_nchw"], name="frame_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("DequantizeLinear", ["frame_nchw", "frame_scale", "frame_zero_point"],
                         [transpose.output[0]], name="frame_float"),
    ]
    nodes = pre + [n for n in g.node if n is not transpose]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(constants)
    del g.input[:]
    g.input.append(frame)


def slim_segmentation(model) -> tuple[int, int]:
    """Two rewrites of the segmentation graphs that give the same mask for less work on
    onnxruntime-web's wasm provider, where its convolutions cost most:
    - an AveragePool whose kernel spans its whole input (the squeeze-and-excite blocks) becomes
      GlobalAveragePool;
    - in the decoder, Resize (bilinear) followed by a 1x1 Conv becomes the Conv, then the
      Resize: both are linear, and bilinear weights sum to 1, so the bias passes through too;
      the Conv then runs on a quarter of the pixels and the Resize moves at most as many
      channels (24 instead of 128 for the first).
    Returns how many of each were rewritten."""
    from onnx import helper, shape_inference

    g = model.graph
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.value_info, *inferred.input]}

    def attribute(node, name, default=None):
        found = [helper.get_attribute_value(a) for a in node.attribute if a.name == name]
        return found[0] if found else default

    pools = 0
    for node in g.node:
        if node.op_type == "AveragePool" and list(attribute(node, "kernel_shape")) == shapes[node.input[0]][2:]:
            assert not attribute(node, "pads") or not any(attribute(node, "pads"))
            node.op_type = "GlobalAveragePool"
            del node.attribute[:]
            pools += 1
    swapped = 0
    nodes = list(g.node)
    for resize in [n for n in nodes if n.op_type == "Resize" and attribute(n, "mode") == b"linear"]:
        users = [n for n in nodes if resize.output[0] in n.input]
        if len(users) != 1 or users[0].op_type != "Conv" or users[0].input[0] != resize.output[0]:
            continue
        conv = users[0]
        if (list(attribute(conv, "kernel_shape")) != [1, 1] or attribute(conv, "group", 1) != 1
                or any(attribute(conv, "pads", [0])) or set(attribute(conv, "strides", [1])) != {1}):
            continue
        source, between, result = resize.input[0], resize.output[0], conv.output[0]
        conv.input[0], conv.output[0] = source, between
        resize.input[0], resize.output[0] = between, result
        nodes.remove(conv)
        nodes.insert(nodes.index(resize), conv)
        swapped += 1
    del g.node[:]
    g.node.extend(nodes)
    return pools, swapped


def phase_output(model) -> None:
    """End a segmentation graph before its full-size step. Its last ConvTranspose (kernel 2,
    stride 2, one output channel) writes each pixel of its input as a 2x2 block of the mask:
    that is a 1x1 Conv to four channels, one per pixel of the block (phase 2 * row parity +
    column parity), then a depth-to-space. The graph keeps the Conv and the Sigmoid (a
    per-pixel function, so it commutes with the rearrangement) and outputs `phases`
    [1, 4, H/2, W/2]; whoever reads the mask puts each value back in its place (the GPU, in
    frontend_py/personmask.py). The ConvTranspose at full size and the Transpose to NHWC go."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    nodes = list(g.node)
    (transpose_conv,) = [n for n in nodes if n.op_type == "ConvTranspose"]
    to_nhwc, sigmoid = nodes[nodes.index(transpose_conv) + 1:]
    assert to_nhwc.op_type == "Transpose" and sigmoid.op_type == "Sigmoid"
    assert [o.name for o in g.output] == [sigmoid.output[0]]
    attributes = {a.name: helper.get_attribute_value(a) for a in transpose_conv.attribute}
    assert attributes["kernel_shape"] == [2, 2] and attributes["strides"] == [2, 2]
    assert not any(attributes.get("pads", [0])) and attributes.get("group", 1) == 1
    initializers = {t.name: t for t in g.initializer}
    weights = numpy_helper.to_array(initializers[transpose_conv.input[1]])  # [in, 1, 2, 2]
    bias = numpy_helper.to_array(initializers[transpose_conv.input[2]])
    assert weights.shape[1:] == (1, 2, 2) and bias.shape == (1,)
    phase_weights = np.stack([weights[:, 0, row, column] for row in (0, 1) for column in (0, 1)])
    (output,) = g.output
    _, height, width, _ = (d.dim_value for d in output.type.tensor_type.shape.dim)
    nodes = nodes[:nodes.index(transpose_conv)] + [
        helper.make_node("Conv", [transpose_conv.input[0], "phases_weights", "phases_bias"], ["phases_logits"],
                         name="phases_conv", kernel_shape=[1, 1]),
        helper.make_node("Sigmoid", ["phases_logits"], ["phases"], name="phases_sigmoid"),
    ]
    del g.node[:]
    g.node.extend(nodes)
    for name in transpose_conv.input[1:]:
        g.initializer.remove(initializers[name])
    g.initializer.extend([
        numpy_helper.from_array(phase_weights[:, :, None, None].astype(np.float32), "phases_weights"),
        numpy_helper.from_array(np.repeat(bias, 4).astype(np.float32), "phases_bias"),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("phases", TensorProto.FLOAT, [1, 4, height // 2, width // 2]))


def take_crops(model, scale: float, offset: float) -> None:
    """Make an NHWC RGB float model (input: Transpose to NCHW, then the rest) sample its input
    out of a uint8 RGBA frame of any size: inputs `frame`, `region_start` and `region_end`
    (int32 [3]: the rows, columns and channels 0..3 that the crop can reach) and `to_region`
    (AffineGrid's theta [1, 2, 3]: the model input's normalised coordinates -> the region's).
    Only the region is converted to floats; GridSample then reads it (bilinear, zeros outside)
    and the values are scaled to the model's range. The region is cut out as whole RGBA pixels
    (rows and columns) and its channels are picked after the transpose to NCHW, where they are
    contiguous planes: a Slice that picks 3 of every 4 bytes copies them one pixel at a time,
    which took longer than the landmarks' GridSample itself on onnxruntime-web's wasm provider.
    AffineGrid needs opset 20; no op of these graphs changed meaning between 17 and 20
    (checked below)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    unchanged_since_17 = {"Add", "Conv", "MaxPool", "Mul", "Pad", "PRelu", "Relu", "Reshape",
                          "Resize", "Transpose"}
    assert {n.op_type for n in g.node} <= unchanged_since_17
    height, width, transpose = nhwc_rgb_input(model)
    constants = {
        "crop_pixel_axes": np.array([1, 2], np.int32),
        "crop_channel_axis": np.array([1], np.int32),
        # region_start and region_end are (row, column, channel): their first two entries
        # bound the pixels, the last one the channels.
        "crop_index_0": np.array([0], np.int32),
        "crop_index_2": np.array([2], np.int32),
        "crop_index_3": np.array([3], np.int32),
        "crop_size": np.array([1, 3, height, width], np.int64),
        "crop_scale": np.array(scale, np.float32),
        "crop_offset": np.array(offset, np.float32),
    }
    node = helper.make_node
    pre = [
        node("Slice", ["region_start", "crop_index_0", "crop_index_2"], ["crop_pixel_start"], name="crop_pixel_start"),
        node("Slice", ["region_end", "crop_index_0", "crop_index_2"], ["crop_pixel_end"], name="crop_pixel_end"),
        node("Slice", ["region_start", "crop_index_2", "crop_index_3"], ["crop_channel_start"], name="crop_channel_start"),
        node("Slice", ["region_end", "crop_index_2", "crop_index_3"], ["crop_channel_end"], name="crop_channel_end"),
        node("Slice", ["frame", "crop_pixel_start", "crop_pixel_end", "crop_pixel_axes"], ["crop_region"],
             name="crop_slice"),
        node("Cast", ["crop_region"], ["crop_region_float"], name="crop_cast", to=TensorProto.FLOAT),
        node("Transpose", ["crop_region_float"], ["crop_region_planes"], name="crop_nchw", perm=[0, 3, 1, 2]),
        node("Slice", ["crop_region_planes", "crop_channel_start", "crop_channel_end", "crop_channel_axis"],
             ["crop_region_nchw"], name="crop_channels"),
        node("AffineGrid", ["to_region", "crop_size"], ["crop_grid"], name="crop_grid", align_corners=0),
        node("GridSample", ["crop_region_nchw", "crop_grid"], ["crop_sampled"], name="crop_sample",
             mode="linear", padding_mode="zeros", align_corners=0),
        node("Mul", ["crop_sampled", "crop_scale"], ["crop_scaled"], name="crop_scale"),
    ]
    result = "crop_scaled"
    if offset:
        pre.append(node("Add", ["crop_scaled", "crop_offset"], ["crop_shifted"], name="crop_offset"))
        result = "crop_shifted"
    else:
        del constants["crop_offset"]
    for n in g.node:
        n.input[:] = [result if name == transpose.output[0] else name for name in n.input]
    nodes = pre + [n for n in g.node if n is not transpose]
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(numpy_helper.from_array(value, name) for name, value in constants.items())
    del g.input[:]
    g.input.extend([
        helper.make_tensor_value_info("frame", TensorProto.UINT8, [1, "height", "width", 4]),
        helper.make_tensor_value_info("region_start", TensorProto.INT32, [3]),
        helper.make_tensor_value_info("region_end", TensorProto.INT32, [3]),
        helper.make_tensor_value_info("to_region", TensorProto.FLOAT, [1, 2, 3]),
    ])
    (default,) = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    default.version = CROP_OPSET
    model.ir_version = max(model.ir_version, 9)  # opset 20's IR version


# ----------------------------------------------------------------- build


def tensor_info(value_info) -> dict:
    from onnx import helper

    t = value_info.type.tensor_type
    return {
        "name": value_info.name,
        "shape": [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim],
        "dtype": helper.tensor_dtype_to_np_dtype(t.elem_type).name,
    }


def build(name: str, spec: dict, work: Path, dest: Path) -> dict:
    import onnx
    import tensorflow as tf
    import tf2onnx

    tflite = extract(name, spec, work)
    raw = work / f"{name}.raw.onnx"
    print(f"converting {name}", flush=True)
    subprocess.run([*NO_ASLR, sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite),
                    "--output", str(raw), "--opset", str(OPSET)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   # tf2onnx numbers the names it makes while walking sets: fix the hash seed.
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"})
    model = onnx.load(raw)
    # tf2onnx writes the (temporary) input path here; keep the bytes independent of it.
    model.graph.doc_string = f"converted from {spec['source']['file']}:{spec['path']}"
    fixes = []
    custom = tflite_custom_ops(tflite)
    if custom:
        n = fix_transpose_conv(model, custom)
        fixes.append(f"{n} Convolution2DTransposeBias -> ConvTranspose (+bias)")
    if spec.get("rewrite_prelu"):
        n = fix_prelu(model)
        fixes.append(f"{n} PRelu -> Relu(x) - alpha*Relu(-x)")
    # Everything left must be a standard ONNX op.
    unknown = sorted({n.op_type for n in model.graph.node
                      if n.domain not in ("", "ai.onnx") or not onnx.defs.has(n.op_type)})
    if unknown:
        raise SystemExit(f"{name}: non-standard ops remain after the fixes: {unknown}")
    if drop_identity_reshapes(model):
        # Not counted: how many tf2onnx left is what varies between runs.
        fixes.append("each Reshape to the shape it already has removed")
    canonicalize(model)
    if spec.get("take_frames"):
        pools, swapped = slim_segmentation(model)
        if pools:
            fixes.append(f"{pools} AveragePool over the whole input -> GlobalAveragePool")
        fixes.append(f"{swapped} Resize (bilinear) + 1x1 Conv -> 1x1 Conv + Resize (same result, fewer pixels)")
        take_frames(model)
        fixes.append("takes RGBA frames of any size: Resize, Transpose and DequantizeLinear in the graph, "
                     "1/255 and alpha folded into the first Conv")
        phase_output(model)
        fixes.append("ends before its last ConvTranspose (2x2, stride 2): a 1x1 Conv and the Sigmoid give "
                     "the mask as four half-size phases")
    if spec.get("take_crops"):
        take_crops(model, *spec["take_crops"])
        fixes.append(f"samples its input out of RGBA frames: Slice, Cast, AffineGrid and GridSample "
                     f"in the graph (opset {CROP_OPSET})")
    onnx.checker.check_model(model, full_check=True)
    onnx_path = dest / f"{name}.onnx"
    onnx.save(model, onnx_path)

    src = spec["source"]
    card = {
        "name": name,
        "task": spec["task"],
        "file": onnx_path.name,
        "sha256": sha256(onnx_path),
        "size_bytes": onnx_path.stat().st_size,
        "licence": "Apache-2.0",
        "licence_file": "LICENSE",
        "notice_file": "NOTICE",
        "source": {
            "author": "Google MediaPipe",
            "registry": src["registry"],
            "package": src["package"],
            "version": src["version"],
            "artifact": src["file"],
            "artifact_sha256": src["sha256"],
            "path_in_artifact": spec["path"],
            "tflite_sha256": spec["tflite_sha256"],
        },
        "conversion": {
            "command": "python models/recipe.py",
            "converter": f"tf2onnx {tf2onnx.__version__} (tensorflow-cpu {tf.__version__}), "
                         f"onnx {onnx.__version__}",
            "opset": CROP_OPSET if spec.get("take_crops") else OPSET,
            "fixes": fixes,
        },
        "inputs": [{**tensor_info(v), **extra}
                   for v, extra in zip(model.graph.input, spec["inputs"], strict=True)],
        "outputs": [{**tensor_info(v), **extra}
                    for v, extra in zip(model.graph.output, spec["outputs"], strict=True)],
        "preprocessing": spec["preprocessing"],
        "postprocessing": spec["postprocessing"],
    }
    (dest / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"  {onnx_path.name}: {card['size_bytes']} bytes, sha256 {card['sha256']}"
          + (f"; {'; '.join(fixes)}" if fixes else ""), flush=True)
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(MODELS))
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and compare with models/")
    args = parser.parse_args()
    ensure_build_venv()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    names = args.only or list(MODELS)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dest = work / "out" if args.check else HERE
        dest.mkdir(exist_ok=True)
        for name in names:
            build(name, MODELS[name], work, dest)
        (dest / "LICENSE").write_text(licence_text())
        if args.check:
            differ = [f for n in names for f in (f"{n}.onnx", f"{n}.json")
                      if (dest / f).read_bytes() != (HERE / f).read_bytes()]
            if differ:
                raise SystemExit(f"not reproduced: {differ}")
            print("reproduced: all files identical", flush=True)


if __name__ == "__main__":
    main()
