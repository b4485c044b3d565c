/**
 * The `refs` workloads: what references (lib/refs.ts) cost against plain calls on the same channel,
 * and whether they leak. One worker thread (bench/workers/refs.ts), one channel, every row in one run:
 *
 * - `refs:callback`: a callback round trip (the worker awaits `cb(i)`, a function stub of the main
 *   thread's function, n times in a row, inside one outer call) against the plain call of the same
 *   direction (the worker awaits `parent.remote.echo(i)` n times in a row): µs per round trip;
 * - `refs:stream`: items/s of `for await (const x of await remote.items(n))`, an async generator in the
 *   worker pushed under credit (default `streamWindow`, 128), against n sequential `remote.echo(i)`
 *   calls from the main thread, and (a second reference point, no target) the same calls 64 in flight;
 * - `refs:leak`: 1,000,000 callback round trips (in `callBackN` chunks, a new function per chunk) and
 *   10,000 streams opened, read 1 to 3 items, and abandoned (never `return()`ed); then full GCs on
 *   both sides until the FinalizationRegistry releases have flowed (or the time is up), and the heaps
 *   after GC, the live references on both sides and the pending calls.
 *
 * Like bench/broker.ts, the section prints its own tables and targets and returns them as text.
 */
import { type WorkerHandle, spawnWorker } from '../lib/index.js'
import { workerUrl } from './adapters.js'
import { type Entry, type EntryResult, fmt, gc, hasGc, inFlight, interleaved, messageOf, now, sleep, table, withDeadline } from './harness.js'
import { atLeast, atMost, type Metrics, printTable, value, verdict } from './section.js'
import type { RefsBenchApi } from './workers/refs.js'

/** The parts of the section, as `--only` matches them (`--only refs` selects all three). */
export const REFS_PARTS = ['refs:callback', 'refs:stream', 'refs:leak'] as const
export type RefsPart = (typeof REFS_PARTS)[number]

/** Thrown when a treerpc row or the soak failed: the bench then exits with 1, and `report` still gets printed. */
export class RefsBenchFailure extends Error {
  constructor(
    message: string,
    readonly report: string,
  ) {
    super(message)
  }
}


const DEPTH = 64
const DEADLINE = 120_000
/** The soak's streams: each would yield this many items; 1 to 3 are read. */
const SOAK_STREAM_LENGTH = 1000
/** Default `streamWindow` of lib/options.ts; the rows use the default, this is for the titles. */
const WINDOW = 128

interface Size {
  rounds: number
  minMs: number
  /** Warm-up: round trips, items. */
  warm: number
  /** Round trips per outer `callBackN` / `callParentN` call. */
  chunk: number
  /** Per round, at least this many round trips (callback table) or plain sequential calls (stream table). */
  trips: number
  /** Items per stream in the stream table. */
  streamLength: number
  /** Per round, at least this many streamed items (and as many calls 64 in flight). */
  items: number
  soakCallbacks: number
  soakStreams: number
  /** How long the soak polls for the releases after its GCs. */
  drainMs: number
}

function sizeOf(opts: { quick: boolean; smoke: boolean }): Size {
  if (opts.smoke) return { rounds: 1, minMs: 0, warm: 50, chunk: 100, trips: 200, streamLength: 1000, items: 2000, soakCallbacks: 400, soakStreams: 20, drainMs: 2000 }
  if (opts.quick) return { rounds: 3, minMs: 70, warm: 2000, chunk: 1000, trips: 2000, streamLength: 10_000, items: 20_000, soakCallbacks: 50_000, soakStreams: 1000, drainMs: 10_000 }
  return { rounds: 7, minMs: 250, warm: 2000, chunk: 1000, trips: 5000, streamLength: 10_000, items: 100_000, soakCallbacks: 1_000_000, soakStreams: 10_000, drainMs: 10_000 }
}

/** The sum `callBackN` and `callParentN` return for `n` (each round trip echoes its index). */
const sumTo = (n: number): number => (n * (n - 1)) / 2

interface RefCounts {
  mainExported: number
  mainImported: number
  workerExported: number
  workerImported: number
}

interface SoakResult {
  callbacks: number
  callbackMs: number
  streams: number
  streamMs: number
  /** Live references right after the soak, before any forced GC. */
  beforeGc: RefCounts
  /** After the GCs and the polling. */
  after: RefCounts
  drainMs: number
  drained: boolean
  gcPasses: number
  heapBefore: number
  heapAfter: number
  workerHeapBefore: number
  workerHeapAfter: number
  mainPending: number
  workerPending: number
  workerActive: number
  workerQueued: number
}

export async function runRefsBench(opts: { quick: boolean; smoke: boolean; parts: readonly RefsPart[] }): Promise<string> {
  const lines: string[] = []
  const out = (text = ''): void => void lines.push(text)
  const size = sizeOf(opts)
  const started = now()
  const failures: string[] = []
  const verdicts: string[][] = []
  let handle: WorkerHandle<RefsBenchApi> | undefined
  try {
    handle = spawnWorker<RefsBenchApi>(workerUrl('refs'), { expose: { echo: (value: unknown) => value } })
    await withDeadline(handle.ready, 30_000, 'refs worker start')
    const { remote } = handle
    // Every kind of row answers, and answers right, before anything is timed.
    if ((await remote.callBack((x: unknown) => x, 'hello')) !== 'hello') throw new Error('callBack came back altered')
    if ((await remote.callBackN((i: number) => i, 10)) !== sumTo(10)) throw new Error('callBackN came back altered')
    if ((await remote.callParentN(10)) !== sumTo(10)) throw new Error('callParentN came back altered')
    if ((await collect(await remote.items(300))) !== 300) throw new Error('items(300) did not yield 300 items')
    out(`- one worker thread (\`spawnWorker\`, bench/workers/refs.ts), default options on both sides (\`streamWindow\` ${WINDOW}, chunks of up to 256 items per message)${hasGc() ? '' : '; WITHOUT --expose-gc: no GC between rounds, and the soak depends on the collector running by itself'}`)
    out()

    // ---- callback round trips ----
    if (opts.parts.includes('refs:callback')) {
      const perTrip = async (run: (n: number) => Promise<number>, minCount: number, minMs: number): Promise<Metrics> => {
        const begin = now()
        let trips = 0
        do {
          if ((await run(size.chunk)) !== sumTo(size.chunk)) throw new Error('a round trip came back altered')
          trips += size.chunk
        } while (trips < minCount || now() - begin < minMs)
        const ms = now() - begin
        return { perTrip: (ms * 1000) / trips, rate: trips / (ms / 1000) }
      }
      // One function for the whole table: its stub is imported once and stays (the soak makes new ones).
      const cb = (i: number): number => i
      const entries: Entry<Metrics>[] = [
        {
          label: 'plain calls, worker → main',
          raw: true,
          note: '`callParentN(n)`: the worker awaits `parent.remote.echo(i)` n times',
          warmup: async () => void (await perTrip((n) => remote.callParentN(n), size.warm, 0)),
          measure: () => perTrip((n) => remote.callParentN(n), size.trips, size.minMs),
        },
        {
          label: 'callbacks, worker → main',
          note: '`callBackN(cb, n)`: the worker awaits `cb(i)`, a function stub, n times',
          warmup: async () => void (await perTrip((n) => remote.callBackN(cb, n), size.warm, 0)),
          measure: () => perTrip((n) => remote.callBackN(cb, n), size.trips, size.minMs),
        },
      ]
      const t = now()
      const rows = await interleaved(entries, size.rounds, DEADLINE)
      printTable(out, `Callback round trip against a plain call of the same direction (worker → main → worker), sequential, ${size.chunk.toLocaleString('en-US')} per outer call — worker_threads`, 'refs:callback', size.rounds, now() - t, rows, [
        ['perTrip', 'µs/round trip'],
        ['rate', 'round trips/s', 0],
      ], { label: '× plain call', key: 'perTrip' })
      failures.push(...failed(rows))
      atMost(verdicts, 'callback round trip (worker → main), × a plain call', value(rows, entries[1]!.label, 'perTrip') / value(rows, entries[0]!.label, 'perTrip'), 1.2)
    }

    // ---- stream throughput ----
    if (opts.parts.includes('refs:stream')) {
      const streamed = async (minItems: number, minMs: number): Promise<Metrics> => {
        const begin = now()
        let items = 0
        do {
          const n = await collect(await remote.items(size.streamLength))
          if (n !== size.streamLength) throw new Error(`a stream of ${size.streamLength} items yielded ${n}`)
          items += n
        } while (items < minItems || now() - begin < minMs)
        return rate(items, now() - begin)
      }
      const sequentialCalls = async (minCount: number, minMs: number): Promise<Metrics> => {
        const begin = now()
        let calls = 0
        do {
          if ((await remote.echo(calls)) !== calls) throw new Error('echo came back altered')
          calls++
        } while (calls < minCount || now() - begin < minMs)
        return rate(calls, now() - begin)
      }
      const parallelCalls = async (minCount: number, minMs: number): Promise<Metrics> => {
        let i = 0
        const { ms, calls } = await inFlight(() => remote.echo(i++), minCount, DEPTH, minMs)
        return rate(calls, ms)
      }
      const entries: Entry<Metrics>[] = [
        {
          label: 'plain calls, sequential',
          raw: true,
          note: '`await remote.echo(i)`, one after the other',
          warmup: async () => void (await sequentialCalls(size.warm, 0)),
          measure: () => sequentialCalls(size.trips, size.minMs),
        },
        {
          label: `plain calls, ${DEPTH} in flight`,
          note: 'a second reference point (no target): a new call as each one settles',
          warmup: async () => void (await parallelCalls(size.warm * 2, 0)),
          measure: () => parallelCalls(size.items, size.minMs),
        },
        {
          label: `stream, window ${WINDOW} (default)`,
          note: `\`for await (const x of await remote.items(${size.streamLength.toLocaleString('en-US')}))\`, opening call included`,
          warmup: async () => void (await streamed(size.warm * 4, 0)),
          measure: () => streamed(size.items, size.minMs),
        },
      ]
      const t = now()
      const rows = await interleaved(entries, size.rounds, DEADLINE)
      printTable(out, 'Stream throughput (small items: numbers) against plain calls from the main thread, worker → main — worker_threads', 'refs:stream', size.rounds, now() - t, rows, [
        ['rate', 'items/s', 0],
        ['perItem', 'µs/item', 2],
      ], { label: 'speedup vs sequential', key: 'perItem', speedup: true })
      failures.push(...failed(rows))
      atLeast(verdicts, `stream, window ${WINDOW}: items/s ÷ sequential plain calls`, value(rows, entries[2]!.label, 'rate') / value(rows, entries[0]!.label, 'rate'), 5, '×')
    }

    // ---- the leak soak ----
    if (opts.parts.includes('refs:leak')) {
      out(`### Leak soak: ${size.soakCallbacks.toLocaleString('en-US')} callback round trips and ${size.soakStreams.toLocaleString('en-US')} abandoned streams${opts.quick ? ` — ${opts.smoke ? 'SMOKE' : 'QUICK'} RUN: fewer than the 1,000,000 and 10,000 of the full run` : ''}`)
      out()
      let result: SoakResult | undefined
      try {
        result = await withDeadline(soak(handle, size), 900_000, 'refs leak soak')
      } catch (error) {
        failures.push(`leak soak: ${messageOf(error)}`)
        out(`failed: ${messageOf(error)}`)
        out()
      }
      if (result !== undefined) {
        const r = result
        const counts = (c: RefCounts): string => `main ${c.mainExported} exported / ${c.mainImported} imported; worker ${c.workerExported} exported / ${c.workerImported} imported`
        out(
          table(
            ['measure', 'value'],
            [
              ['callback round trips', `${r.callbacks.toLocaleString('en-US')} in ${(r.callbackMs / 1000).toFixed(1)} s (${fmt(r.callbacks / (r.callbackMs / 1000), 0)}/s; \`callBackN(fn, ${size.chunk})\` with a new \`fn\` per call, sequential)`],
              ['abandoned streams', `${r.streams.toLocaleString('en-US')} in ${(r.streamMs / 1000).toFixed(1)} s (each \`items(${SOAK_STREAM_LENGTH})\`, 1 to 3 items read with \`next()\`, never \`return()\`ed)`],
              ['live references right after, before any forced GC', counts(r.beforeGc)],
              ['live references after the GCs', `${counts(r.after)} (${r.drained ? 'all released' : 'NOT all released'} after ${r.gcPasses} GC pass${r.gcPasses === 1 ? '' : 'es'} on both sides, ${(r.drainMs / 1000).toFixed(1)} s)`],
              ['main heap after GC, before → after', `${mb(r.heapBefore)} → ${mb(r.heapAfter)} (growth ${mb(r.heapAfter - r.heapBefore)})`],
              ['worker heap after GC, before → after', `${mb(r.workerHeapBefore)} → ${mb(r.workerHeapAfter)} (growth ${mb(r.workerHeapAfter - r.workerHeapBefore)})`],
              ['pending calls: main / worker', `${r.mainPending} / ${r.workerPending}`],
              ['handlers active / queued in the worker (the stats call itself is 1 active)', `${r.workerActive} / ${r.workerQueued}`],
            ],
            ['l', 'l'],
          ),
        )
        out()
        const scale = opts.quick ? ` (${opts.smoke ? 'smoke' : 'quick'}: ${r.callbacks.toLocaleString('en-US')} callbacks, ${r.streams.toLocaleString('en-US')} streams)` : ''
        const below = (target: string, megabytes: number, limit: number): void => {
          const ok = megabytes < limit
          verdicts.push([target, `${megabytes.toFixed(2)} MB`, `< ${limit} MB`, verdict(ok)])
        }
        below(`soak: main heap growth after GC${scale}`, (r.heapAfter - r.heapBefore) / 1e6, 10)
        below(`soak: worker heap growth after GC${scale}`, (r.workerHeapAfter - r.workerHeapBefore) / 1e6, 10)
        const zero = (target: string, measured: number): void => void verdicts.push([target, String(measured), '0', verdict(measured === 0)])
        zero('soak: main exportedRefs after GC (the callbacks)', r.after.mainExported)
        zero('soak: main importedRefs after GC (the abandoned streams)', r.after.mainImported)
        zero('soak: worker exportedRefs after GC (the streams’ producers)', r.after.workerExported)
        zero('soak: worker importedRefs after GC (the callback stubs)', r.after.workerImported)
        zero('soak: pending calls, main + worker', r.mainPending + r.workerPending)
      }
    }

    if (verdicts.length > 0) {
      out(`#### Targets (references), medians of this run${opts.smoke ? ' (SMOKE: meaningless counts)' : opts.quick ? ' (quick: noisier)' : ''}`)
      out()
      out(table(['target', 'measured', 'target', 'verdict'], verdicts, ['l', 'r', 'r', 'l']))
      out()
    }
  } catch (error) {
    failures.push(messageOf(error))
    out(`> refs failed: ${messageOf(error)}`)
    out()
  } finally {
    if (handle !== undefined) {
      try {
        await withDeadline(handle.close(), 15_000, 'closing the refs worker')
      } catch (error) {
        out(`> closing the refs worker failed: ${messageOf(error)}`)
      }
    }
  }
  out(`References section: ${((now() - started) / 1000).toFixed(1)} s`)
  out()
  const report = lines.join('\n') + '\n'
  if (failures.length > 0) throw new RefsBenchFailure(failures.join('; '), report)
  return report
}

/** Reads a stream to its end; returns how many items it yielded. */
async function collect(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0
  for await (const _ of stream) n++
  return n
}

function rate(items: number, ms: number): Metrics {
  return { rate: items / (ms / 1000), perItem: (ms * 1000) / items }
}

// ---- the soak -----------------------------------------------------------------------------------

/** Callback round trips in `callBackN` chunks, each chunk with a function of its own (so each is exported, then released). */
async function callbacks(remote: WorkerHandle<RefsBenchApi>['remote'], total: number, chunk: number): Promise<void> {
  for (let done = 0; done < total; ) {
    const n = Math.min(chunk, total - done)
    const fn = (i: number): number => i
    if ((await remote.callBackN(fn, n)) !== sumTo(n)) throw new Error('a callback came back altered')
    done += n
  }
}

/** Opens a stream, reads 1 to 3 items, and drops it without `return()`: only the collector can release it. */
async function abandonOne(remote: WorkerHandle<RefsBenchApi>['remote'], k: number): Promise<void> {
  const iterator = (await remote.items(SOAK_STREAM_LENGTH))[Symbol.asyncIterator]()
  for (let j = 0; j <= k % 3; j++) {
    const next = await iterator.next()
    if (next.done === true || next.value !== j) throw new Error(`an abandoned stream yielded ${JSON.stringify(next)} as item ${j}`)
  }
}

async function abandonStreams(remote: WorkerHandle<RefsBenchApi>['remote'], count: number): Promise<void> {
  for (let k = 0; k < count; k++) await abandonOne(remote, k)
}

async function refCounts(handle: WorkerHandle<RefsBenchApi>): Promise<RefCounts & { workerPending: number; workerActive: number; workerQueued: number }> {
  const worker = await handle.remote.stats()
  const main = handle.peer.stats
  return {
    mainExported: main.exportedRefs,
    mainImported: main.importedRefs,
    workerExported: worker.exportedRefs,
    workerImported: worker.importedRefs,
    workerPending: worker.pending,
    workerActive: worker.active,
    workerQueued: worker.queued,
  }
}

const allReleased = (c: RefCounts): boolean => c.mainExported === 0 && c.mainImported === 0 && c.workerExported === 0 && c.workerImported === 0

/**
 * Full GCs on both sides, then turns for the FinalizationRegistry callbacks and the release messages
 * they send, until no reference is left on either side or `maxMs` have passed.
 */
async function drain(handle: WorkerHandle<RefsBenchApi>, maxMs: number): Promise<{ counts: RefCounts; ms: number; passes: number; drained: boolean }> {
  const begin = now()
  let passes = 0
  for (;;) {
    gc()
    await handle.remote.gc()
    passes++
    // The registry's callbacks run on a later task; their releases then cross the channel.
    await sleep(20)
    const counts = await refCounts(handle)
    if (allReleased(counts)) return { counts, ms: now() - begin, passes, drained: true }
    if (now() - begin > maxMs) return { counts, ms: now() - begin, passes, drained: false }
    await sleep(30)
  }
}

async function settle(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function soak(handle: WorkerHandle<RefsBenchApi>, size: Size): Promise<SoakResult> {
  const { remote } = handle
  // Warm-up: both paths compiled, and whatever the first ones leave (stub caches, JIT) in the baseline.
  await callbacks(remote, Math.min(size.soakCallbacks, 20 * size.chunk), size.chunk)
  await abandonStreams(remote, Math.min(size.soakStreams, 100))
  await drain(handle, size.drainMs)
  const heapBefore = await settle()
  const workerHeapBefore = await remote.heap()

  let t = now()
  await callbacks(remote, size.soakCallbacks, size.chunk)
  const callbackMs = now() - t
  t = now()
  await abandonStreams(remote, size.soakStreams)
  const streamMs = now() - t
  const beforeGc = await refCounts(handle)
  const drained = await drain(handle, size.drainMs)

  const heapAfter = await settle()
  const workerHeapAfter = await remote.heap()
  const last = await refCounts(handle)
  return {
    callbacks: size.soakCallbacks,
    callbackMs,
    streams: size.soakStreams,
    streamMs,
    beforeGc,
    after: drained.counts,
    drainMs: drained.ms,
    drained: drained.drained,
    gcPasses: drained.passes,
    heapBefore,
    heapAfter,
    workerHeapBefore,
    workerHeapAfter,
    mainPending: handle.peer.stats.pending,
    workerPending: last.workerPending,
    workerActive: last.workerActive,
    workerQueued: last.workerQueued,
  }
}

// ---- tables and targets -------------------------------------------------------------------------

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`

function failed(rows: EntryResult<Metrics>[]): string[] {
  return rows.filter((row) => row.error !== undefined).map((row) => `${row.label}: ${row.error}`)
}

