// Thin glue for the seconds before Python runs: real progress of the runtime download
// (bytes of the files Pyodide fetches), then PyScript's own stages. Python replaces #app.
// When a file of the app fails to load, PyScript reports an error, or a stage makes no
// progress for a minute, the loading screen says so and what to do, instead of waiting for ever.
const stage = document.getElementById("loading-stage");
const bar = document.getElementById("loading-bar");
const RUNTIME_BYTES = 13.5e6; // pyodide.asm.wasm + python_stdlib.zip + pyodide.asm.mjs
const STALL_MS = 60_000; // a boot stage with no progress for this long is stuck
let loaded = 0;

const language = (localStorage.getItem("clov.language") || navigator.language || "en").slice(0, 2);
document.documentElement.lang = language === "ko" ? "ko" : "en";

const booting = () => stage.isConnected;
// A page written by `clov build` for a static host: its missing files are the site's, not a server's.
const onStaticHost = document.querySelector('meta[name="clov-signaling"]') !== null;

// The error line under the stage, in both languages like the rest of the screen.
let failed = false;
function say(en, ko, detail = "") {
  let line = document.getElementById("loading-error");
  if (!line) {
    line = document.createElement("p");
    line.id = "loading-error";
    line.className = "notice";
    line.setAttribute("role", "alert");
    stage.after(line);
  }
  line.replaceChildren();
  for (const [lang, text] of [["en", en], ["ko", ko]]) {
    const span = document.createElement("span");
    span.lang = lang;
    span.textContent = detail ? `${text} (${detail})` : text;
    line.append(span);
  }
  return line;
}

function fail(detail) {
  if (failed || !booting()) return;
  failed = true;
  clearTimeout(stallTimer);
  if (onStaticHost) {
    say(
      "The app could not load. Reload the page; if this keeps happening, the site is missing files: whoever publishes it should make it again with clov build and upload all of it.",
      "앱을 불러오지 못했습니다. 페이지를 새로 고치세요. 계속 이러면 사이트에 파일이 없는 것이니, 사이트를 올리는 사람이 clov build로 다시 만들어 전부 올려야 합니다.",
      detail,
    );
  } else {
    say(
      "The app could not load. Reload the page; if this keeps happening, the server is missing files: whoever runs it should run scripts/setup.sh.",
      "앱을 불러오지 못했습니다. 페이지를 새로 고치세요. 계속 이러면 서버에 파일이 없는 것이니, 서버를 운영하는 사람이 scripts/setup.sh를 실행해야 합니다.",
      detail,
    );
  }
  bar.removeAttribute("value"); // no more progress to show
  document.getElementById("loading")?.setAttribute("aria-busy", "false");
}

// A stage with no progress for STALL_MS: say so, but keep going (a slow link may still finish).
let stallTimer = 0;
function progressed() {
  clearTimeout(stallTimer);
  if (failed || !booting()) return;
  document.getElementById("loading-error")?.remove();
  stallTimer = setTimeout(() => {
    if (failed || !booting()) return;
    say(
      "This is taking over a minute. Check your connection, then reload the page.",
      "1분 넘게 걸리고 있습니다. 연결을 확인한 뒤 페이지를 새로 고치세요.",
    );
  }, STALL_MS);
}
progressed();

// Anywhere in the path: a page written by `clov build` may sit in a folder of its static host.
const OURS = ["/assets/", "/frontend_py/", "/models/", "/signaling/"];
const ours = (url) => {
  try {
    const parsed = new URL(url, location.href);
    return parsed.origin === location.origin && OURS.some((prefix) => parsed.pathname.includes(prefix));
  } catch {
    return false;
  }
};
const shortName = (url) => new URL(url, location.href).pathname;

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.name.includes("/assets/pyodide/")) loaded += entry.decodedBodySize || entry.transferSize || 0; // decoded: the files come compressed
    if (booting() && ours(entry.name) && entry.responseStatus >= 400) fail(`${shortName(entry.name)}: ${entry.responseStatus}`);
  }
  bar.value = Math.min(80, (80 * loaded) / RUNTIME_BYTES);
  progressed();
}).observe({ type: "resource", buffered: true });

// <script> and <link> that fail to load fire "error" on themselves, seen here in the capture phase.
addEventListener(
  "error",
  (event) => {
    const target = event.target;
    if (target instanceof HTMLScriptElement || target instanceof HTMLLinkElement) {
      fail(shortName(target.src || target.href));
    } else if (booting() && String(event.message || "").includes("PythonError")) {
      fail("Python");
    }
  },
  true,
);
addEventListener("unhandledrejection", ({ reason }) => {
  if (booting()) fail(String(reason?.message || reason).slice(0, 200));
});

// Pyodide and PyScript fetch the runtime and the app's files: a 404 or a network error there ends the boot.
const realFetch = window.fetch;
window.fetch = async (...args) => {
  const url = args[0] instanceof Request ? args[0].url : String(args[0]);
  try {
    const response = await realFetch(...args);
    if (!response.ok && booting() && ours(url)) fail(`${shortName(url)}: ${response.status}`);
    return response;
  } catch (error) {
    if (booting() && ours(url)) fail(shortName(url));
    throw error;
  }
};

// PyScript shows its errors as a .py-error block at the end of <body>.
new MutationObserver((records, observer) => {
  if (!booting()) return observer.disconnect();
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (node instanceof Element && node.classList.contains("py-error")) fail("PyScript");
    }
  }
}).observe(document.body, { childList: true });

const STAGES = {
  "Loaded Pyodide": [85, "Starting Python…", "파이썬을 시작하는 중…"],
  "Loading files": [90, "Opening the booth…", "부스를 여는 중…"],
};
addEventListener("py:progress", ({ detail }) => {
  const next = STAGES[detail];
  if (!next || !stage.isConnected || failed) return;
  bar.value = next[0];
  stage.querySelector('[lang="en"]').textContent = next[1];
  stage.querySelector('[lang="ko"]').textContent = next[2];
  progressed();
});
