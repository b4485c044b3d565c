import { Deadlines, MAX_TIMEOUT } from './deadlines.js'
import { CancelledError, RpcError, TimeoutError } from './errors.js'

/** Where a solicited call stands. It leaves `pending` exactly once. */
export type CallState = 'pending' | 'fulfilled' | 'rejected' | 'timed out' | 'cancelled'

/** Called when a call is given up on this side (timeout or cancel), so the other side can stop it. */
export type AbandonListener = (call: Call<unknown>) => void

/**
 * A solicited call in flight: a promise (thenable) that also exposes its `id`, `state` and `cancel()`.
 * Returned by `peer.call()`; `peer.remote.*()` returns its plain `promise`.
 */
export class Call<T = unknown> implements PromiseLike<T> {
  /** Request id on the wire, unique per peer. */
  readonly id: number
  /** Dot path that was called. */
  readonly path: string
  /** The promise this call settles; `then`/`catch`/`finally` delegate to it. */
  readonly promise: Promise<T>
  #state: CallState = 'pending'
  #resolve!: (value: unknown) => void
  #reject!: (error: unknown) => void
  /** @internal */ timeout = 0
  /** @internal */ deadline = 0
  /** @internal */ signal: AbortSignal | undefined
  readonly #manager: TransactionManager

  /** @internal */
  constructor(manager: TransactionManager, id: number, path: string) {
    this.#manager = manager
    this.id = id
    this.path = path
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve as (value: unknown) => void
      this.#reject = reject
    })
  }

  get state(): CallState {
    return this.#state
  }

  /** Rejects the call now with CancelledError and asks the other side to abort its handler. No-op once settled. */
  cancel(reason?: unknown): void {
    this.#manager.cancel(this, reason)
  }

  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.promise.then(onfulfilled, onrejected)
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.promise.catch(onrejected)
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.promise.finally(onfinally)
  }

  get [Symbol.toStringTag](): string {
    return 'Call'
  }

  /** @internal Settles the promise; the manager has already removed the entry. */
  settle(state: CallState, value: unknown): void {
    this.#state = state
    if (state === 'fulfilled') this.#resolve(value)
    else this.#reject(value)
  }
}

/**
 * Correlates solicited calls with their replies. Every call leaves through `#retire`, which deletes
 * the entry, clears its timer and unhooks its signal: the one place a call settles, so it settles once.
 */
export class TransactionManager {
  readonly #pending = new Map<number, Call<unknown>>()
  readonly #bySignal = new WeakMap<AbortSignal, Set<Call<unknown>>>()
  readonly #onAbort = new WeakMap<AbortSignal, () => void>()
  #nextId = 1
  readonly #onAbandon: AbandonListener
  // One timer for all pending calls, not one per call: see Deadlines.
  readonly #deadlines = new Deadlines(
    (id) => this.#pending.has(id),
    (id) => {
      const call = this.#pending.get(id)
      if (call !== undefined) this.expire(call)
    },
  )

  constructor(onAbandon: AbandonListener) {
    this.#onAbandon = onAbandon
  }

  /** Number of calls awaiting a reply. */
  get size(): number {
    return this.#pending.size
  }

  /** Takes an id without opening a call (blocking calls, which never wait in this table). */
  nextId(): number {
    return this.#nextId++
  }

  has(id: unknown): boolean {
    return this.#pending.has(id as number)
  }

  get(id: unknown): Call<unknown> | undefined {
    return this.#pending.get(id as number)
  }

  /** Opens a call. `timeout` 0 means none. The timer never keeps the process alive. */
  open<T>(path: string, timeout: number, signal?: AbortSignal): Call<T> {
    const call = new Call<T>(this, this.#nextId++, path)
    this.#pending.set(call.id, call as Call<unknown>)
    if (timeout > 0 && timeout <= MAX_TIMEOUT) {
      call.timeout = timeout
      call.deadline = this.#deadlines.add(call.id, timeout)
    }
    if (signal) {
      if (signal.aborted) this.cancel(call as Call<unknown>, signal.reason, false)
      else this.#watch(signal, call as Call<unknown>)
    }
    return call
  }

  /** Settles the call with this id from a reply. False when no such call is pending (late, unknown, duplicate). */
  resolve(id: unknown, value: unknown): boolean {
    const call = this.#pending.get(id as number)
    if (call === undefined) return false
    this.#retire(call, 'fulfilled', value)
    return true
  }

  reject(id: unknown, error: unknown): boolean {
    const call = this.#pending.get(id as number)
    if (call === undefined) return false
    this.#retire(call, 'rejected', error)
    return true
  }

  /** Fails a call that was never sent (unsendable arguments, closed channel). */
  fail(call: Call<unknown>, error: unknown): void {
    if (call.state === 'pending') this.#retire(call, 'rejected', error)
    // A call that never went out leaves no timer armed for it.
    if (this.#pending.size === 0) this.#deadlines.clear()
  }

  /** @internal */
  expire(call: Call<unknown>): void {
    if (call.state !== 'pending') return
    const elapsed = Date.now() - (call.deadline - call.timeout)
    this.#retire(call, 'timed out', new TimeoutError(`Call "${call.path}" timed out after ${elapsed} ms (timeout ${call.timeout} ms)`, call.path, call.timeout))
    this.#onAbandon(call)
  }

  cancel(call: Call<unknown>, reason?: unknown, notify = true): void {
    if (call.state !== 'pending') return
    const error = reason instanceof RpcError && reason.code === 'RPC_CANCELLED'
      ? reason
      : new CancelledError(`Call "${call.path}" was cancelled`, reason === undefined ? undefined : { cause: reason })
    this.#retire(call, 'cancelled', error)
    if (notify) this.#onAbandon(call)
  }

  /** Rejects every pending call with the same error (the channel closed). */
  rejectAll(error: unknown): void {
    for (const call of this.#pending.values()) this.#retire(call, 'rejected', error)
    this.#deadlines.clear()
  }

  /**
   * One 'abort' listener per signal, however many calls share it (a signal reused for 1,000 calls
   * must not trip MaxListenersExceeded warnings or cost a listener each).
   */
  #watch(signal: AbortSignal, call: Call<unknown>): void {
    call.signal = signal
    let calls = this.#bySignal.get(signal)
    if (calls === undefined) {
      const set = new Set<Call<unknown>>()
      calls = set
      this.#bySignal.set(signal, set)
      const onAbort = (): void => {
        this.#bySignal.delete(signal)
        for (const each of [...set]) this.cancel(each, signal.reason)
      }
      this.#onAbort.set(signal, onAbort)
      signal.addEventListener('abort', onAbort, { once: true })
    }
    calls.add(call)
  }

  #unwatch(signal: AbortSignal, call: Call<unknown>): void {
    call.signal = undefined
    const calls = this.#bySignal.get(signal)
    if (calls === undefined) return
    calls.delete(call)
    if (calls.size === 0) {
      this.#bySignal.delete(signal)
      const onAbort = this.#onAbort.get(signal)
      this.#onAbort.delete(signal)
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort)
    }
  }

  #retire(call: Call<unknown>, state: CallState, value: unknown): void {
    this.#pending.delete(call.id)
    if (call.timeout !== 0) this.#deadlines.delete()
    if (call.signal !== undefined) this.#unwatch(call.signal, call)
    call.settle(state, value)
  }
}
