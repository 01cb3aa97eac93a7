// A Sparkplug B edge node we did not write: the reference JavaScript client of Eclipse
// Tahu (`sparkplug-client`, Cirrus Link).
//
//   node edge.js mqtt://127.0.0.1:PORT GROUP EDGE DEVICE
//
// Publishes NBIRTH and DBIRTH (metrics below) on connect and on every rebirth request,
// then reads JSON lines on stdin: {"op": "data", "metrics": [{name, type, value}]}
// (DDATA), {"op": "ddeath"}, {"op": "stop"} (NDEATH, clean), {"op": "crash"} (gone
// without a word: the broker publishes the will, NDEATH). Prints JSON lines: {"born": n},
// {"ncmd": payload}, {"dcmd": payload}.
"use strict";
const readline = require("readline");
const sparkplug = require("sparkplug-client");

const [url, group, edge, device] = process.argv.slice(2);
const client = sparkplug.newClient({
  serverUrl: url,
  username: "",
  password: "",
  groupId: group,
  edgeNode: edge,
  clientId: `tahu-js-edge-${process.pid}`,
  version: "spBv1.0",
  publishDeath: true,
});
let births = 0;

function say(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

function birth() {
  const now = Date.now();
  client.publishNodeBirth({
    timestamp: now,
    metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: false }],
  });
  client.publishDeviceBirth(device, {
    timestamp: now,
    metrics: [
      { name: "count", alias: 1, type: "Int32", value: -5 },
      { name: "temp", alias: 2, type: "Double", value: 21.5 },
      { name: "ok", alias: 3, type: "Boolean", value: true },
      { name: "label", alias: 4, type: "String", value: "ready" },
      { name: "total", alias: 5, type: "UInt64", value: 12345678901 },
    ],
  });
  births += 1;
  say({ born: births });
}

client.on("birth", birth);
client.on("ncmd", (payload) => {
  say({ ncmd: true });
  for (const metric of payload.metrics || []) {
    if (metric.name === "Node Control/Rebirth" && metric.value) birth();
  }
});
client.on("dcmd", (dev, payload) => {
  // a device that takes the written value and reports it back (the host's read-back)
  const metrics = (payload.metrics || []).filter((m) => m.name !== "refuse");
  say({ dcmd: dev, metrics: metrics.map((m) => ({ name: m.name, value: m.value })) });
  if (dev === device && metrics.length) {
    client.publishDeviceData(device, {
      timestamp: Date.now(),
      metrics: metrics.map((m) => ({ name: m.name, type: m.type, value: m.value })),
    });
  }
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const order = JSON.parse(line);
  if (order.op === "data") {
    client.publishDeviceData(device, { timestamp: Date.now(), metrics: order.metrics });
    say({ sent: "DDATA" });
  } else if (order.op === "ddeath") {
    client.publishDeviceDeath(device, { timestamp: Date.now(), metrics: [] });
    say({ sent: "DDEATH" });
  } else if (order.op === "stop") {
    // client.stop() without its fire-and-forget end: NDEATH, then exit once it is sent
    client.publishNDeath(client.client);
    client.client.end(false, {}, () => process.exit(0));
  } else if (order.op === "crash") {
    // destroy the socket: no DISCONNECT, so the broker sends the will (NDEATH)
    client.client.stream.destroy();
    process.exit(0);
  }
});
