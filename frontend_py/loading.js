// Thin glue for the seconds before Python runs: real progress of the runtime download
// (bytes of the files Pyodide fetches), then PyScript's own stages. Python replaces #app.
const stage = document.getElementById("loading-stage");
const bar = document.getElementById("loading-bar");
const RUNTIME_BYTES = 13.5e6; // pyodide.asm.wasm + python_stdlib.zip + pyodide.asm.mjs
let loaded = 0;

const language = (localStorage.getItem("clov.language") || navigator.language || "en").slice(0, 2);
document.documentElement.lang = language === "ko" ? "ko" : "en";

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.name.includes("/assets/pyodide/")) loaded += entry.encodedBodySize || entry.transferSize || 0;
  }
  bar.value = Math.min(80, (80 * loaded) / RUNTIME_BYTES);
}).observe({ type: "resource", buffered: true });

const STAGES = {
  "Loaded Pyodide": [85, "Starting Python…", "파이썬을 시작하는 중…"],
  "Loading files": [90, "Opening the booth…", "부스를 여는 중…"],
};
addEventListener("py:progress", ({ detail }) => {
  const next = STAGES[detail];
  if (!next || !stage.isConnected) return;
  bar.value = next[0];
  stage.querySelector('[lang="en"]').textContent = next[1];
  stage.querySelector('[lang="ko"]').textContent = next[2];
});
