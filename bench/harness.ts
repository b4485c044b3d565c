/**
 * Measurement primitives of the bench: timing, the two call patterns (sequential and N in flight),
 * statistics, interleaved rounds and markdown tables. Knows nothing of any library.
 */
import { performance } from 'node:perf_hooks'

export const now = (): number => performance.now()

/** Runs a full GC when node was started with --expose-gc (npm run bench does), so rounds start alike. */
export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect !== undefined) collect()
}

export const hasGc = (): boolean => typeof (globalThis as { gc?: unknown }).gc === 'function'

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Nearest-rank percentile, p in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/**
 * Awaited calls one after the other, at least `minCount` of them and for at least `minMs` (so that a
 * round of fast calls is not over before a neighbour's GC pause is); returns each call's time in µs.
 */
export async function sequential(call: () => Promise<unknown>, minCount: number, minMs = 0): Promise<number[]> {
  const samples: number[] = []
  const begin = now()
  for (let i = 0; i < minCount || now() - begin < minMs; i++) {
    const start = now()
    await call()
    samples.push((now() - start) * 1000)
  }
  return samples
}

/** Blocking calls one after the other, like {@link sequential}; returns each call's time in µs. */
export function sequentialSync(call: () => unknown, minCount: number, minMs = 0): number[] {
  const samples: number[] = []
  const begin = now()
  for (let i = 0; i < minCount || now() - begin < minMs; i++) {
    const start = now()
    call()
    samples.push((now() - start) * 1000)
  }
  return samples
}

/**
 * Calls with `depth` of them in flight at all times (a new one starts as each one settles): at least
 * `minCount`, and more until `minMs` have passed. Resolves to the elapsed ms and the number of calls
 * once all have settled; rejects on the first failed call.
 */
export function inFlight(call: () => Promise<unknown>, minCount: number, depth: number, minMs = 0): Promise<{ ms: number; calls: number }> {
  return new Promise((resolve, reject) => {
    let issued = 0
    let done = 0
    let failed = false
    const start = now()
    const more = (): boolean => issued < minCount || now() - start < minMs
    const settled = (): void => {
      if (failed) return
      done++
      if (more()) next()
      else if (done === issued) resolve({ ms: now() - start, calls: done })
    }
    const fail = (error: unknown): void => {
      if (failed) return
      failed = true
      reject(error)
    }
    const next = (): void => {
      issued++
      try {
        call().then(settled, fail)
      } catch (error) {
        fail(error)
      }
    }
    for (let i = 0; i < Math.max(1, Math.min(depth, minCount)); i++) next()
  })
}

/** Rejects after `ms` if `promise` has not settled by then; never leaves a timer behind. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---- interleaved rounds -------------------------------------------------------------------------

/** One measured thing in a workload: a contender, or one of its modes (treerpc notify vs emit). */
export interface Entry<M> {
  label: string
  /** Raw limit of the channel: the denominator of every ratio in the table. */
  raw?: boolean
  /** Shown in the table's note column. */
  note?: string
  /** Runs before the first round (JIT warm-up, connection set-up). */
  warmup?: () => Promise<void>
  /** One round: returns that round's measurement. */
  measure: () => Promise<M>
}

export interface EntryResult<M> {
  label: string
  raw: boolean
  note: string
  rounds: M[]
  error?: string
}

async function warmAll<M>(entries: readonly Entry<M>[], results: EntryResult<M>[], deadlineMs: number): Promise<void> {
  for (let i = 0; i < entries.length; i++) {
    const warmup = entries[i]!.warmup
    if (warmup === undefined) continue
    try {
      await withDeadline(warmup(), deadlineMs, `${entries[i]!.label} warm-up`)
    } catch (error) {
      results[i]!.error = messageOf(error)
    }
  }
}

function emptyResults<M>(entries: readonly Entry<M>[]): EntryResult<M>[] {
  return entries.map((entry) => ({ label: entry.label, raw: entry.raw === true, note: entry.note ?? '', rounds: [] }))
}

/**
 * Runs `rounds` rounds over all entries, interleaved (A B C, B C A, C A B ...: each round rotates who
 * goes first), so that drift of the machine (thermal, other load, GC of a neighbour) hits every entry
 * alike. An entry that throws is marked failed with its error and left out of the later rounds; the
 * others carry on.
 */
export async function interleaved<M>(entries: readonly Entry<M>[], rounds: number, deadlineMs: number): Promise<EntryResult<M>[]> {
  const results = emptyResults(entries)
  await warmAll(entries, results, deadlineMs)
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const i = (k + round) % entries.length
      const result = results[i]!
      if (result.error !== undefined) continue
      gc()
      // Let the collector's background work (freeing large buffers) finish before the clock starts.
      await sleep(2)
      try {
        result.rounds.push(await withDeadline(entries[i]!.measure(), deadlineMs, `${result.label} round ${round + 1}`))
      } catch (error) {
        result.error = messageOf(error)
      }
    }
  }
  return results
}

export function messageOf(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return text.replace(/\s+/g, ' ').slice(0, 160)
}

// ---- formatting ---------------------------------------------------------------------------------

/** A markdown table with right-aligned numeric columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)))
  const sides = header.map((_, c) => align?.[c] ?? (c === 0 ? 'l' : 'r'))
  const pad = (text: string, c: number): string => (sides[c] === 'l' ? text.padEnd(widths[c]!) : text.padStart(widths[c]!))
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, c) => pad(cell ?? '', c)).join(' | ')} |`
  const rule = `|${widths.map((w, c) => (sides[c] === 'l' ? ':' + '-'.repeat(w + 1) : '-'.repeat(w + 1) + ':')).join('|')}|`
  return [line(header), rule, ...rows.map(line)].join('\n')
}

export function fmt(value: number, digits?: number): string {
  if (!Number.isFinite(value)) return '–'
  const d = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2)
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
}

export function ratio(value: number, base: number): string {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base <= 0) return '–'
  return `${(value / base).toFixed(2)}×`
}
