/**
 * The worker of the `refs` section (bench/refs.ts): callbacks into the main thread through function
 * stubs, the same number of plain calls into the main thread, a stream, and this side's counters and
 * heap for the leak soak. `gc()` collects when the bench process runs with --expose-gc: V8's flags are
 * per process, so every worker has `globalThis.gc` then (Node refuses `--expose-gc` in a Worker's
 * `execArgv`: ERR_WORKER_INVALID_EXEC_ARGV).
 */
import { connectParent } from '../../lib/index.js'

/** What the main thread exposes to this worker. */
export interface RefsMainApi {
  echo(value: unknown): unknown
}

const collect = (): void => (globalThis as { gc?: () => void }).gc?.()

const api = {
  echo: (value: unknown) => value,
  /** One callback round trip: this worker calls the main thread's function and returns its result. */
  callBack: (cb: (value: unknown) => unknown, value: unknown) => cb(value),
  /** `n` callback round trips in a row, each awaited before the next. */
  async callBackN(cb: (i: number) => unknown, n: number): Promise<number> {
    let sum = 0
    for (let i = 0; i < n; i++) sum += (await cb(i)) as number
    return sum
  },
  /** The baseline of `callBackN`: `n` plain calls into the main thread, each awaited before the next. */
  async callParentN(n: number): Promise<number> {
    let sum = 0
    for (let i = 0; i < n; i++) sum += (await parent.remote.echo(i)) as number
    return sum
  },
  /** A stream of `n` small items (numbers). */
  async *items(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i
  },
  /** This side's peer counters (the stats call itself is 1 active handler, and no pending call). */
  stats: () => {
    const { exportedRefs, importedRefs, pending, active, queued } = parent.stats
    return { exportedRefs, importedRefs, pending, active, queued }
  },
  /** A full GC here (the worker runs with --expose-gc); the FinalizationRegistry's callbacks run on a later turn. */
  gc: () => collect(),
  /** Heap used after a full GC. */
  heap: () => {
    collect()
    return process.memoryUsage().heapUsed
  },
}

export type RefsBenchApi = typeof api

const parent = connectParent<RefsMainApi>({ expose: api })
