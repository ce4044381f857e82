"""CLOV browser client, run by PyScript on Pyodide (see index.html)."""
