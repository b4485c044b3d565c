import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { EventEmitter } from 'eventemitter3'
import { checkNonNegative, checkOneOf, checkOptions, checkPositiveInteger, invalidArgument, optional } from './check.js'
import { MAX_TIMEOUT } from './deadlines.js'
import { BusyError, ChannelClosedError } from './errors.js'
import type { CallOptions } from './peer.js'
import { createRemoteProxy } from './proxy.js'
import { type ExitInfo, type Handle, spawnChild, type SpawnChildOptions, spawnWorker, type SpawnWorkerOptions } from './spawn.js'
import { type Call, TransactionManager } from './transactions.js'
import type { ListenArgs, ListenName, PathArgs, PathOf, PathParam, PathResult, PeerEvents, RemoteOf } from './types.js'

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** Members are worker threads (default) or child processes. */
  kind?: 'worker' | 'process'
  /** Sets both `minSize` and `maxSize`. Default: available parallelism minus one, at least 1. */
  size?: number
  /** Members kept alive even when idle (0 or more). Default `size` (at most `maxSize` when only that is given). */
  minSize?: number
  /**
   * Most members; the pool grows to it on demand when every member is at its concurrency. At least
   * `minSize`. Default `size` (at least `minSize` when only that is given).
   */
  maxSize?: number
  /**
   * Most calls outstanding on one member. Default 64, so that small calls pipeline; set 1 for
   * CPU-bound tasks of uneven length, so that calls wait in the pool for the first free member.
   * Infinity never queues while a member is ready.
   */
  concurrency?: number
  /** Most calls waiting for a member; past it calls reject with BusyError. Default 16384. */
  maxQueue?: number
  /** Default timeout of a call in ms, queueing included; 0 (or Infinity) means none. Default 30000. */
  timeout?: number
  /** Paths whose calls are retried once on another member when their member dies mid-call. */
  idempotent?: readonly string[]
  /** A member above `minSize` idle this long (ms) is ended. Default 30000; 0 (or Infinity) never reaps. */
  idleTimeout?: number
  /**
   * Failed starts in a row that stop the restarts for good (Infinity: never stop). A failed start is a
   * member that dies before its handshake or less than `minUptime` after it. Then the pool emits
   * `'error'`, and once no member is left every queued and later call rejects with ChannelClosedError.
   * Default 5.
   */
  maxStartFailures?: number
  /**
   * A member that dies less than this many ms after its handshake counts as a failed start (a crash
   * loop); one that stays up this long resets the count of failed starts. 0: only deaths before the
   * handshake count. Default 5000.
   */
  minUptime?: number
  /** How long `close()` lets calls in flight and queued finish before ending members, in ms (Infinity: as long as they take). Default 5000. */
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
  /** performance.now() when it was spawned, and when its handshake completed (NaN before). */
  startedAt: number
  readyAt: number
  /** Fires `minUptime` after the handshake: the member started well, so the failed starts in a row are 0 again. */
  uptimeTimer: ReturnType<typeof setTimeout> | undefined
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

/** Why the pool stopped starting members: the failed starts in a row, and the last one. */
interface GiveUp {
  failures: number
  /** The last member that failed to start, how long after its handshake (or its spawn, if it never shook hands) it died, and how. */
  member: PoolMember
  handshake: boolean
  after: number
  exit: ExitInfo
}

/**
 * A pool of workers or child processes that all expose the same API (each runs `connectParent`),
 * called through one typed proxy. Each call goes to the member with the fewest outstanding calls.
 * `RemoteApi` is the type of the members' API; `Events`, optional, the events they emit (its
 * `local` part, see PeerEvents).
 */
export class Pool<RemoteApi = unknown, Events extends PeerEvents = PeerEvents> {
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
  readonly #minUptime: number
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
  /** Failed starts in a row: deaths before the handshake or within `minUptime` of it. */
  #startFailures = 0
  /** Set once `maxStartFailures` is reached: no member is ever started again. */
  #gaveUp: GiveUp | undefined
  /** The back-off before replacing dead members. Ref'd only while calls wait for a member (see #holdProcess). */
  #restartTimer: ReturnType<typeof setTimeout> | undefined
  #closing: Promise<void> | undefined
  /** While close() drains: resolves the wait once no call is queued or running. */
  #drained: (() => void) | undefined
  #completed = 0
  #failed = 0
  #restarts = 0

  constructor(modulePath: string | URL, options?: PoolOptions) {
    if (typeof modulePath !== 'string' && !(modulePath instanceof URL)) {
      throw invalidArgument('modulePath', 'a path or a file URL (a string or a URL)', modulePath)
    }
    const o = checkOptions('options', options)
    checkPoolOptions(o)
    // When only one of minSize and maxSize is given, the other defaults to `size` bounded by it; an
    // explicit contradiction (minSize 3, maxSize 2; or size 2, minSize 3) is refused.
    const size = o.size ?? Math.max(1, availableParallelism() - 1)
    const bySize = o.size === undefined
    this.#minSize = o.minSize ?? (bySize && o.maxSize !== undefined ? Math.min(size, o.maxSize) : size)
    this.#maxSize = o.maxSize ?? (bySize && o.minSize !== undefined ? Math.max(size, o.minSize) : size)
    if (this.#minSize > this.#maxSize) {
      const bound = o.maxSize === undefined ? 'options.size' : 'options.maxSize'
      throw invalidArgument(o.minSize === undefined ? 'options.size' : 'options.minSize', `at most ${bound} (${this.#maxSize})`, o.minSize ?? o.size)
    }
    this.#modulePath = modulePath
    this.#kind = o.kind ?? 'worker'
    this.#concurrency = o.concurrency ?? 64
    this.#maxQueue = o.maxQueue ?? 16_384
    this.#timeout = o.timeout ?? 30_000
    this.#callOptions = { timeout: this.#timeout }
    this.#idempotent = new Set(o.idempotent ?? [])
    this.#idleTimeout = o.idleTimeout ?? 30_000
    this.#maxStartFailures = o.maxStartFailures ?? 5
    this.#minUptime = o.minUptime ?? 5000
    this.#closeTimeout = o.closeTimeout ?? 5000
    this.#expose = o.expose
    this.#spawnOptions = o.spawn
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

  /**
   * Calls `path` on one member; returns the same kind of handle as `peer.call`. Never throws: `args`
   * that is not an array rejects the handle with RpcError `RPC_INVALID_ARGUMENT`.
   */
  call<T = any>(path: string, args: readonly unknown[] = [], options?: PoolCallOptions<T>): Call<T> {
    const argsOk = Array.isArray(args)
    // Fast path: a member is free and the call needs no retry. The member's own call is the handle
    // (its timeout, signal, callback and cancel work as for peer.call): one transaction, not two.
    if (argsOk && this.#closing === undefined && this.#queue.length === 0 && !(options?.idempotent ?? (this.#idempotent.size > 0 && this.#idempotent.has(path)))) {
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
    if (!argsOk) {
      this.#transactions.fail(call as Call<unknown>, invalidArgument('args', 'an array of arguments', args))
      this.#failed++
      return call
    }
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
      if (this.#queue.length >= this.#maxQueue) {
        this.#settle(job, false, new BusyError(`Pool busy: ${this.#queue.length} calls queued (maxQueue); "${path}" was not run`))
      } else this.#wait(job, false)
    }
    return call
  }

  /**
   * Calls `path` on every live member; resolves to their settled results, in member order. With the
   * pool's API type, `path` is one of its method paths (at most 8 levels deep), checked with its
   * arguments, and the results are typed; without it, any path and `broadcast<ResultType>(path)`.
   */
  broadcast<P extends PathParam<RemoteApi> = PathParam<RemoteApi>>(
    path: PathOf<RemoteApi, P>,
    ...args: PathArgs<RemoteApi, P>
  ): Promise<PromiseSettledResult<PathResult<RemoteApi, P>>[]>
  broadcast<T = any>(path: string, ...args: unknown[]): Promise<PromiseSettledResult<T>[]> {
    const live = this.#members.filter((member) => member.alive)
    return Promise.allSettled(live.map((member) => member.handle.peer.call<T>(path, args, { timeout: this.#timeout }).promise))
  }

  /**
   * Listens to an event emitted by any member (or a member peer's own `open`, `close`, `error`); the
   * listener gets the member first. Returns the unsubscribe. The pool emits `'error'` itself, once,
   * when it stops starting members (`maxStartFailures` failed starts in a row): `member` is the last
   * one that died, `error` a ChannelClosedError saying how many died, how soon, and how the last ended.
   * With the pool's events type (`createPool<Api, { local: MemberEvents }>`), names and arguments are checked.
   */
  on(name: 'error', listener: (member: PoolMember, error: Error) => void): () => void
  on<K extends ListenName<Events>>(name: K, listener: (member: PoolMember, ...args: ListenArgs<Events, K>) => void): () => void
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
    clearTimeout(this.#restartTimer)
    this.#restartTimer = undefined
    if (this.#jobs.size > 0 || this.stats.inFlight > 0) {
      await new Promise<void>((resolve) => {
        // Past MAX_TIMEOUT a timer would fire at once: wait for the calls instead, however long.
        const timer = this.#closeTimeout <= MAX_TIMEOUT ? setTimeout(resolve, this.#closeTimeout) : undefined
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
      startedAt: performance.now(),
      readyAt: NaN,
      uptimeTimer: undefined,
      succeeded: () => this.#directDone(member, true),
      failed: () => this.#directDone(member, false),
    }
    this.#members.push(member)
    for (const name of this.#forwarded) this.#forward(member, name)
    handle.ready.then(
      () => {
        member.ready = true
        member.readyAt = performance.now()
        if (this.#minUptime === 0) this.#startFailures = 0
        else if (this.#minUptime <= MAX_TIMEOUT) {
          member.uptimeTimer = setTimeout(() => {
            member.uptimeTimer = undefined
            this.#startFailures = 0
          }, this.#minUptime)
          member.uptimeTimer.unref()
        }
        this.#pump()
        this.#grow()
        this.#idle(member)
      },
      () => {
        // Counted in #exited, which runs first.
      },
    )
    void handle.exited.then((exit) => this.#exited(member, exit))
    return member
  }

  /** The error of every call refused once the pool has given up and no member is left (a fresh one each time). */
  #gaveUpError(): ChannelClosedError {
    const { failures, member, handshake, after, exit } = this.#gaveUp!
    const within = this.#minUptime > 0 ? ` or less than ${this.#minUptime} ms (minUptime) after it` : ''
    const last = handshake ? `${Math.round(after)} ms after its handshake` : `before its handshake, ${Math.round(after)} ms after it was started`
    return new ChannelClosedError('Pool stopped starting members', {
      reason: `${failures} members in a row (maxStartFailures) died before their handshake${within}; the last, member ${member.id}, died ${last}`,
      exitCode: exit.code,
      signal: exit.signal,
    })
  }

  #forward(member: Member, name: string): void {
    member.handle.peer.on(name, (...args: unknown[]) => this.#events.emit(name, member.info, ...args))
  }

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
    const inner = member.handle.peer.call(job.path, job.args, { timeout: 0, transfer: job.options?.transfer, meta: job.options?.meta })
    job.inner = inner
    inner.promise.then(
      (value) => this.#innerDone(member, job, inner, true, value),
      (error) => this.#innerDone(member, job, inner, false, error),
    )
    return true
  }

  /**
   * Queues a job no member can take now (at the front: a retry), or rejects it at once when no
   * member ever will: the pool gave up and has none left. So the queue is empty in that state.
   */
  #wait(job: Job, first: boolean): void {
    if (this.#gaveUp !== undefined && this.#live() === 0) return this.#settle(job, false, this.#gaveUpError())
    if (first) this.#queue.unshift(job)
    else this.#queue.push(job)
    this.#grow()
    this.#holdProcess()
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
      if (!this.#dispatch(job)) this.#wait(job, true)
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
      this.#holdProcess()
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
      if (!this.#dispatch(job)) break
      this.#queue.shift()
    }
    this.#holdProcess()
  }

  /** Members alive and not being ended on purpose (starting ones included). */
  #live(): number {
    let live = 0
    for (const member of this.#members) if (member.alive && !member.retiring) live++
    return live
  }

  /** Every member is busy and calls wait: start one more, up to maxSize. */
  #grow(): void {
    if (this.#closing !== undefined || this.#restartTimer !== undefined || this.#gaveUp !== undefined) return
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

  /**
   * The restart back-off timer keeps the process alive only while calls wait for a member: a script
   * awaiting a call at top level must see it settle (run once a member starts, or reject once the
   * pool gives up), not exit with code 13 (unsettled top-level await) during the back-off. With no
   * call waiting the timer is unref'd, so a pool that lost every member never holds the process.
   * (Live members hold it anyway, like any worker or child, until `close()`.)
   */
  #holdProcess(): void {
    if (this.#restartTimer === undefined) return
    if (this.#queue.length > 0) this.#restartTimer.ref()
    else this.#restartTimer.unref()
  }

  #idle(member: Member): void {
    if (this.#idleTimeout <= 0 || this.#idleTimeout > MAX_TIMEOUT || member.outstanding > 0 || member.idleTimer !== undefined || this.#closing !== undefined) return
    member.idleTimer = setTimeout(() => {
      member.idleTimer = undefined
      // A pool that gave up cannot start members again: it keeps the ones it has.
      if (member.outstanding === 0 && this.#gaveUp === undefined && this.#live() > this.#minSize) void this.#retire(member)
    }, this.#idleTimeout)
    member.idleTimer.unref()
  }

  async #retire(member: Member): Promise<void> {
    member.retiring = true
    clearTimeout(member.idleTimer)
    await member.handle.close()
  }

  #exited(member: Member, exit: ExitInfo): void {
    member.alive = false
    clearTimeout(member.idleTimer)
    clearTimeout(member.uptimeTimer)
    const index = this.#members.indexOf(member)
    if (index !== -1) this.#members.splice(index, 1)
    if (this.#closing !== undefined) return
    let givingUp = false
    if (!member.retiring) {
      // A member that dies before its handshake, or too soon after it (a crash loop), failed to start.
      const now = performance.now()
      if (!member.ready || now - member.readyAt < this.#minUptime) {
        this.#startFailures++
        if (this.#gaveUp === undefined && this.#startFailures >= this.#maxStartFailures) {
          givingUp = true
          this.#gaveUp = {
            failures: this.#startFailures,
            member: member.info,
            handshake: member.ready,
            after: now - (member.ready ? member.readyAt : member.startedAt),
            exit,
          }
          clearTimeout(this.#restartTimer)
          this.#restartTimer = undefined
        }
      } else this.#startFailures = 0
    }
    if (this.#gaveUp !== undefined) {
      // Calls wait only while a member is left that may take them.
      if (this.#live() === 0) {
        const error = this.#gaveUpError()
        for (const job of this.#queue.splice(0)) this.#settle(job, false, error)
      }
      // Last, once the pool is consistent. A listener that throws is the application's bug: it surfaces
      // as an uncaught exception, as from any callback, not as a rejection of the pool's bookkeeping.
      if (givingUp) {
        try {
          this.#events.emit('error', member.info, this.#gaveUpError())
        } catch (error) {
          queueMicrotask(() => {
            throw error
          })
        }
      }
      return
    }
    if (member.retiring) return
    // Replace it, after a back-off that grows with the failed starts in a row.
    const delay = this.#startFailures === 0 ? 0 : Math.min(100 * 2 ** (this.#startFailures - 1), 5000)
    if (delay === 0) this.#replace()
    else if (this.#restartTimer === undefined) {
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = undefined
        this.#replace()
      }, delay)
      this.#holdProcess()
    }
  }

  /** Starts members back up to minSize (every member that died during one back-off), or one for waiting calls. */
  #replace(): void {
    if (this.#closing !== undefined || this.#gaveUp !== undefined) return
    for (let live = this.#live(); live < Math.max(this.#minSize, 1); live++) {
      this.#restarts++
      this.#spawn()
    }
    const before = this.#members.length
    this.#grow()
    if (this.#members.length > before) this.#restarts++
  }
}

/** Checks every option of createPool at the door (minSize against maxSize is checked once both are known). */
function checkPoolOptions(o: PoolOptions): void {
  optional(checkOneOf, 'options.kind', o.kind, ['worker', 'process'])
  optional(checkPositiveInteger, 'options.size', o.size)
  if (o.minSize !== undefined && !(typeof o.minSize === 'number' && Number.isInteger(o.minSize) && o.minSize >= 0)) {
    throw invalidArgument('options.minSize', 'a non-negative integer', o.minSize)
  }
  optional(checkPositiveInteger, 'options.maxSize', o.maxSize)
  optional(checkPositiveInteger, 'options.concurrency', o.concurrency, true)
  optional(checkNonNegative, 'options.maxQueue', o.maxQueue, true)
  optional(checkNonNegative, 'options.timeout', o.timeout, true)
  if (o.idempotent !== undefined) {
    if (!Array.isArray(o.idempotent)) throw invalidArgument('options.idempotent', 'an array of paths (strings)', o.idempotent)
    o.idempotent.forEach((path: unknown, i) => {
      if (typeof path !== 'string') throw invalidArgument(`options.idempotent[${i}]`, 'a path (a string)', path)
    })
  }
  optional(checkNonNegative, 'options.idleTimeout', o.idleTimeout, true)
  optional(checkPositiveInteger, 'options.maxStartFailures', o.maxStartFailures, true)
  optional(checkNonNegative, 'options.minUptime', o.minUptime)
  optional(checkNonNegative, 'options.closeTimeout', o.closeTimeout, true)
  if (o.expose !== undefined && (typeof o.expose !== 'object' || o.expose === null)) throw invalidArgument('options.expose', 'an object', o.expose)
  checkOptions('options.spawn', o.spawn)
}

/** Starts a pool of `size` members running `modulePath` (which calls `connectParent`). */
export function createPool<RemoteApi = unknown, Events extends PeerEvents = PeerEvents>(modulePath: string | URL, options?: PoolOptions): Pool<RemoteApi, Events> {
  return new Pool<RemoteApi, Events>(modulePath, options)
}
