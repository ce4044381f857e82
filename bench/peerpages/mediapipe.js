// MediaPipe's own web runtime on the camera, for bench/pipeline.py --peer mediapipe: per
// camera frame, tasks-vision's ImageSegmenter (CPU delegate, the selfie model CLOV converts)
// and then the legacy FaceMesh solution, each timed with performance.now() around its call.
// `globalThis.peerDiagnostics()` gives the samples; <html data-ready="1"> once both models
// have run on a frame, data-error with the reason if setting up or the frame loop failed.
import {FilesetResolver, ImageSegmenter} from "/tasks-vision/vision_bundle.mjs";

const samples = [];  // {segmentation, face_mesh} in ms, one per processed frame
const state = {faces: 0, foreground: 0, width: 0, height: 0};

function foregroundShare(mask) {
  let count = 0;
  for (const value of mask) count += value > 0.5;
  return count / mask.length;
}

async function setUp() {
  const video = document.querySelector("video");
  // The constraints CLOV's booth asks for (frontend_py/media.py); the fake camera answers 640x480.
  video.srcObject = await navigator.mediaDevices.getUserMedia(
    {video: {width: {ideal: 1280}, height: {ideal: 720}, frameRate: {ideal: 30}}});
  await video.play();
  await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
  state.width = video.videoWidth;
  state.height = video.videoHeight;

  const fileset = await FilesetResolver.forVisionTasks("/tasks-vision/wasm");
  const segmenter = await ImageSegmenter.createFromOptions(fileset, {
    baseOptions: {modelAssetPath: "/models/selfie_segmentation.tflite", delegate: "CPU"},
    runningMode: "VIDEO",
    outputConfidenceMasks: true,
    outputCategoryMask: false,
  });
  const faceMesh = new globalThis.FaceMesh({locateFile: (file) => `/face_mesh/${file}`});
  // CLOV's face stage: one face, the 468-point model (no attention/iris refinement).
  // useCpuInference (in face_mesh.js, not in its typings): inference on the CPU with XNNPACK,
  // as tasks-vision's CPU delegate. Off by default outside Apple devices, where the models run
  // in WebGL: on a machine without a GPU that is SwiftShader, several times slower.
  faceMesh.setOptions({maxNumFaces: 1, refineLandmarks: false, selfieMode: false, useCpuInference: true});
  faceMesh.onResults((results) => { state.faces = (results.multiFaceLandmarks || []).length; });
  await faceMesh.initialize();

  // One untimed frame to check that both see the astronaut.
  segmenter.segmentForVideo(video, performance.now(), (result) => {
    state.foreground = foregroundShare(result.confidenceMasks[0].getAsFloat32Array());
  });
  await faceMesh.send({image: video});
  return {video, segmenter, faceMesh};
}

async function run({video, segmenter, faceMesh}) {
  for (;;) {
    await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
    const start = performance.now();
    // The mask is read as floats inside the callback, as a user of the mask would.
    segmenter.segmentForVideo(video, start, (result) => result.confidenceMasks[0].getAsFloat32Array());
    const segmented = performance.now();
    await faceMesh.send({image: video});
    samples.push({segmentation: segmented - start, face_mesh: performance.now() - segmented});
  }
}

globalThis.peerDiagnostics = () => JSON.stringify({...state, frames: samples.length, samples});

try {
  const pipeline = await setUp();
  document.documentElement.dataset.ready = "1";
  await run(pipeline);
} catch (error) {
  document.documentElement.dataset.error = String(error && error.stack || error);
}
