"""Where a model's time goes, op by op, on onnxruntime-web's wasm build (the page's runtime).

Runs the model in Node with the project's own `onnxruntime-web` (node_modules, one thread, SIMD)
on a fixed 640x480 RGBA frame, first unprofiled for the run time, then with onnxruntime's
profiler on, and prints each op type's share of the profiled runs and the costliest nodes with
their shapes. The profiler inflates each run, so read the shares, not its milliseconds. The
model must take the frame as its one input, as the segmentation builds the wasm provider runs do
(`selfie_segmentation*_frame.onnx`, models/README.md).

    .venv/bin/python bench/ops.py [--model models/selfie_segmentation_frame.onnx] [--runs 40]

Needs node (scripts/setup.sh installs it with npm).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_folder

RUNTIME = ROOT / "node_modules" / "onnxruntime-web" / "dist" / "ort.node.min.mjs"
WARM_UP_RUNS = 10
TOP_NODES = 15

# Node prints the unprofiled run times as one JSON line, then onnxruntime's profile (a JSON array).
SCRIPT = """
import * as ort from %(runtime)s;
import fs from 'fs';
ort.env.wasm.numThreads = 1;
const [model, runs] = [%(model)s, %(runs)d];
async function timed(profile) {
  const session = await ort.InferenceSession.create(fs.readFileSync(model), {executionProviders: ['wasm'], enableProfiling: profile});
  const frame = new Uint8Array(640 * 480 * 4).map((_, i) => (i * 7919) %% 251);
  const feeds = {[session.inputNames[0]]: new ort.Tensor('uint8', frame, [1, 480, 640, 4])};
  for (let i = 0; i < %(warm_up)d; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await session.run(feeds);
    times.push(performance.now() - start);
  }
  if (profile) session.endProfiling();
  return times.sort((a, b) => a - b);
}
console.log(JSON.stringify(await timed(false)));
await timed(true);
"""


def profile(model: Path, runs: int) -> tuple[list[float], list[dict]]:  # type: ignore[type-arg]
    """The unprofiled run times (ms, sorted) and the profiled runs' node events."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("bench/ops.py needs node")
    script = scratch_folder() / "ops.mjs"
    script.write_text(SCRIPT % {
        "runtime": json.dumps(RUNTIME.as_uri()), "model": json.dumps(str(model)), "runs": runs, "warm_up": WARM_UP_RUNS,
    })
    # onnxruntime's wasm writes its profile to stdout with blocking-style writes that a pipe
    # refuses (EAGAIN, and node exits 1) whenever this process reads it too slowly: a file never does.
    printed = script.with_suffix(".out")
    with printed.open("w") as stdout:
        subprocess.run([node, str(script)], check=True, stdout=stdout, stderr=subprocess.PIPE, text=True)
    output = printed.read_text()
    first_line, _, rest = output.partition("\n")
    events = json.loads(rest[rest.index("["):rest.rindex("]") + 1])
    nodes = [event for event in events if event.get("cat") == "Node" and event["name"].endswith("_kernel_time")]
    per_run = len(nodes) // (WARM_UP_RUNS + runs)
    return json.loads(first_line), nodes[-per_run * runs:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "selfie_segmentation_frame.onnx")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    times, nodes = profile(args.model.resolve(), args.runs)
    print(f"{args.model.name}, onnxruntime-web wasm, 1 thread, 640x480 RGBA frame, {args.runs} runs")
    print(f"  unprofiled: p50 {times[len(times) // 2]:.2f} ms, fastest {times[0]:.2f} ms")
    by_op: dict[str, float] = defaultdict(float)
    by_node: dict[str, float] = defaultdict(float)
    shapes: dict[str, str] = {}
    for event in nodes:
        node_args = event["args"]
        by_op[node_args["op_name"]] += event["dur"] / args.runs
        name = event["name"].removesuffix("_kernel_time")
        by_node[name] += event["dur"] / args.runs
        inputs = [next(iter(shape.values())) for shape in node_args["input_type_shape"][:2]]
        outputs = [next(iter(shape.values())) for shape in node_args["output_type_shape"]]
        shapes[name] = f"{node_args['op_name']} {inputs} -> {outputs}"
    total = sum(by_op.values())
    print(f"  profiled: {total / 1000:.2f} ms a run; by op type:")
    for op, micros in sorted(by_op.items(), key=lambda item: -item[1]):
        print(f"    {op:20s} {100 * micros / total:5.1f}%")
    print(f"  the {TOP_NODES} costliest nodes:")
    for name, micros in sorted(by_node.items(), key=lambda item: -item[1])[:TOP_NODES]:
        print(f"    {100 * micros / total:5.1f}%  {name}: {shapes[name]}")


if __name__ == "__main__":
    main()
