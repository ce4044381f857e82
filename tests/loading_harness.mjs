// Runs frontend_py/loading.js in Node against a minimal fake DOM (tests/test_loading.py).
const [file, scenario] = process.argv.slice(2);
class Element { constructor(tag) { this.tag = tag; this.children = []; this.attrs = {}; this.classList = { contains: (c) => this.className === c }; }
  setAttribute(k, v) { this.attrs[k] = v; } removeAttribute(k) { delete this.attrs[k]; }
  replaceChildren() { this.children = []; } append(...c) { this.children.push(...c); }
  remove() { if (byId[this.id] === this) delete byId[this.id]; }
  after(el) { byId[el.id] = el; } querySelector(sel) { return this.children.find((c) => sel.includes(c.lang)); } }
class HTMLScriptElement extends Element {} class HTMLLinkElement extends Element {}
const stage = new Element("p"); stage.isConnected = true;
for (const lang of ["en", "ko"]) { const s = new Element("span"); s.lang = lang; stage.children.push(s); }
const byId = { "loading-stage": stage, "loading-bar": new Element("progress"), loading: new Element("main") };
byId.loading.id = "loading";
const timers = [];
const listeners = {};
Object.assign(globalThis, {
  Element, HTMLScriptElement, HTMLLinkElement, window: globalThis,
  document: { getElementById: (id) => byId[id], createElement: (t) => new Element(t), documentElement: {}, body: new Element("body"),
    // The page `clov build` writes names its signaling server in a <meta>.
    querySelector: (sel) => (scenario.endsWith("-static") && sel.includes("clov-signaling") ? new Element("meta") : null) },
  localStorage: { getItem: () => null }, location: { href: "http://host/", origin: "http://host" },
  PerformanceObserver: class { observe() {} }, MutationObserver: class { observe() {} },
  setTimeout: (f) => timers.push(f), clearTimeout: () => {},
  addEventListener: (type, f) => { (listeners[type] ||= []).push(f); },
  fetch: async (url) => ({ ok: !String(url).includes("missing"), status: String(url).includes("missing") ? 404 : 200 }),
});
Object.defineProperty(globalThis, "navigator", { value: { language: "ko-KR" } });
await import(file);
const line = () => byId["loading-error"] && Object.fromEntries(byId["loading-error"].children.map((c) => [c.lang, c.textContent]));
if (scenario.startsWith("fetch404")) await fetch("/assets/pyodide/missing.wasm");
if (scenario === "fetchok") await fetch("/assets/pyodide/pyodide.mjs");
if (scenario === "script") { const s = new HTMLScriptElement("script"); s.src = "http://host/assets/pyscript/core.js"; listeners.error[0]({ target: s }); }
if (scenario === "stall") timers.at(-1)();
if (scenario === "after-boot") { stage.isConnected = false; await fetch("/assets/missing.js"); }
console.log(JSON.stringify({ line: line() || null, lang: document.documentElement.lang }));
