/**
 * What the sections run apart from run.ts's groups (bench/broker.ts, bench/refs.ts) share: a table of
 * interleaved rows against a baseline row, reading a row's median, and a targets table's verdicts.
 */
import { type EntryResult, fmt, median, ratio, table } from './harness.js'

export type Metrics = Record<string, number>

/** The median of `key` over the rounds of the row labelled `label`, or NaN if it failed or is missing. */
export function value(rows: EntryResult<Metrics>[], label: string, key: string): number {
  const row = rows.find((r) => r.label === label && r.error === undefined)
  return row === undefined ? NaN : median(row.rounds.map((m) => m[key]!))
}

export function verdict(ok: boolean | undefined, by = ''): string {
  return ok === undefined ? '–' : `${ok ? 'met' : 'MISSED'}${by ? ` (${by})` : ''}`
}

/** A target row: `measured` (a ratio) must be at most `limit`. */
export function atMost(verdicts: string[][], target: string, measured: number, limit: number): void {
  const ok = Number.isFinite(measured) ? measured <= limit : undefined
  verdicts.push([target, Number.isFinite(measured) ? `${measured.toFixed(2)}×` : '–', `≤ ${limit.toFixed(2)}×`, verdict(ok, ok === undefined ? '' : ok ? `${((1 - measured / limit) * 100).toFixed(0)}% under` : `${((measured / limit - 1) * 100).toFixed(0)}% over`)])
}

/** A target row: `measured` must be at least `limit`. */
export function atLeast(verdicts: string[][], target: string, measured: number, limit: number, unit: string): void {
  const ok = Number.isFinite(measured) ? measured >= limit : undefined
  verdicts.push([target, Number.isFinite(measured) ? `${measured.toFixed(2)}${unit}` : '–', `≥ ${limit.toFixed(2)}${unit}`, verdict(ok, ok === undefined ? '' : ok ? `${((measured / limit - 1) * 100).toFixed(0)}% over` : `${((1 - measured / limit) * 100).toFixed(0)}% short`)])
}

/**
 * A table of interleaved rows against the baseline row (the `raw` one, else the first): its ratio
 * column is the row's `key` over the baseline's (lower is better), or with `speedup` the baseline's
 * over the row's.
 */
export function printTable(
  out: (text?: string) => void,
  title: string,
  id: string,
  rounds: number,
  ms: number,
  rows: EntryResult<Metrics>[],
  columns: [key: string, label: string, digits?: number][],
  versus: { label: string; key: string; speedup?: boolean },
): void {
  const agg = (row: EntryResult<Metrics>, key: string): number => median(row.rounds.map((m) => m[key]!))
  const base = rows.find((row) => row.raw) ?? rows[0]
  const baseValue = base === undefined || base.error !== undefined ? NaN : agg(base, versus.key)
  const body = rows.map((row) =>
    row.error !== undefined
      ? [row.label, ...columns.map(() => '–'), '–', `failed: ${row.error}`]
      : [row.label, ...columns.map(([key, , digits]) => fmt(agg(row, key), digits)), versus.speedup === true ? ratio(baseValue, agg(row, versus.key)) : ratio(agg(row, versus.key), baseValue), row.note],
  )
  const header = ['contender', ...columns.map(([, label]) => label), versus.label, 'note']
  out(`### ${title}`)
  out()
  out(`\`${id}\` · ${rounds} interleaved rounds, medians across rounds · ${(ms / 1000).toFixed(1)} s`)
  out()
  out(table(header, body, header.map((_, i) => (i === 0 || i === header.length - 1 ? 'l' : 'r'))))
  out()
}
