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
  /** @internal */ timer: ReturnType<typeof setTimeout> | undefined
  /** @internal */ timeout = 0
  /** @internal */ started = 0
  /** @internal */ signal: AbortSignal | undefined
  /** @internal */ onAbort: (() => void) | undefined
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

/** Longest delay a timer can have (2^31-1 ms, about 24.8 days); longer timeouts mean none. */
const MAX_TIMEOUT = 2_147_483_647

function expire(manager: TransactionManager, call: Call<unknown>): void {
  manager.expire(call)
}

/**
 * Correlates solicited calls with their replies. Every call leaves through `#retire`, which deletes
 * the entry, clears its timer and unhooks its signal: the one place a call settles, so it settles once.
 */
export class TransactionManager {
  readonly #pending = new Map<number, Call<unknown>>()
  #nextId = 1
  readonly #onAbandon: AbandonListener

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
      call.started = Date.now()
      // Read setTimeout at call time so fake timers (sinon) reach it.
      const timer = setTimeout(expire, timeout, this, call)
      if (typeof timer === 'object') timer.unref?.()
      call.timer = timer
    }
    if (signal) {
      call.signal = signal
      if (signal.aborted) this.cancel(call as Call<unknown>, signal.reason, false)
      else {
        call.onAbort = () => this.cancel(call as Call<unknown>, signal.reason)
        signal.addEventListener('abort', call.onAbort, { once: true })
      }
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
  }

  /** @internal */
  expire(call: Call<unknown>): void {
    if (call.state !== 'pending') return
    const elapsed = Date.now() - call.started
    call.timer = undefined
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
  }

  #retire(call: Call<unknown>, state: CallState, value: unknown): void {
    this.#pending.delete(call.id)
    if (call.timer !== undefined) {
      clearTimeout(call.timer)
      call.timer = undefined
    }
    if (call.onAbort !== undefined) {
      call.signal!.removeEventListener('abort', call.onAbort)
      call.onAbort = undefined
    }
    call.signal = undefined
    call.settle(state, value)
  }
}
