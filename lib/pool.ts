import { availableParallelism } from 'node:os'
import { EventEmitter } from 'eventemitter3'
import { BusyError, ChannelClosedError, ErrorCode, RpcError } from './errors.js'
import type { CallOptions } from './peer.js'
import { createRemoteProxy } from './proxy.js'
import { type Handle, spawnChild, type SpawnChildOptions, spawnWorker, type SpawnWorkerOptions } from './spawn.js'
import { type Call, TransactionManager } from './transactions.js'
import type { RemoteOf } from './types.js'

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** Members are worker threads (default) or child processes. */
  kind?: 'worker' | 'process'
  /** Sets both `minSize` and `maxSize`. Default: available parallelism minus one, at least 1. */
  size?: number
  /** Members kept alive even when idle. Default `size`. */
  minSize?: number
  /** Most members; the pool grows to it on demand when every member is at its concurrency. Default `size`. */
  maxSize?: number
  /**
   * Most calls outstanding on one member. Default 64, so that small calls pipeline; set 1 for
   * CPU-bound tasks of uneven length, so that calls wait in the pool for the first free member.
   */
  concurrency?: number
  /** Most calls waiting for a member; past it calls reject with BusyError. Default 16384. */
  maxQueue?: number
  /** Default timeout of a call in ms, queueing included; 0 means none. Default 30000. */
  timeout?: number
  /** Paths whose calls are retried once on another member when their member dies mid-call. */
  idempotent?: readonly string[]
  /** A member above `minSize` idle this long (ms) is ended. Default 30000; 0 never reaps. */
  idleTimeout?: number
  /** Members that die before completing their handshake this many times in a row stop the restarts. Default 5. */
  maxStartFailures?: number
  /** How long `close()` lets calls in flight and queued finish before ending members, in ms. Default 5000. */
  closeTimeout?: number
  /** What the pool exposes to its members (they call it through their `connectParent` peer). */
  expose?: object
  /** Options for each member's `spawnWorker` (kind 'worker') or `spawnChild` (kind 'process'). */
  spawn?: Omit<SpawnWorkerOptions, 'expose' | 'timeout'> | Omit<SpawnChildOptions, 'expose' | 'timeout'>
}

/** Options of one pool call: `peer.call`'s, plus `idempotent`. */
export interface PoolCallOptions<T = unknown> extends CallOptions<T> {
  /** Retry once on another member if this call's member dies mid-call (not on a timeout or remote error). */
  idempotent?: boolean
}

/** Identifies a pool member in events and results. */
export interface PoolMember {
  /** Pool-local member number, from 1. */
  readonly id: number
  /** Process id (kind 'process'). */
  readonly pid?: number
  /** Worker thread id (kind 'worker'). */
  readonly threadId?: number
}

export interface PoolStats {
  /** Live members (started or starting). */
  members: number
  /** Calls running on a member. */
  inFlight: number
  /** Calls waiting for a member. */
  queued: number
  /** Calls that succeeded. */
  completed: number
  /** Calls that failed (remote error, timeout, cancel, member death...). */
  failed: number
  /** Members started to replace one that died. */
  restarts: number
}

interface Member {
  info: PoolMember
  handle: Handle<unknown>
  outstanding: number
  ready: boolean
  alive: boolean
  /** Ended on purpose (idle, close): not replaced. */
  retiring: boolean
  idleTimer: ReturnType<typeof setTimeout> | undefined
  /** Settlement hooks of direct calls, made once per member so that a call allocates no closure. */
  succeeded: () => void
  failed: () => void
}

interface Job {
  call: Call<unknown>
  path: string
  args: readonly unknown[]
  options: PoolCallOptions | undefined
  idempotent: boolean
  retried: boolean
  inner: Call<unknown> | undefined
}

type PoolListener = (member: PoolMember, ...args: any[]) => void

/**
 * A pool of workers or child processes that all expose the same API (each runs `connectParent`),
 * called through one typed proxy. Each call goes to the member with the fewest outstanding calls.
 */
export class Pool<RemoteApi = unknown> {
  /** The members' API: each call goes to one member. */
  readonly remote: RemoteOf<RemoteApi>
  /** Resolves once every initial member has completed its handshake; rejects if one cannot start. */
  readonly ready: Promise<void>

  readonly #modulePath: string | URL
  readonly #kind: 'worker' | 'process'
  readonly #minSize: number
  readonly #maxSize: number
  readonly #concurrency: number
  readonly #maxQueue: number
  readonly #timeout: number
  readonly #idempotent: ReadonlySet<string>
  readonly #idleTimeout: number
  readonly #maxStartFailures: number
  readonly #closeTimeout: number
  readonly #expose: object | undefined
  readonly #spawnOptions: PoolOptions['spawn']
  readonly #transactions = new TransactionManager((call) => this.#abandon(call))
  readonly #jobs = new Map<number, Job>()
  readonly #queue: Job[] = []
  readonly #members: Member[] = []
  readonly #events = new EventEmitter()
  readonly #callOptions: { timeout: number }
  readonly #forwarded = new Set<string>()
  #nextMemberId = 1
  #startFailures = 0
  #restartTimer: ReturnType<typeof setTimeout> | undefined
  #closing: Promise<void> | undefined
  /** While close() drains: resolves the wait once no call is queued or running. */
  #drained: (() => void) | undefined
  #completed = 0
  #failed = 0
  #restarts = 0

  constructor(modulePath: string | URL, options: PoolOptions = {}) {
    const size = options.size ?? Math.max(1, availableParallelism() - 1)
    this.#modulePath = modulePath
    this.#kind = options.kind ?? 'worker'
    this.#minSize = options.minSize ?? size
    this.#maxSize = Math.max(options.maxSize ?? size, this.#minSize, 1)
    this.#concurrency = options.concurrency ?? 64
    this.#maxQueue = options.maxQueue ?? 16_384
    this.#timeout = options.timeout ?? 30_000
    this.#callOptions = { timeout: this.#timeout }
    this.#idempotent = new Set(options.idempotent ?? [])
    this.#idleTimeout = options.idleTimeout ?? 30_000
    this.#maxStartFailures = options.maxStartFailures ?? 5
    this.#closeTimeout = options.closeTimeout ?? 5000
    this.#expose = options.expose
    this.#spawnOptions = options.spawn
    if (this.#kind !== 'worker' && this.#kind !== 'process') throw invalid(`options.kind must be 'worker' or 'process', got ${String(this.#kind)}`)
    for (const [name, value] of [['size', size], ['minSize', this.#minSize], ['concurrency', this.#concurrency]] as const) {
      if (!Number.isInteger(value) || value < (name === 'minSize' ? 0 : 1)) throw invalid(`options.${name} must be a positive integer, got ${String(value)}`)
    }
    this.remote = createRemoteProxy((path, args) => this.call(path, args).promise) as RemoteOf<RemoteApi>
    const initial = Array.from({ length: Math.max(this.#minSize, 1) }, () => this.#spawn())
    this.ready = Promise.all(initial.map((member) => member.handle.ready)).then(() => {})
    this.ready.catch(() => {})
  }

  get stats(): PoolStats {
    let inFlight = 0
    for (const member of this.#members) inFlight += member.outstanding
    return {
      members: this.#members.length,
      inFlight,
      queued: this.#queue.length,
      completed: this.#completed,
      failed: this.#failed,
      restarts: this.#restarts,
    }
  }

  /** Members now alive, in order. */
  get members(): PoolMember[] {
    return this.#members.map((member) => member.info)
  }

  /** Calls `path` on one member; returns the same kind of handle as `peer.call`. */
  call<T = any>(path: string, args: readonly unknown[] = [], options?: PoolCallOptions<T>): Call<T> {
    // Fast path: a member is free and the call needs no retry. The member's own call is the handle
    // (its timeout, signal, callback and cancel work as for peer.call): one transaction, not two.
    if (this.#closing === undefined && this.#queue.length === 0 && !(options?.idempotent ?? (this.#idempotent.size > 0 && this.#idempotent.has(path)))) {
      const member = this.#pick()
      if (member !== undefined) {
        this.#take(member)
        const direct = options === undefined ? this.#callOptions : options.timeout === undefined ? { ...options, timeout: this.#timeout } : options
        const call = member.handle.peer.call<T>(path, args, direct)
        call.promise.then(member.succeeded, member.failed)
        return call
      }
    }
    const call = this.#transactions.open<T>(String(path), options?.timeout ?? this.#timeout, options?.signal)
    if (options?.callback !== undefined) {
      const callback = options.callback
      call.promise.then((value) => callback(null, value), (error) => callback(error as Error))
    }
    if (call.state !== 'pending') return call
    if (this.#closing !== undefined) {
      this.#transactions.fail(call as Call<unknown>, new ChannelClosedError(`Cannot call "${path}"`, { reason: 'the pool is closing' }))
      return call
    }
    const job: Job = {
      call: call as Call<unknown>,
      path: call.path,
      args,
      options: options as PoolCallOptions | undefined,
      idempotent: options?.idempotent ?? this.#idempotent.has(call.path),
      retried: false,
      inner: undefined,
    }
    this.#jobs.set(call.id, job)
    if (!this.#dispatch(job)) {
      if (this.#members.length === 0 && this.#startFailures >= this.#maxStartFailures) {
        this.#settle(job, false, this.#gaveUpError())
      } else if (this.#queue.length >= this.#maxQueue) {
        this.#settle(job, false, new BusyError(`Pool busy: ${this.#queue.length} calls queued (maxQueue); "${path}" was not run`))
      } else {
        this.#queue.push(job)
        this.#grow()
      }
    }
    return call
  }

  /** Calls `path` on every live member; resolves to their settled results, in member order. */
  broadcast<T = any>(path: string, ...args: unknown[]): Promise<PromiseSettledResult<T>[]> {
    const live = this.#members.filter((member) => member.alive)
    return Promise.allSettled(live.map((member) => member.handle.peer.call<T>(path, args, { timeout: this.#timeout }).promise))
  }

  /** Listens to an event emitted by any member; the listener gets the member first. Returns the unsubscribe. */
  on(name: string, listener: PoolListener): () => void {
    if (!this.#forwarded.has(name)) {
      this.#forwarded.add(name)
      for (const member of this.#members) this.#forward(member, name)
    }
    this.#events.on(name, listener)
    return () => this.#events.off(name, listener)
  }

  /**
   * Drains and ends the pool: new calls reject with ChannelClosedError; calls in flight and queued get
   * `closeTimeout` to finish; then every member is closed. Resolves once all have exited. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#drainAndClose()
    return this.#closing
  }

  async #drainAndClose(): Promise<void> {
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer)
    if (this.#jobs.size > 0 || this.stats.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#closeTimeout)
        this.#drained = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    this.#drained = undefined
    const error = new ChannelClosedError('Pool closed', { reason: 'the pool closed before the call finished' })
    for (const job of this.#queue.splice(0)) this.#settle(job, false, error)
    await Promise.all(this.#members.slice().map((member) => this.#retire(member)))
  }

  #spawn(): Member {
    const id = this.#nextMemberId++
    const common = { expose: this.#expose, timeout: 0, concurrency: this.#concurrency }
    const handle: Handle<unknown> & { process?: { pid?: number }; worker?: { threadId: number } } =
      this.#kind === 'worker'
        ? spawnWorker(this.#modulePath, { ...(this.#spawnOptions as SpawnWorkerOptions), ...common })
        : spawnChild(this.#modulePath, { ...(this.#spawnOptions as SpawnChildOptions), ...common })
    const info: PoolMember = this.#kind === 'worker' ? { id, threadId: handle.worker!.threadId } : { id, pid: handle.process!.pid }
    const member: Member = {
      info,
      handle,
      outstanding: 0,
      ready: false,
      alive: true,
      retiring: false,
      idleTimer: undefined,
      succeeded: () => this.#directDone(member, true),
      failed: () => this.#directDone(member, false),
    }
    this.#members.push(member)
    for (const name of this.#forwarded) this.#forward(member, name)
    handle.ready.then(
      () => {
        member.ready = true
        this.#startFailures = 0
        this.#pump()
        this.#grow()
        this.#idle(member)
      },
      () => {
        // Counted in #exited, which runs first.
      },
    )
    void handle.exited.then(() => this.#exited(member))
    return member
  }

  #gaveUpError(): ChannelClosedError {
    return new ChannelClosedError('Pool has no members', { reason: `members died at start-up ${this.#startFailures} times in a row; not restarting` })
  }

  #forward(member: Member, name: string): void {
    member.handle.peer.on(name, (...args: unknown[]) => this.#events.emit(name, member.info, ...args))
  }

  /** Runs the job on the least busy ready member; false when every member is at its concurrency. */
  /** The ready member with the fewest outstanding calls, below its concurrency; undefined when all are busy. */
  #pick(): Member | undefined {
    let best: Member | undefined
    for (const member of this.#members) {
      if (member.ready && member.alive && !member.retiring && member.outstanding < this.#concurrency && member.handle.peer.state === 'open' && (best === undefined || member.outstanding < best.outstanding)) {
        best = member
      }
    }
    return best
  }

  #take(member: Member): void {
    member.outstanding++
    if (member.idleTimer !== undefined) {
      clearTimeout(member.idleTimer)
      member.idleTimer = undefined
    }
  }

  /** Runs the job on the least busy ready member; false when every member is at its concurrency. */
  #dispatch(job: Job): boolean {
    const member = this.#pick()
    if (member === undefined) return false
    this.#take(member)
    const inner = member.handle.peer.call(job.path, job.args, { timeout: 0, transfer: job.options?.transfer })
    job.inner = inner
    inner.promise.then(
      (value) => this.#innerDone(member, job, inner, true, value),
      (error) => this.#innerDone(member, job, inner, false, error),
    )
    return true
  }

  /** A direct call finished on `member`. */
  #directDone(member: Member, ok: boolean): void {
    member.outstanding--
    if (ok) this.#completed++
    else this.#failed++
    this.#pump()
    this.#idle(member)
    this.#checkDrained()
  }

  #innerDone(member: Member, job: Job, inner: Call<unknown>, ok: boolean, value: unknown): void {
    member.outstanding--
    if (job.inner === inner) job.inner = undefined
    if (!ok && value instanceof ChannelClosedError && job.idempotent && !job.retried && job.call.state === 'pending' && this.#closing === undefined) {
      // The member died under an idempotent call: once more, elsewhere.
      job.retried = true
      if (!this.#dispatch(job)) {
        this.#queue.unshift(job)
        this.#grow()
      }
    } else {
      this.#settle(job, ok, value)
    }
    this.#pump()
    this.#idle(member)
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    this.#jobs.delete(job.call.id)
    if (job.call.state === 'pending') {
      if (ok) {
        this.#transactions.resolve(job.call.id, value)
        this.#completed++
      } else {
        this.#transactions.reject(job.call.id, value)
        this.#failed++
      }
    }
    this.#checkDrained()
  }

  /** A pool call given up (timeout, cancel): cancel it on its member, or take it out of the queue. */
  #abandon(call: Call<unknown>): void {
    const job = this.#jobs.get(call.id)
    if (job === undefined) return
    this.#failed++
    this.#jobs.delete(call.id)
    if (job.inner !== undefined) job.inner.cancel(call.state === 'timed out' ? 'timed out' : undefined)
    else {
      const index = this.#queue.indexOf(job)
      if (index !== -1) this.#queue.splice(index, 1)
    }
    this.#checkDrained()
  }

  /** While close() drains: resolves it once no call is queued or running. */
  #checkDrained(): void {
    if (this.#drained === undefined || this.#jobs.size > 0) return
    for (const member of this.#members) if (member.outstanding > 0) return
    this.#drained()
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const job = this.#queue[0]!
      if (!this.#dispatch(job)) return
      this.#queue.shift()
    }
  }

  /** Every member is busy and calls wait: start one more, up to maxSize. */
  #grow(): void {
    if (this.#closing !== undefined || this.#restartTimer !== undefined || this.#startFailures >= this.#maxStartFailures) return
    let live = 0
    let starting = 0
    for (const member of this.#members) {
      if (!member.alive || member.retiring) continue
      live++
      if (!member.ready) starting++
    }
    // Members still starting will take `concurrency` queued calls each: start one more only beyond that.
    if (live < this.#maxSize && this.#queue.length > starting * this.#concurrency) this.#spawn()
  }

  #idle(member: Member): void {
    if (this.#idleTimeout <= 0 || member.outstanding > 0 || member.idleTimer !== undefined || this.#closing !== undefined) return
    member.idleTimer = setTimeout(() => {
      member.idleTimer = undefined
      const live = this.#members.filter((m) => m.alive && !m.retiring)
      if (member.outstanding === 0 && live.length > this.#minSize) void this.#retire(member)
    }, this.#idleTimeout)
    member.idleTimer.unref()
  }

  async #retire(member: Member): Promise<void> {
    member.retiring = true
    if (member.idleTimer !== undefined) clearTimeout(member.idleTimer)
    await member.handle.close()
  }

  #exited(member: Member): void {
    member.alive = false
    if (!member.ready && !member.retiring) this.#startFailures++
    if (member.idleTimer !== undefined) clearTimeout(member.idleTimer)
    const index = this.#members.indexOf(member)
    if (index !== -1) this.#members.splice(index, 1)
    if (member.retiring || this.#closing !== undefined) return
    if (this.#startFailures >= this.#maxStartFailures) {
      if (this.#members.length === 0) {
        const error = this.#gaveUpError()
        for (const job of this.#queue.splice(0)) this.#settle(job, false, error)
      }
      return
    }
    // Replace it, after a back-off that grows with consecutive start-up failures.
    const delay = this.#startFailures === 0 ? 0 : Math.min(100 * 2 ** (this.#startFailures - 1), 5000)
    const replace = (): void => {
      this.#restartTimer = undefined
      if (this.#closing !== undefined) return
      const live = this.#members.filter((m) => m.alive && !m.retiring).length
      if (live < Math.max(this.#minSize, 1) || this.#queue.length > 0) {
        this.#restarts++
        this.#spawn()
      }
    }
    if (delay === 0) replace()
    else if (this.#restartTimer === undefined) {
      this.#restartTimer = setTimeout(replace, delay)
      this.#restartTimer.unref()
    }
  }
}

function invalid(message: string): RpcError {
  return new RpcError(message, ErrorCode.InvalidArgument)
}

/** Starts a pool of `size` members running `modulePath` (which calls `connectParent`). */
export function createPool<RemoteApi = unknown>(modulePath: string | URL, options?: PoolOptions): Pool<RemoteApi> {
  return new Pool<RemoteApi>(modulePath, options)
}
