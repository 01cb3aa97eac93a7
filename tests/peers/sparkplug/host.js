// A Sparkplug B host application we did not write the protocol of: the npm `mqtt` client
// and the Eclipse Tahu JavaScript payload codec (`sparkplug-payload`).
//
//   node host.js mqtt://127.0.0.1:PORT GROUP
//
// Prints one JSON line per message of spBv1.0/GROUP/# ({"topic", "payload"}, the payload as
// sparkplug-payload decodes it; 64-bit values as numbers) after {"ready": true}. Reads
// JSON lines on stdin: {"op": "dcmd", "edge", "device", "metrics": [{name, type, value}]},
// {"op": "ncmd", "edge", "metrics": [...]}, {"op": "exit"}.
"use strict";
const mqtt = require("mqtt");
const readline = require("readline");
const sparkplug = require("sparkplug-payload").get("spBv1.0");

const [url, group] = process.argv.slice(2);
const client = mqtt.connect(url, { clientId: `tahu-js-host-${process.pid}`, clean: true });

function plain(value) {
  if (value && typeof value === "object" && typeof value.toNumber === "function") {
    return value.toNumber();
  }
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object" && !(value instanceof Buffer)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

function say(object) {
  process.stdout.write(JSON.stringify(object) + "\n");
}

client.on("connect", () => {
  client.subscribe(`spBv1.0/${group}/#`, { qos: 1 }, (err) => {
    if (err) {
      say({ error: String(err) });
      process.exit(1);
    }
    say({ ready: true });
  });
});
client.on("error", (err) => say({ error: String(err) }));
client.on("message", (topic, message) => {
  let payload;
  try {
    payload = plain(sparkplug.decodePayload(message));
  } catch (err) {
    say({ topic, error: String(err) });
    return;
  }
  say({ topic, payload });
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const order = JSON.parse(line);
  if (order.op === "exit") {
    client.end(false, () => process.exit(0));
    return;
  }
  const kind = order.op === "dcmd" ? "DCMD" : "NCMD";
  const topic =
    kind === "DCMD"
      ? `spBv1.0/${group}/DCMD/${order.edge}/${order.device}`
      : `spBv1.0/${group}/NCMD/${order.edge}`;
  const payload = { timestamp: Date.now(), metrics: order.metrics };
  client.publish(topic, sparkplug.encodePayload(payload), { qos: 1 }, () =>
    say({ sent: topic })
  );
});
