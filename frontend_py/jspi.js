// The booth runs Pyodide without JSPI (WebAssembly.Suspending, "stack switching").
//
// With JSPI, Pyodide runs every call from JavaScript into Python on a switched stack. Chromium's
// in-process heap profiler, which Chrome turns on for a share of its renderers, records the stack
// of a sampled allocation by walking frame pointers up to the thread's own stack end; from a
// switched stack that walk reads into the stack's guard page and the tab crashes ("Aw, Snap!"),
// mostly while the booth boots. What JSPI adds to Pyodide is blocking on a promise
// (pyodide.ffi.run_sync), which CLOV never does, so the page withholds it: Pyodide looks for
// `WebAssembly.Suspending` once, when it starts, and this module runs before PyScript's.
delete WebAssembly.Suspending;
delete WebAssembly.promising;
