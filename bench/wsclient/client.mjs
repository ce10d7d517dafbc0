// The load client of `bench/events.py latency --client node`: N WebSocket clients in one
// Node process (the `ws` package), spread over the given daphne addresses. Each says
// interest in `queue`; once every socket has its `interest` reply the client prints READY,
// records each text frame with its arrival time (POSIX seconds), and when stdin says STOP
// (or closes) prints one JSON line: {"arrivals": [[[seconds, frame], ...] per socket]}.
// bench/events.py turns that into the same figures as its own asyncio client.
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

function args() {
  const out = { token: "", sockets: 0, address: [] };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--token") out.token = argv[++i];
    else if (argv[i] === "--sockets") out.sockets = Number(argv[++i]);
    else if (argv[i] === "--address") {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("--")) out.address.push(argv[++i]);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.token || !(out.sockets > 0) || !out.address.length) {
    throw new Error("usage: client.mjs --token T --sockets N --address host:port ...");
  }
  return out;
}

const now = () => (performance.timeOrigin + performance.now()) / 1000;

function open(url, index, arrivals) {
  return new Promise((resolve, reject) => {
    // no permessage-deflate: the server does not compress either
    const ws = new WebSocket(url, { perMessageDeflate: false, origin: url.replace(/^ws/, "http").split("/core4")[0] });
    const timer = setTimeout(() => reject(new Error(`socket ${index}: no interest reply`)), 120000);
    let ready = false;
    ws.on("open", () => ws.send(JSON.stringify({ type: "interest", data: ["queue"] })));
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      if (!ready) {
        const frame = JSON.parse(data.toString());
        if (frame.type === "interest") {
          ready = true;
          clearTimeout(timer);
          resolve(ws);
        }
        return;
      }
      arrivals[index].push([now(), data.toString()]);
    });
    ws.on("error", (err) => { clearTimeout(timer); reject(err); });
  });
}

async function main() {
  const opts = args();
  const arrivals = Array.from({ length: opts.sockets }, () => []);
  const sockets = [];
  for (let offset = 0; offset < opts.sockets; offset += 50) {
    const batch = [];
    for (let i = offset; i < Math.min(offset + 50, opts.sockets); i++) {
      const address = opts.address[i % opts.address.length];
      batch.push(open(`ws://${address}/core4/api/v1/event?token=${opts.token}`, i, arrivals));
    }
    sockets.push(...(await Promise.all(batch)));
  }
  process.stdout.write("READY\n");
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => {
    lines.on("line", (line) => { if (line.trim() === "STOP") resolve(); });
    lines.on("close", resolve);
  });
  for (const ws of sockets) ws.terminate();
  // exit once the line is written (stdout to a pipe is asynchronous in Node)
  process.stdout.write(JSON.stringify({ arrivals }) + "\n", () => process.exit(0));
}

main().catch((err) => {
  process.stdout.write(`FAILED ${err.message}\n`);
  process.exit(1);
});
