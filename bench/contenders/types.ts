/**
 * The one interface every contender implements, whatever the library or channel. Each contender
 * starts its own worker, child process or pool in `start()`, and ends it in `stop()`.
 *
 * The other side always exposes the same tiny API (see bench/workers/): `echo(x)` returns `x`,
 * `echoBin(bytes)` returns `bytes` (moved back where the library can), `sink(x)` counts one-way
 * messages, `count()` returns and resets that count.
 */
export type Channel = 'worker' | 'ipc-json' | 'ipc-advanced'

export interface Contender {
  /** Row label: library and, where it matters, how it is set up. */
  readonly name: string
  /** The raw transport limit of the group: every ratio is to it. */
  readonly raw?: boolean
  /** Not a library but a reference point (the raw echo in a JSON-RPC envelope): small-call workloads only. */
  readonly yardstick?: boolean
  start(): Promise<void>
  /** Ends everything the contender started (worker, child, pool); idempotent. */
  stop(): Promise<void>
  /** Round trip: `echo(value)` on the other side. */
  call(value: unknown): Promise<unknown>
  /** Round trip of a Uint8Array moved both ways (transfer lists); absent when the library can only copy. */
  echoBinary?(bytes: Uint8Array): Promise<Uint8Array>
  /** One-way message to `sink` (a notification). */
  notify?(value: unknown): void
  /** A second one-way flavour (treerpc events: `peer.emit`). */
  emit?(value: unknown): void
  /** Why `notify` is missing, for the table. */
  readonly noNotify?: string
  /** One-way messages received since the last `count()`. */
  count?(): Promise<number>
  /** Blocking round trip of `echo(value)`. */
  callSync?(value: unknown): unknown
}

/** The API every worker and child of the bench exposes, whatever the library. */
export interface BenchApi {
  echo(value: unknown): unknown
  echoBin(bytes: Uint8Array): Uint8Array
  sink(value: unknown): void
  count(): number
}
