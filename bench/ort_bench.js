// ort_bench.js: times an ONNX model with ONNX Runtime (npm onnxruntime-node).
//
// Consumes MODEL.onnx, a raw float32 input file, the input's dims as JSON
// ("[1,3,32,32]"), an output path and timing.c's options (--seconds S
// --warmup S --min-samples N --samples FILE); produces the output (raw
// float32, for the driver's correctness check), the same "run median_us=..."
// line as the C harness and, with --samples, every sample's us in FILE, one
// a line (bench.py pools its rounds). One intra-op thread, all graph
// optimizations, sequential execution. The process is pinned by bench.py.
// What is timed is `await session.run(feeds)`: ONNX Runtime plus the
// binding's per-call cost (tensor wrapping, promise), as a user sees it.
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

const SAMPLE_NS = 100e3;   // shortest sample, as timing.c
const MAX_SAMPLES = 1 << 20;

function readF32(path) {
    const b = fs.readFileSync(path);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function median(v) {
    v.sort((a, b) => a - b);
    const n = v.length;
    return n % 2 ? v[(n - 1) / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

async function warmUp(run, seconds) {
    const t0 = process.hrtime.bigint();
    let n = 0, t = t0;
    while (n < 2 || Number(t - t0) < seconds * 1e9) {
        await run();
        ++n;
        t = process.hrtime.bigint();
    }
    return Number(t - t0) / n;
}

async function measure(run, o) {
    const perCall = await warmUp(run, o.warmup);
    const batch = perCall >= SAMPLE_NS ? 1 : Math.floor(SAMPLE_NS / perCall) + 1;
    const v = [];
    const start = process.hrtime.bigint();
    let t = start;
    while (v.length < MAX_SAMPLES && (v.length < o.minSamples || Number(t - start) < o.seconds * 1e9)) {
        const t0 = t;
        for (let k = 0; k < batch; ++k)
            await run();
        t = process.hrtime.bigint();
        v.push(Number(t - t0) / batch);
    }
    if (o.samples)
        fs.writeFileSync(o.samples, v.map((ns) => (ns * 1e-3).toFixed(4) + '\n').join(''));
    const n = v.length, m = median(v);
    return {median: m, min: v[0], p10: v[Math.floor(n / 10)], p90: v[n - 1 - Math.floor(n / 10)],
            samples: n, batch};
}

// --seconds S --warmup S --min-samples N --samples FILE, as timing.c.
function parseOptions(args) {
    const o = {seconds: 1, warmup: 0.2, minSamples: 15, samples: null};
    const names = {'--seconds': 'seconds', '--warmup': 'warmup', '--min-samples': 'minSamples',
                   '--samples': 'samples'};
    for (let i = 0; i < args.length; i += 2) {
        const key = names[args[i]];
        if (!key || i + 1 >= args.length)
            return null;
        o[key] = key === 'samples' ? args[i + 1] : Number(args[i + 1]);
        if (Number.isNaN(o[key]))
            return null;
    }
    return o;
}

async function main() {
    const a = process.argv.slice(2);
    const o = a.length >= 4 ? parseOptions(a.slice(4)) : null;
    if (!o) {
        console.error('usage: node ort_bench.js MODEL.onnx INPUT.f32 DIMS_JSON OUTPUT.f32 '
                      + '[--seconds S] [--warmup S] [--min-samples N] [--samples FILE]');
        process.exit(2);
    }
    const session = await ort.InferenceSession.create(a[0], {
        intraOpNumThreads: 1, interOpNumThreads: 1,
        graphOptimizationLevel: 'all', executionMode: 'sequential'});
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', readF32(a[1]), JSON.parse(a[2]))};
    const run = () => session.run(feeds);
    const out = (await run())[session.outputNames[0]].data;
    fs.writeFileSync(a[3], Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    const s = await measure(run, o);
    const us = (ns) => (ns * 1e-3).toFixed(3);
    console.log(`run median_us=${us(s.median)} min_us=${us(s.min)} p10_us=${us(s.p10)} `
                + `p90_us=${us(s.p90)} samples=${s.samples} batch=${s.batch} ort=${require('onnxruntime-node/package.json').version}`);
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
