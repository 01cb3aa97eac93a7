// A small OPC UA server on node-opcua, the peer the driver tests run against (we did not
// write node-opcua). Usage: node server.js PORT [PKI_FOLDER]
//
// Address space, namespace 1 ("urn:hmi-test"), under Objects/Plant:
//   Temperature (Double, changes every 100 ms), Counter (UInt32, +1 every 100 ms),
//   Level (Float), Pressure (Int16), Flags (UInt16), Total (Int32), Running (Boolean),
//   Name (String), Sensor (Double, good or bad on command), Setpoint (Double, writable),
//   Clamped (Double, writable; the server puts back at most 100 after 200 ms), Fast (Double,
//   changes every 10 ms), Mode (Int32, writable).
// Commands on stdin, one per line: "bad" (Sensor -> BadSensorFailure), "good",
// "uncertain" (Sensor -> UncertainLastUsableValue), "set NAME VALUE".
// Prints "ready PORT" once it listens; exits on stdin EOF or SIGTERM.
// Benchmark mode: node server.js PORT PKI bench N MS adds Objects/Bench/B0..B(N-1)
// (Double, ns=1;s=B<i>), every one changed every MS milliseconds.
"use strict";
const path = require("path");
const readline = require("readline");
const {
  OPCUAServer, Variant, DataType, StatusCodes, DataValue, OPCUACertificateManager,
} = require("node-opcua");

const port = parseInt(process.argv[2] || "4840", 10);
const pki = process.argv[3] || path.join(__dirname, "pki");

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    automaticallyAcceptUnknownCertificate: true,
    rootFolder: pki,
  });
  const server = new OPCUAServer({
    port,
    resourcePath: "/UA/hmi",
    serverCertificateManager,
    buildInfo: { productName: "hmi-test-peer", buildNumber: "1" },
    allowAnonymous: true,
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.getOwnNamespace();
  const plant = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Plant" });
  const vars = {};
  const types = {
    Temperature: DataType.Double, Counter: DataType.UInt32, Level: DataType.Float,
    Pressure: DataType.Int16, Flags: DataType.UInt16, Total: DataType.Int32,
    Running: DataType.Boolean, Name: DataType.String, Sensor: DataType.Double,
    Setpoint: DataType.Double, Clamped: DataType.Double, Fast: DataType.Double,
    Mode: DataType.Int32,
  };
  const initial = {
    Temperature: 20.5, Counter: 0, Level: 1.25, Pressure: -12, Flags: 5, Total: 100000,
    Running: true, Name: "pump one", Sensor: 7.5, Setpoint: 10.0, Clamped: 50.0, Fast: 0,
    Mode: 1,
  };
  const writable = new Set(["Setpoint", "Clamped", "Mode"]);
  for (const [name, dataType] of Object.entries(types)) {
    const variable = ns.addVariable({
      componentOf: plant,
      browseName: name,
      nodeId: `s=${name}`,
      dataType: DataType[dataType],
      accessLevel: writable.has(name) ? "CurrentRead | CurrentWrite" : "CurrentRead",
      userAccessLevel: writable.has(name) ? "CurrentRead | CurrentWrite" : "CurrentRead",
    });
    variable.setValueFromSource(new Variant({ dataType, value: initial[name] }), StatusCodes.Good);
    vars[name] = variable;
  }
  const set = (name, value, status = StatusCodes.Good) =>
    vars[name].setValueFromSource(new Variant({ dataType: types[name], value }), status);
  let t = 0;
  setInterval(() => {
    t += 1;
    set("Temperature", 20 + 5 * Math.sin(t / 10));
    set("Counter", t);
  }, 100);
  let f = 0;
  setInterval(() => set("Fast", (f += 1)), 10);
  // Clamped: the "device" takes a value above 100 back, as a controller would.
  vars.Clamped.on("value_changed", (dataValue) => {
    const value = dataValue.value.value;
    if (typeof value === "number" && value > 100) setTimeout(() => set("Clamped", 100), 200);
  });
  if (process.argv[4] === "bench") {
    const count = parseInt(process.argv[5] || "500", 10);
    const period = parseInt(process.argv[6] || "10", 10);
    const bench = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Bench" });
    const nodes = [];
    for (let i = 0; i < count; i++) {
      nodes.push(ns.addVariable({
        componentOf: bench, browseName: `B${i}`, nodeId: `s=B${i}`, dataType: "Double",
      }));
    }
    let tick = 0;
    setInterval(() => {
      tick += 1;
      for (let i = 0; i < count; i++) {
        nodes[i].setValueFromSource(
          new Variant({ dataType: DataType.Double, value: tick + i / count }), StatusCodes.Good);
      }
    }, period);
  }
  await server.start();
  process.stdout.write(`ready ${port}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const [cmd, name, value] = line.trim().split(/\s+/);
    const sensor = vars.Sensor.readValue().value.value;
    if (cmd === "bad") set("Sensor", sensor, StatusCodes.BadSensorFailure);
    else if (cmd === "good") set("Sensor", sensor, StatusCodes.Good);
    else if (cmd === "uncertain") set("Sensor", sensor, StatusCodes.UncertainLastUsableValue);
    else if (cmd === "set") {
      const type = types[name];
      set(name, type === DataType.Boolean ? value === "true"
        : type === DataType.String ? value : Number(value));
    }
    process.stdout.write(`ok ${cmd}\n`);
  });
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  rl.on("close", stop);
  process.on("SIGTERM", stop);
}

main().catch((err) => { console.error(err); process.exit(1); });
