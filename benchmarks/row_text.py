"""What sending every row's id and text preview with the widget costs (the row_text trait, issue 29 item 4).

Run: python benchmarks/row_text.py
For 1k, 10k and 100k rows (ids like "doc-0000123", texts of ~600 characters), with and without
previews: the time to build the trait value (datamap_widget.widget._row_text.encode_row_text), to
serialize it as ipywidgets does (_remove_buffers + json.dumps) and push its bytes through a
loopback socket (one hop of kernel -> browser), to decode every row in Node (TextDecoder, as
js/src/rowtext.ts; the widget decodes only the rows on screen, so this is the worst case), and
the bytes. Ends with the row count above which the widget leaves the previews out (`default: ...`).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from ipywidgets.widgets.widget import _remove_buffers

from datamap_widget.widget._row_text import PREVIEW_MAX_ROWS, ROW_PREVIEW_CHARS, encode_row_text

SIZES = (1_000, 10_000, 100_000)
NODE_DECODE = r"""
const fs = require("fs");
const dir = process.argv[process.argv.length - 1];
const read = (name) => new Uint8Array(fs.readFileSync(`${dir}/${name}`));
const t0 = performance.now();
const dec = new TextDecoder();
let chars = 0;
for (const [o, b] of [["id_offsets", "ids"], ["preview_offsets", "previews"]]) {
  const offs = read(o), bytes = read(b);
  if (!offs.length) continue;
  const off = new Uint32Array(offs.slice().buffer);
  for (let r = 0; r + 1 < off.length; r++) chars += dec.decode(bytes.subarray(off[r], off[r + 1])).length;
}
console.log(JSON.stringify({ ms: performance.now() - t0, chars }));
"""


def texts(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = np.array("the a model label review text document news sport business tech politics é ü 数据".split())
    return [" ".join(words[rng.integers(0, len(words), 110)]) for _ in range(n)]


def loopback_send(payload: list[bytes]) -> float:
    """Seconds to push ``payload`` through a loopback TCP socket to a reader that drains it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    total = sum(len(p) for p in payload)

    def drain():
        conn, _ = server.accept()
        got = 0
        while got < total:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        conn.close()

    reader = threading.Thread(target=drain)
    reader.start()
    client = socket.create_connection(server.getsockname())
    t = time.perf_counter()
    for p in payload:
        client.sendall(p)
    client.close()
    reader.join()
    server.close()
    return time.perf_counter() - t


def node_decode(value: dict) -> float:
    if shutil.which("node") is None:
        return float("nan")
    with tempfile.TemporaryDirectory() as d:
        for k in ("id_offsets", "ids", "preview_offsets", "previews"):
            Path(d, k).write_bytes(value[k])
        out = subprocess.run(["node", "-e", NODE_DECODE, d], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["ms"] / 1000


def measure(n: int, previews: bool) -> dict:
    ids = [f"doc-{i:07d}" for i in range(n)]
    body = texts(n) if previews else None
    t = time.perf_counter()
    value = encode_row_text(ids, body, max_preview_rows=n)
    build = time.perf_counter() - t
    t = time.perf_counter()
    state, _paths, buffers = _remove_buffers({"row_text": value})
    message = json.dumps(state).encode()
    serialize = time.perf_counter() - t
    send = serialize + loopback_send([message, *[bytes(b) for b in buffers]])
    nbytes = len(message) + sum(len(b) for b in buffers)
    return {"n": n, "previews": previews, "build_s": build, "send_s": send, "decode_s": node_decode(value), "bytes": nbytes}


def main() -> None:
    print(f"{'rows':>8} {'previews':>8} {'build s':>8} {'send s':>8} {'decode s':>9} {'total s':>8} {'MB':>7}")
    for n in SIZES:
        for previews in (False, True):
            m = measure(n, previews)
            total = m["build_s"] + m["send_s"] + m["decode_s"]
            print(f"{n:>8,} {'yes' if previews else 'no':>8} {m['build_s']:>8.3f} {m['send_s']:>8.3f} {m['decode_s']:>9.3f} "
                  f"{total:>8.3f} {m['bytes'] / 1e6:>7.2f}")
    print(f"default: previews ({ROW_PREVIEW_CHARS} characters) for up to {PREVIEW_MAX_ROWS:,} rows, ids for every row")


if __name__ == "__main__":
    main()
