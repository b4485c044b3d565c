/**
 * treerpc's benchmark suite: every contender of a workload in one run, interleaved rounds, medians,
 * and each contender's ratio to the raw limit of the same channel.
 *
 *   npm run bench                    full run (a few minutes)
 *   npm run bench -- --quick         under a minute, fewer calls and rounds
 *   npm run bench -- --smoke         a few seconds: proves every contender still runs (CI); numbers meaningless
 *   npm run bench -- --only latency  workloads whose id contains the text (latency:worker, pool:2, stream, leak...)
 *   npm run bench -- --only browser  treerpc's bundle in Chromium, page ↔ worker (skipped with a note without Chromium)
 *   npm run bench -- --only broker   treerpc/amqp through a private RabbitMQ node (skipped with a note without rabbitmq-server)
 *   npm run bench -- --only refs     callbacks and streams (references) against plain calls, and their leak soak
 *   npm run bench -- --md out.md     also write the report as markdown
 *   npm run bench -- --no-pin        skip the second, pinned pass of the latency workloads
 *
 * The latency workloads (sequential calls, blocking calls) run twice: as scheduled by the OS, and again
 * in a child run of this script under `taskset -c 0` (every thread and process on one CPU), where the
 * time of a round trip is the CPU work of both sides plus a context switch, free of where the
 * scheduler happened to place each thread (see bench/README.md).
 *
 * Start node with --expose-gc (npm run bench does): rounds start after a full GC, and the leak check
 * measures the heap after one.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BrokerBenchFailure, runBrokerBench } from './broker.js'
import { runBrowserBench } from './browser.js'
import { BirpcChild, BirpcWorker } from './contenders/birpc.js'
import { ComlinkChild, ComlinkWorker } from './contenders/comlink.js'
import { JsonRpcChild, JsonRpcWorker } from './contenders/jsonrpc.js'
import { PiscinaPool } from './contenders/piscina.js'
import { RawIpc, RawPool, RawSync, RawWorker } from './contenders/raw.js'
import { Synckit } from './contenders/synckit.js'
import { TinypoolPool } from './contenders/tinypool.js'
import { TreerpcChild, TreerpcPool, TreerpcWorker } from './contenders/treerpc.js'
import type { Channel, Contender } from './contenders/types.js'
import { WorkerpoolPool } from './contenders/workerpool.js'
import {
  type Entry,
  type EntryResult,
  fmt,
  gc,
  hasGc,
  inFlight,
  interleaved,
  median,
  messageOf,
  now,
  percentile,
  ratio,
  sequential,
  sequentialSync,
  table,
  withDeadline,
} from './harness.js'
import { binary, binaryBase64, type Graph, MIB, objectGraph, SMALL } from './payloads.js'
import { REFS_PARTS, RefsBenchFailure, runRefsBench } from './refs.js'
import { streamEntries } from './stream.js'

// ---- command line -------------------------------------------------------------------------------

const argv = process.argv.slice(2)
const smoke = argv.includes('--smoke')
const quick = argv.includes('--quick') || smoke
const only = valueOf('--only')
const mdPath = valueOf('--md')
/** Internal: this process is the pinned pass (under taskset); it writes its results to `--json` and prints nothing. */
const pinned = argv.includes('--pinned')
const jsonPath = valueOf('--json')
const noPin = argv.includes('--no-pin')
/** Workloads where the OS's thread placement dominates the result: measured again pinned to one CPU. */
const PINNED_WORKLOADS: ReadonlySet<string> = new Set(['latency', 'blocking'])
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('usage: node --expose-gc dist/bench/run.js [--quick | --smoke] [--only <substring>] [--md <file>] [--no-pin]')
  process.exit(0)
}

function valueOf(flag: string): string | undefined {
  const index = argv.indexOf(flag)
  return index === -1 ? undefined : argv[index + 1]
}

/**
 * Rounds; per round, each entry runs at least `minMs` and at least its minimum count of calls (so slow
 * contenders still get enough samples and fast ones are not over before a neighbour's GC pause is);
 * warm-up calls before the first round; the leak-check size; the stream workload's frame size and
 * frames per round. Quick: the same shape, smaller (but the same 16 MiB frame).
 */
const size = smoke
  ? { rounds: 1, poolRounds: 1, minMs: 0, warm: 20, latency: 50, throughput: 200, graph: 3, binary: 3, notifyBatch: 200, pool: 200, sync: 50, leak: 2000, frame: MIB / 4, frames: 1 }
  : quick
  ? { rounds: 3, poolRounds: 3, minMs: 70, warm: 2000, latency: 300, throughput: 3000, graph: 20, binary: 10, notifyBatch: 1000, pool: 2000, sync: 500, leak: 50_000, frame: 16 * MIB, frames: 1 }
  : { rounds: 7, poolRounds: 5, minMs: 250, warm: 2000, latency: 2000, throughput: 20_000, graph: 100, binary: 50, notifyBatch: 1000, pool: 5000, sync: 2000, leak: 1_000_000, frame: 16 * MIB, frames: 2 }
/** The stream workload's chunks: small enough that a reassembly copying per chunk shows (issue 8). */
const STREAM_CHUNK = 256
const DEPTH = 64
const DEADLINE = 120_000

// ---- the report ---------------------------------------------------------------------------------

const report: string[] = []
function out(text = ''): void {
  if (pinned) return
  console.log(text)
  report.push(text)
}

type Metrics = Record<string, number>

interface Column {
  key: string
  label: string
  digits?: number
}

/** What a table of results needs to know of its workload. */
interface Shape {
  id: string
  title: string
  /** Lower is better; every ratio is of this key. */
  primary: string
  columns: Column[]
  /** An extra ratio column against a named peer (pools: piscina, blocking: synckit). */
  versus?: { label: string; prefix: string; speedup?: boolean }
  /** Header of the ratio column, when its denominator is not a raw channel. Default `× raw`. */
  ratioLabel?: string
}

interface Workload extends Shape {
  /** Small-call workloads also list the yardstick contenders (the raw echo in a JSON-RPC envelope). */
  yardsticks?: boolean
  /** How a contender takes part: an entry, a reason it cannot (shown as n/a), or nothing (not listed). */
  entries(contender: Contender, channel: string): Entry<Metrics>[] | string | undefined
}

interface Done {
  workload: Shape
  channel: string
  rows: EntryResult<Metrics>[]
}
const done: Done[] = []

const graph = objectGraph()
const graphBytes = JSON.stringify(graph).length
const base64 = binaryBase64()

function latencyMetrics(samples: number[]): Metrics {
  return { median: median(samples), p99: percentile(samples, 99) }
}

function checkGraph(value: unknown): void {
  if ((value as Graph | undefined)?.items?.length !== graph.items.length) throw new Error('the 64 KB graph came back altered')
}

const latency: Workload = {
  id: 'latency',
  title: 'Sequential round-trip latency (small call)',
  primary: 'median',
  yardsticks: true,
  columns: [
    { key: 'median', label: 'median µs' },
    { key: 'p99', label: 'p99 µs' },
  ],
  entries: (c) => [
    {
      label: c.name,
      raw: c.raw,
      warmup: async () => void (await sequential(() => c.call(SMALL), size.warm)),
      measure: async () => latencyMetrics(await sequential(() => c.call(SMALL), size.latency, size.minMs)),
    },
  ],
}

function throughputEntry(c: Contender, minCount: number): Entry<Metrics> {
  return {
    label: c.name,
    raw: c.raw,
    warmup: async () => void (await inFlight(() => c.call(SMALL), size.warm * 2, DEPTH)),
    measure: async () => {
      const { ms, calls } = await inFlight(() => c.call(SMALL), minCount, DEPTH, size.minMs)
      return { perCall: (ms * 1000) / calls, rate: calls / (ms / 1000) }
    },
  }
}

const throughputColumns: Column[] = [
  { key: 'rate', label: 'calls/s', digits: 0 },
  { key: 'perCall', label: 'µs/call' },
]

const throughput: Workload = {
  id: 'throughput',
  title: `Throughput, ${DEPTH} calls in flight (small call)`,
  primary: 'perCall',
  yardsticks: true,
  columns: throughputColumns,
  entries: (c) => [throughputEntry(c, size.throughput)],
}

const object64k: Workload = {
  id: 'object',
  title: `Echo of a ${(graphBytes / 1024).toFixed(0)} KB object graph (${graph.items.length} nested objects), sequential`,
  primary: 'median',
  columns: [
    { key: 'median', label: 'median µs' },
    { key: 'p99', label: 'p99 µs' },
  ],
  entries: (c) => [
    {
      label: c.name,
      raw: c.raw,
      warmup: async () => {
        checkGraph(await c.call(graph))
        await sequential(() => c.call(graph), Math.max(10, size.graph / 4))
      },
      measure: async () => latencyMetrics(await sequential(() => c.call(graph), size.graph, size.minMs)),
    },
  ],
}

const binary1m: Workload = {
  id: 'binary',
  title: 'Echo of a 1 MiB Uint8Array, sequential (moved with transfer lists where the library can)',
  primary: 'median',
  columns: [
    { key: 'median', label: 'median µs' },
    { key: 'p99', label: 'p99 µs' },
  ],
  entries: (c, channel) => {
    if (channel === 'ipc-json') {
      // A Uint8Array does not survive JSON: every contender sends the same bytes as one base64 string.
      const once = async (): Promise<void> => {
        const back = await c.call(base64)
        if (typeof back !== 'string' || back.length !== base64.length) throw new Error('the base64 string came back altered')
      }
      return [entry(c, once, 'base64 string (JSON channel)')]
    }
    if (c.echoBinary !== undefined) {
      let bytes = binary()
      const once = async (): Promise<void> => {
        bytes = await c.echoBinary!(bytes)
        if (bytes.byteLength !== MIB) throw new Error('the bytes came back altered')
      }
      return [entry(c, once, 'transferred both ways')]
    }
    const bytes = binary()
    const once = async (): Promise<void> => {
      const back = (await c.call(bytes)) as Uint8Array
      if (back?.byteLength !== MIB) throw new Error('the bytes came back altered')
    }
    return [entry(c, once, channel === 'worker' ? 'copied (no transfer list)' : 'copied (IPC)')]
  },
}

function entry(c: Contender, once: () => Promise<void>, note: string): Entry<Metrics> {
  return {
    label: c.name,
    raw: c.raw,
    note,
    warmup: async () => void (await sequential(once, Math.max(4, size.binary / 4))),
    measure: async () => latencyMetrics(await sequential(once, size.binary, size.minMs)),
  }
}

/**
 * Batches of `batch` one-way messages, each followed by calls to `count()` until all of it has arrived
 * (the channels keep order, so one call normally suffices), for at least `minMs`.
 */
async function oneWay(c: Contender, send: (value: unknown) => void, batch: number, minMs: number): Promise<Metrics> {
  await c.count!()
  const start = now()
  let total = 0
  do {
    for (let i = 0; i < batch; i++) send(i)
    let got = 0
    for (let attempt = 0; got < batch; attempt++) {
      if (attempt > 10_000) throw new Error(`only ${got} of ${batch} one-way messages arrived`)
      if (attempt > 0) await new Promise((resolve) => setImmediate(resolve))
      got += await c.count!()
    }
    if (got !== batch) throw new Error(`${got} one-way messages arrived for ${batch} sent`)
    total += batch
  } while (now() - start < minMs)
  const ms = now() - start
  return { perMsg: (ms * 1000) / total, rate: total / (ms / 1000) }
}

const notify: Workload = {
  id: 'notify',
  title: `One-way messages (notifications, events) sent in bursts of ${size.notifyBatch.toLocaleString('en-US')}, each burst confirmed by one call`,
  primary: 'perMsg',
  columns: [
    { key: 'rate', label: 'msgs/s', digits: 0 },
    { key: 'perMsg', label: 'µs/msg', digits: 2 },
  ],
  entries: (c) => {
    if (c.notify === undefined || c.count === undefined) return c.noNotify ?? 'no one-way messages'
    const list: Entry<Metrics>[] = []
    const variants: [string, (value: unknown) => void, string][] = [[c.name, (v) => c.notify!(v), c.emit === undefined ? '' : 'peer.notify']]
    if (c.emit !== undefined) variants.push([`${c.name} (emit)`, (v) => c.emit!(v), 'peer.emit → peer.on'])
    for (const [label, send, note] of variants) {
      list.push({
        label,
        raw: c.raw,
        note,
        warmup: async () => void (await oneWay(c, send, size.warm * 2, 0)),
        measure: () => oneWay(c, send, size.notifyBatch, size.minMs),
      })
    }
    return list
  },
}

const pool: Workload = {
  id: 'pool',
  title: `Pool throughput, ${DEPTH} small calls in flight`,
  primary: 'perCall',
  columns: throughputColumns,
  versus: { label: 'vs piscina (throughput)', prefix: 'piscina', speedup: true },
  entries: (c) => [throughputEntry(c, size.pool)],
}

const blocking: Workload = {
  id: 'blocking',
  title: 'Blocking call latency (main thread sleeps until the worker replies)',
  primary: 'median',
  columns: [
    { key: 'median', label: 'median µs' },
    { key: 'p99', label: 'p99 µs' },
  ],
  versus: { label: '× synckit', prefix: 'synckit' },
  entries: (c) => {
    if (c.callSync === undefined) return undefined
    return [
      {
        label: c.name,
        raw: c.raw,
        warmup: async () => void sequentialSync(() => c.callSync!(SMALL), size.warm),
        measure: async () => latencyMetrics(sequentialSync(() => c.callSync!(SMALL), size.sync, size.minMs)),
      },
    ]
  },
}

// ---- groups of contenders that share a channel ----------------------------------------------------

interface Group {
  channel: string
  title: string
  workloads: Workload[]
  rounds: number
  make(): Contender[]
}

const channelWorkloads = [latency, throughput, object64k, binary1m, notify]
const groups: Group[] = [
  {
    channel: 'worker' satisfies Channel,
    title: 'worker_threads (Worker ↔ parentPort)',
    workloads: channelWorkloads,
    rounds: size.rounds,
    make: () => [new RawWorker(), new RawWorker({ envelope: true }), new TreerpcWorker(), new ComlinkWorker(), new BirpcWorker(), new JsonRpcWorker()],
  },
  ...(['json', 'advanced'] as const).map((serialization) => ({
    channel: `ipc-${serialization}` satisfies Channel,
    title: `child process IPC, ${serialization} serialization`,
    workloads: channelWorkloads,
    rounds: size.rounds,
    make: () => [new RawIpc(serialization), new RawIpc(serialization, { envelope: true }), new TreerpcChild(serialization), new ComlinkChild(serialization), new BirpcChild(serialization), new JsonRpcChild(serialization)],
  })),
  ...[1, 2].map((members) => ({
    channel: String(members),
    title: `${members} member${members > 1 ? 's' : ''} (worker threads)`,
    workloads: [pool],
    rounds: size.poolRounds,
    make: () => [new RawPool(members), new TreerpcPool(members), new PiscinaPool(members), new TinypoolPool(members), new WorkerpoolPool(members)],
  })),
  {
    channel: 'worker',
    title: 'worker_threads',
    workloads: [blocking],
    rounds: size.rounds,
    make: () => [new RawSync(), new TreerpcWorker('treerpc remoteSync'), new Synckit()],
  },
]

const selected = (workload: Shape, channel: string): boolean =>
  (only === undefined || `${workload.id}:${channel}`.includes(only)) && (!pinned || PINNED_WORKLOADS.has(workload.id))

async function runGroup(group: Group): Promise<void> {
  const workloads = group.workloads.filter((w) => selected(w, group.channel))
  if (workloads.length === 0) return
  const contenders = group.make()
  const failedStart = new Map<Contender, string>()
  try {
    for (const contender of contenders) {
      try {
        await withDeadline(contender.start(), 30_000, `${contender.name} start`)
      } catch (error) {
        failedStart.set(contender, `failed to start: ${messageOf(error)}`)
      }
    }
    for (const workload of workloads) {
      const entries: Entry<Metrics>[] = []
      const fixed: EntryResult<Metrics>[] = []
      for (const contender of contenders) {
        if (contender.yardstick === true && workload.yardsticks !== true) continue
        const failure = failedStart.get(contender)
        const made = failure ?? workload.entries(contender, group.channel)
        if (made === undefined) continue
        if (typeof made === 'string') fixed.push({ label: contender.name, raw: contender.raw === true, note: '', rounds: [], error: failure ?? `n/a: ${made}` })
        else entries.push(...made)
      }
      const started = now()
      const rows = [...(await interleaved(entries, group.rounds, DEADLINE)), ...fixed]
      done.push({ workload, channel: group.channel, rows })
      pinnedOutput.done.push({ workload: workload.id, channel: group.channel, title: group.title, rounds: group.rounds, ms: now() - started, rows })
      printTable(workload, group.title, group.channel, group.rounds, rows, now() - started)
    }
  } finally {
    for (const contender of contenders) {
      try {
        await withDeadline(contender.stop(), 15_000, `${contender.name} stop`)
      } catch (error) {
        out(`> stopping ${contender.name} failed: ${messageOf(error)}`)
      }
    }
  }
}

// ---- stream reassembly (in-process, no contenders) ------------------------------------------------

const stream: Shape = {
  id: 'stream',
  title: `A ${size.frame >= MIB ? `${size.frame / MIB} MiB` : `${size.frame / 1024} KiB`} frame read by StreamTransport in ${STREAM_CHUNK}-byte chunks, against the same frame in one chunk`,
  primary: 'perFrame',
  columns: [
    { key: 'perFrame', label: 'ms/frame' },
    { key: 'rate', label: 'MB/s', digits: 0 },
  ],
  ratioLabel: '× one write',
}

/** The `stream` workload (bench/stream.ts): treerpc only, measured in this process, so no group. */
async function runStream(): Promise<void> {
  const channel = 'in-process'
  if (!selected(stream, channel)) return
  const started = now()
  const rows = await interleaved(streamEntries(size.frame, STREAM_CHUNK, size.frames, size.minMs), size.rounds, DEADLINE)
  done.push({ workload: stream, channel, rows })
  printTable(stream, 'in-process, one StreamTransport per round', channel, size.rounds, rows, now() - started)
}

// ---- the browser (Chromium, page ↔ dedicated worker; bench/browser.ts) ----------------------------

const browserLatency: Shape = {
  id: 'browser',
  title: 'Chromium: sequential round trip, page ↔ dedicated module worker (small call)',
  primary: 'latency',
  columns: [{ key: 'latency', label: 'µs/call' }],
}
const browserThroughput: Shape = {
  id: 'browser',
  title: `Chromium: ${DEPTH} calls in flight, page ↔ dedicated module worker (small call)`,
  primary: 'perCall',
  columns: [
    { key: 'rate', label: 'calls/s', digits: 0 },
    { key: 'perCall', label: 'µs/call' },
  ],
}

/** The `browser` workload: measured inside a Chromium page, so no group; skipped with a note without Chromium. */
async function runBrowser(): Promise<void> {
  if (!selected(browserLatency, 'chromium')) return
  const started = now()
  let result: Awaited<ReturnType<typeof runBrowserBench>>
  try {
    result = await withDeadline(
      runBrowserBench({ rounds: size.rounds, warm: size.warm, latency: size.latency, throughput: size.throughput, depth: DEPTH, value: SMALL }),
      DEADLINE,
      'browser workload',
    )
  } catch (error) {
    result = { skipped: `failed: ${messageOf(error)}` }
  }
  if ('skipped' in result) {
    out(`> browser:chromium skipped: ${result.skipped}`)
    out()
    if (result.skipped.startsWith('failed')) browserFailed = true
    return
  }
  const ms = now() - started
  const metrics = (key: 'latency' | 'perCall') => (r: { latency: number; perCall: number }): Metrics => ({ latency: r.latency, perCall: r.perCall, rate: 1e6 / r[key] })
  const rows = (key: 'latency' | 'perCall'): EntryResult<Metrics>[] => [
    { label: 'raw postMessage', raw: true, note: 'echo worker, replies matched by id', rounds: result.raw.map(metrics(key)) },
    { label: 'raw postMessage, JSON-RPC envelope', raw: false, note: 'yardstick: the same echo, JSON-RPC shaped', rounds: result.envelope.map(metrics(key)) },
    { label: 'treerpc (bundle)', raw: false, note: 'dist/browser/treerpc.js', rounds: result.treerpc.map(metrics(key)) },
  ]
  const title = `${result.version}, headless`
  for (const [shape, channel, key] of [[browserLatency, 'chromium', 'latency'], [browserThroughput, 'chromium-64', 'perCall']] as const) {
    const list = rows(key)
    done.push({ workload: shape, channel, rows: list })
    printTable(shape, title, channel, size.rounds, list, ms)
  }
}
let browserFailed = false

// ---- the broker (RabbitMQ, private node; bench/broker.ts) -----------------------------------------

const brokerShape: Shape = { id: 'broker', title: 'RPC through RabbitMQ', primary: 'median', columns: [] }

/** The `broker` workloads: their own node, contenders and report (bench/broker.ts); skipped with a note without RabbitMQ. */
async function runBroker(): Promise<void> {
  if (!selected(brokerShape, 'rabbitmq')) return
  out('## RPC through RabbitMQ: treerpc/amqp against raw amqplib and moleculer (bench/broker.ts)')
  out()
  try {
    out(await runBrokerBench({ quick, smoke }))
  } catch (error) {
    if (error instanceof BrokerBenchFailure) out(error.report)
    out(`> broker:rabbitmq failed: ${messageOf(error)}`)
    out()
    brokerFailed = true
  }
}
let brokerFailed = false

// ---- references (callbacks, streams, their lifetimes; bench/refs.ts) -----------------------------

/** The `refs` workloads: one worker thread of their own, own tables and targets (bench/refs.ts). Not in the pinned pass. */
async function runRefs(): Promise<void> {
  if (pinned) return
  const parts = REFS_PARTS.filter((part) => only === undefined || part.includes(only))
  if (parts.length === 0) return
  out('## References: callbacks and streams against plain calls, and their leak soak (bench/refs.ts)')
  out()
  try {
    out(await runRefsBench({ quick, smoke, parts }))
  } catch (error) {
    if (error instanceof RefsBenchFailure) out(error.report)
    out(`> refs failed: ${messageOf(error)}`)
    out()
    refsFailed = true
  }
}
let refsFailed = false

function aggregate(row: EntryResult<Metrics>, key: string): number {
  return median(row.rounds.map((m) => m[key]).filter((v): v is number => typeof v === 'number'))
}

// ---- the pinned pass ----------------------------------------------------------------------------

interface PinnedOutput {
  done: { workload: string; channel: string; title: string; rounds: number; ms: number; rows: EntryResult<Metrics>[] }[]
}
const pinnedOutput: PinnedOutput = { done: [] }

/** Runs the latency workloads again in a child run of this script under `taskset -c 0`, and reports them. */
function runPinned(): void {
  if (pinned || noPin) return
  if (!groups.some((group) => group.workloads.some((w) => PINNED_WORKLOADS.has(w.id) && selected(w, group.channel)))) return
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) {
    out('> pinned pass skipped: `taskset` is not available')
    out()
    return
  }
  const file = join(os.tmpdir(), `treerpc-bench-pinned-${process.pid}.json`)
  const passthrough = [...(smoke ? ['--smoke'] : quick ? ['--quick'] : []), ...(only !== undefined ? ['--only', only] : [])]
  const script = fileURLToPath(import.meta.url)
  const result = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, script, '--pinned', '--json', file, ...passthrough], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 20 * 60_000,
  })
  let output: PinnedOutput
  try {
    output = JSON.parse(readFileSync(file, 'utf8')) as PinnedOutput
  } catch (error) {
    out(`> pinned pass failed (status ${String(result.status)}${result.signal ? `, ${result.signal}` : ''}): ${messageOf(result.error ?? error)}`)
    out()
    return
  } finally {
    rmSync(file, { force: true })
  }
  for (const item of output.done) {
    const workload = [latency, blocking].find((w) => w.id === item.workload)
    if (workload === undefined) continue
    const channel = `${item.channel}@cpu0`
    done.push({ workload, channel, rows: item.rows })
    printTable(workload, `${item.title} — every thread on one CPU (taskset -c 0)`, channel, item.rounds, item.rows, item.ms)
  }
}

function printTable(workload: Shape, title: string, channel: string, rounds: number, rows: EntryResult<Metrics>[], ms: number): void {
  const raw = rows.find((row) => row.raw && row.error === undefined)
  const rawValue = raw === undefined ? NaN : aggregate(raw, workload.primary)
  const versus = workload.versus === undefined ? undefined : rows.find((row) => row.label.startsWith(workload.versus!.prefix) && row.error === undefined)
  const header = ['contender', ...workload.columns.map((c) => c.label), workload.ratioLabel ?? '× raw']
  if (workload.versus !== undefined) header.push(workload.versus.label)
  header.push('note')
  const body = rows.map((row) => {
    if (row.error !== undefined) return [row.label, ...workload.columns.map(() => '–'), '–', ...(workload.versus ? ['–'] : []), row.error]
    const value = aggregate(row, workload.primary)
    const cells = [row.label, ...workload.columns.map((c) => fmt(aggregate(row, c.key), c.digits)), ratio(value, rawValue)]
    if (workload.versus !== undefined) {
      const peer = versus === undefined ? NaN : aggregate(versus, workload.primary)
      cells.push(workload.versus.speedup ? (Number.isFinite(peer) ? `${(peer / value).toFixed(2)}×` : '–') : ratio(value, peer))
    }
    cells.push(row.note)
    return cells
  })
  out(`### ${workload.title} — ${title}`)
  out()
  out(`\`${workload.id}:${channel}\` · ${rounds} interleaved rounds, medians across rounds · ${(ms / 1000).toFixed(1)} s`)
  out()
  out(table(header, body, header.map((_, i) => (i === 0 || i === header.length - 1 ? 'l' : 'r'))))
  out()
}

// ---- leak check ---------------------------------------------------------------------------------

interface LeakResult {
  calls: number
  ms: number
  heapBefore: number
  heapAfter: number
  pending: number
  timersAlive: number
  timersCreated: number
  workerHeapBefore: number
  workerHeapAfter: number
  workerActive: number
  workerQueued: number
}
let leakResult: LeakResult | undefined
let leakError: string | undefined

/** Counts setTimeout timers made while installed that have neither fired nor been cleared. */
function trackTimers(): { alive: () => number; created: () => number; uninstall: () => void } {
  const g = globalThis as unknown as { setTimeout: (...args: any[]) => any; clearTimeout: (timer: any) => void }
  const originalSet = g.setTimeout
  const originalClear = g.clearTimeout
  const live = new Set<unknown>()
  let created = 0
  g.setTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    created++
    const timer = originalSet(
      (...inner: unknown[]) => {
        live.delete(timer)
        fn(...inner)
      },
      ms,
      ...args,
    )
    live.add(timer)
    return timer
  }
  g.clearTimeout = (timer: unknown) => {
    live.delete(timer)
    originalClear(timer)
  }
  return {
    alive: () => live.size,
    created: () => created,
    uninstall: () => {
      g.setTimeout = originalSet
      g.clearTimeout = originalClear
    },
  }
}

async function runLeak(): Promise<void> {
  if (only !== undefined && !'leak:worker'.includes(only)) return
  const contender = new TreerpcWorker()
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`
  try {
    await withDeadline(contender.start(), 30_000, 'treerpc start')
    await inFlight(() => contender.call(SMALL), 20_000, DEPTH)
    const settle = async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve))
      gc()
      gc()
    }
    await settle()
    const heapBefore = process.memoryUsage().heapUsed
    const workerBefore = await contender.handle.remote.stats()
    const timers = trackTimers()
    let ms: number
    try {
      ;({ ms } = await withDeadline(inFlight(() => contender.call(SMALL), size.leak, DEPTH), 600_000, 'leak check'))
    } finally {
      timers.uninstall()
    }
    await settle()
    const heapAfter = process.memoryUsage().heapUsed
    const timersAlive = timers.alive()
    const pending = contender.handle.peer.stats.pending
    const workerAfter = await contender.handle.remote.stats()
    leakResult = {
      calls: size.leak,
      ms,
      heapBefore,
      heapAfter,
      pending,
      timersAlive,
      timersCreated: timers.created(),
      workerHeapBefore: workerBefore.heapUsed,
      workerHeapAfter: workerAfter.heapUsed,
      workerActive: workerAfter.active,
      workerQueued: workerAfter.queued,
    }
  } catch (error) {
    leakError = messageOf(error)
  } finally {
    await contender.stop().catch(() => {})
  }
  out(`### Leak check: treerpc spawnWorker, ${size.leak.toLocaleString('en-US')} calls (${DEPTH} in flight)${quick ? ` — ${smoke ? 'SMOKE' : 'QUICK'} RUN: fewer calls than the 1,000,000 of the full run` : ''}`)
  out()
  if (leakResult === undefined) {
    out(`failed: ${leakError}`)
  } else {
    const r = leakResult
    out(
      table(
        ['measure', 'value'],
        [
          ['calls', r.calls.toLocaleString('en-US')],
          ['time', `${(r.ms / 1000).toFixed(1)} s (${fmt(r.calls / (r.ms / 1000), 0)} calls/s, timer tracking on)`],
          ['main heap after GC, before → after', `${mb(r.heapBefore)} → ${mb(r.heapAfter)} (growth ${mb(r.heapAfter - r.heapBefore)})`],
          ['worker heap after GC, before → after', `${mb(r.workerHeapBefore)} → ${mb(r.workerHeapAfter)} (growth ${mb(r.workerHeapAfter - r.workerHeapBefore)})`],
          ['peer.stats.pending (main)', String(r.pending)],
          ['handlers active / queued in the worker (the stats call itself is 1 active)', `${r.workerActive} / ${r.workerQueued}`],
          ['setTimeout timers alive in main (created during the run)', `${r.timersAlive} (of ${r.timersCreated.toLocaleString('en-US')} created)`],
        ],
        ['l', 'l'],
      ),
    )
  }
  out()
}

// ---- summary and targets ------------------------------------------------------------------------

function find(workloadId: string, channel: string, prefix: string): { value: number; raw: number } | undefined {
  const d = done.find((x) => x.workload.id === workloadId && x.channel === channel)
  if (d === undefined) return undefined
  const raw = d.rows.find((row) => row.raw && row.error === undefined)
  const row = d.rows.find((r) => r.label.startsWith(prefix) && r.error === undefined && !r.label.includes('(emit)'))
  if (row === undefined) return undefined
  return { value: aggregate(row, d.workload.primary), raw: raw === undefined ? NaN : aggregate(raw, d.workload.primary) }
}

const UNITS: Record<string, string> = { median: 'µs', latency: 'µs', perCall: 'µs/call', perMsg: 'µs/msg', perFrame: 'ms/frame' }

function loadavg(): string {
  return os.loadavg().map((load) => load.toFixed(2)).join(' / ') + ' (1 / 5 / 15 min)'
}

function printSummary(): void {
  if (done.length === 0) return
  const families = ['treerpc', 'comlink', 'birpc', 'vscode-jsonrpc', 'piscina', 'tinypool', 'workerpool', 'synckit']
  const present = families.filter((f) => done.some((d) => d.rows.some((r) => r.label.startsWith(f))))
  const rows = done.map((d) => {
    const raw = d.rows.find((row) => row.raw && row.error === undefined)
    const rawValue = raw === undefined ? NaN : aggregate(raw, d.workload.primary)
    return [
      `${d.workload.id}:${d.channel}`,
      `${fmt(rawValue)} ${UNITS[d.workload.primary] ?? ''}`,
      ...present.map((family) => {
        const row = d.rows.find((r) => r.label.startsWith(family) && !r.label.includes('(emit)'))
        if (row === undefined) return ''
        if (row.error !== undefined) return row.error.startsWith('n/a') ? 'n/a' : 'error'
        return ratio(aggregate(row, d.workload.primary), rawValue)
      }),
    ]
  })
  out('## Summary: time per call (or message) as a multiple of the raw limit of the same channel, lower is better')
  out()
  out(table(['workload:channel', 'raw', ...present], rows))
  out()
}

interface Verdict {
  target: string
  measured: string
  limit: string
  met: boolean | undefined
  by: string
}

function printTargets(): void {
  const verdicts: Verdict[] = []
  const ratioTarget = (label: string, workloadId: string, channel: string, limit: number): void => {
    const hit = find(workloadId, channel, 'treerpc')
    if (hit === undefined) return
    const measured = hit.value / hit.raw
    const met = Number.isFinite(measured) ? measured <= limit : undefined
    verdicts.push({
      target: label,
      measured: Number.isFinite(measured) ? `${measured.toFixed(2)}×` : '–',
      limit: `≤ ${limit.toFixed(2)}×`,
      met,
      by: met === undefined ? '' : met ? `${((1 - measured / limit) * 100).toFixed(0)}% under` : `${((measured / limit - 1) * 100).toFixed(0)}% over`,
    })
  }
  ratioTarget('worker_threads: sequential latency, as scheduled', 'latency', 'worker', 1.1)
  ratioTarget('worker_threads: sequential latency, one CPU', 'latency', 'worker@cpu0', 1.1)
  ratioTarget('worker_threads: 64 in flight, time per call (issue 13)', 'throughput', 'worker', 1.0)
  ratioTarget('child json: 64 in flight, time per call (issue 13)', 'throughput', 'ipc-json', 1.0)
  ratioTarget('child advanced: 64 in flight, time per call (issue 13)', 'throughput', 'ipc-advanced', 1.0)
  ratioTarget('worker_threads: bursts of notifications', 'notify', 'worker', 1.0)
  ratioTarget('child json: bursts of notifications', 'notify', 'ipc-json', 1.0)
  ratioTarget('child json: sequential latency, as scheduled', 'latency', 'ipc-json', 1.15)
  ratioTarget('child json: sequential latency, one CPU', 'latency', 'ipc-json@cpu0', 1.15)
  ratioTarget('child advanced: sequential latency, as scheduled', 'latency', 'ipc-advanced', 1.15)
  ratioTarget('child advanced: sequential latency, one CPU', 'latency', 'ipc-advanced@cpu0', 1.15)
  ratioTarget('64 KB object: worker_threads', 'object', 'worker', 1.05)
  ratioTarget('64 KB object: child json', 'object', 'ipc-json', 1.05)
  ratioTarget('64 KB object: child advanced', 'object', 'ipc-advanced', 1.05)
  ratioTarget('1 MiB binary transferred: worker_threads', 'binary', 'worker', 1.3)
  ratioTarget('Chromium page ↔ worker: sequential latency (issue 10)', 'browser', 'chromium', 1.1)
  ratioTarget('Chromium page ↔ worker: 64 in flight, time per call (issue 10)', 'browser', 'chromium-64', 1.3)
  const treePool = find('pool', '2', 'treerpc')
  const piscina = find('pool', '2', 'piscina')
  if (treePool !== undefined && piscina !== undefined) {
    const speedup = piscina.value / treePool.value
    verdicts.push({
      target: 'pool ×2: small-call throughput vs piscina',
      measured: `${speedup.toFixed(2)}× piscina`,
      limit: '≥ 5.00×',
      met: speedup >= 5,
      by: speedup >= 5 ? `${((speedup / 5 - 1) * 100).toFixed(0)}% over` : `${((1 - speedup / 5) * 100).toFixed(0)}% short`,
    })
  }
  for (const channel of ['worker', 'worker@cpu0']) {
    const sync = find('blocking', channel, 'treerpc')
    const synckit = find('blocking', channel, 'synckit')
    if (sync === undefined || synckit === undefined) continue
    const r = sync.value / synckit.value
    verdicts.push({
      target: `blocking call latency vs synckit${channel.endsWith('@cpu0') ? ', one CPU' : ', as scheduled'}`,
      measured: `${fmt(sync.value)} µs vs ${fmt(synckit.value)} µs (${r.toFixed(2)}×)`,
      limit: '≤ 1.00×',
      met: r <= 1,
      by: r <= 1 ? `${((1 - r) * 100).toFixed(0)}% faster` : `${((r - 1) * 100).toFixed(0)}% slower`,
    })
  }
  if (leakResult !== undefined) {
    const growth = (leakResult.heapAfter - leakResult.heapBefore) / 1e6
    const scale = quick ? ` (${smoke ? 'smoke' : 'quick'}: ${leakResult.calls.toLocaleString('en-US')} calls, not 1,000,000)` : ''
    verdicts.push({ target: `heap growth after GC${scale}`, measured: `${growth.toFixed(2)} MB`, limit: '< 10 MB', met: growth < 10, by: '' })
    verdicts.push({ target: 'pending entries after the calls', measured: String(leakResult.pending), limit: '0', met: leakResult.pending === 0, by: '' })
    verdicts.push({ target: 'live timers after the calls', measured: String(leakResult.timersAlive), limit: '0', met: leakResult.timersAlive === 0, by: '' })
  } else if (leakError !== undefined) {
    verdicts.push({ target: 'leak check', measured: leakError, limit: '', met: false, by: '' })
  }
  if (verdicts.length === 0) return
  out('## Targets (issues 5, 10 and 13), treerpc, medians of this run')
  out()
  out(
    table(
      ['target', 'measured', 'target', 'verdict'],
      verdicts.map((v) => [v.target, v.measured, v.limit, v.met === undefined ? '–' : `${v.met ? 'met' : 'MISSED'}${v.by ? ` (${v.by})` : ''}`]),
      ['l', 'r', 'r', 'l'],
    ),
  )
  out()
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now()
  const cpus = os.cpus()
  out(`# treerpc benchmarks${smoke ? ' (smoke)' : quick ? ' (quick)' : ''}`)
  out()
  out(`- machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores available, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`)
  out(`- node ${process.version}, V8 ${process.versions.v8}${hasGc() ? ', --expose-gc' : ', WITHOUT --expose-gc (no GC between rounds, leak check less exact)'}`)
  out(`- command: node ${process.execArgv.join(' ')} ${process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', '')).join(' ')}`)
  out(`- ${smoke ? 'SMOKE run: proves each contender runs; the numbers mean nothing' : quick ? 'QUICK run: fewer calls and rounds than the full run; ratios are noisier' : 'full run'}; every contender with its default options`)
  out(`- load average at start: ${loadavg()} (anything near the core count means other work shared the CPUs)`)
  out(`- payloads: small call = ${JSON.stringify(SMALL)}; object graph = ${graphBytes.toLocaleString('en-US')} bytes of JSON; binary = 1 MiB Uint8Array`)
  out()
  for (const group of groups) await runGroup(group)
  await runStream()
  await runBrowser()
  await runBroker()
  await runRefs()
  if (pinned) {
    if (jsonPath !== undefined) writeFileSync(jsonPath, JSON.stringify(pinnedOutput))
    return
  }
  runPinned()
  await runLeak()
  printSummary()
  printTargets()
  out(`Total time: ${((now() - started) / 1000).toFixed(1)} s; load average at the end: ${loadavg()}`)
  // Peers may fail (their rows say why); treerpc failing fails the run, so CI notices.
  const treerpcFailures = done.flatMap((d) => d.rows.filter((row) => row.label.startsWith('treerpc') && row.error !== undefined))
  if (treerpcFailures.length > 0 || leakError !== undefined || browserFailed || brokerFailed || refsFailed) process.exitCode = 1
  if (mdPath !== undefined) writeFileSync(mdPath, report.join('\n') + '\n')
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
