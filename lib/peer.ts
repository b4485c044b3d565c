import { EventEmitter } from 'eventemitter3'
import { nanoid } from 'nanoid'
import { ByName, paramsOf } from './by-name.js'
import { invalidArgument } from './check.js'
import { Refs, RefMethod } from './refs.js'
import { decode, decodeFields, encode, Encoded, type Mode, modeOf, TAG, UnsendableValue } from './codec.js'
import { clip, messageOf } from './describe.js'
import { Dispatcher } from './dispatcher.js'
import { fromErrorObject } from './error-wire.js'
import { BusyError, ChannelClosedError, type CloseInfo, ErrorCode, RpcError, TimeoutError } from './errors.js'
import type { Incoming } from './context.js'
import { Hooks, type IncomingRequest, type Meta, type PeerHooks } from './hooks.js'
import type { ExposeOptions, HandleOptions } from './namespace.js'
import { checkTransport, HEARTBEAT_DEFAULTS, type Heartbeat, type PeerOptions, type ResolvedPeerOptions, resolvePeerOptions } from './options.js'
import { type ErrorObject, type HelloParams, type Id, isId, isJsonRpc, Method, PROTOCOL_VERSION, WireCode } from './protocol.js'
import { createRemoteProxy } from './proxy.js'
import { type Call, TransactionManager } from './transactions.js'
import type { ParamsOf, ParamsSchema } from './schema.js'
import type { Transferable, Transport } from './transport.js'
import type { EmitArgs, EmitName, EventListener, ListenName, PeerEvents, RemoteOf, RemoteSyncOf } from './types.js'

export type PeerState = 'connecting' | 'open' | 'closed'

/** Options of one solicited call. */
export interface CallOptions<T = unknown> {
  /** Timeout of this call in ms, overriding the peer's; 0 means none. */
  timeout?: number
  /** Aborting it cancels the call (CancelledError here, the handler's signal aborted there). */
  signal?: AbortSignal
  /** Node-style callback, for callers that prefer it to the promise. */
  callback?: (error: Error | null, result?: T) => void
  /** Objects in the arguments to transfer rather than copy (worker and MessagePort channels). */
  transfer?: readonly Transferable[]
  /** Metadata sent with the call (over the peer's `meta` hook); the handler reads `callContext().meta`. */
  meta?: Meta
}

/** Counters of a peer, for monitoring and leak checks. */
export interface PeerStats {
  /** Calls made from this side still awaiting their reply. */
  pending: number
  /** Handlers running on this side. */
  active: number
  /** Incoming calls waiting for a handler slot. */
  queued: number
  /** Messages sent. */
  sent: number
  /** JSON-RPC messages received (foreign traffic is not counted). */
  received: number
  /** Messages ignored: late or unknown replies, malformed messages, notifications nobody handles. */
  dropped: number
  /** References (functions, ref() objects, streams) this side sent and the other side holds. */
  exportedRefs: number
  /** Stubs this side received and has not released. */
  importedRefs: number
}

/** Names `peer.on()` uses for this side's own lifecycle; the other side cannot emit them. */
export const LIFECYCLE_EVENTS: ReadonlySet<string> = new Set(['open', 'close', 'error'])

type Listener = (...args: any[]) => void

type Outgoing = { jsonrpc: '2.0'; id?: number; method: string; params?: unknown; meta?: unknown; ttl?: number; [TAG]?: 1 }

/** A message made before the handshake, encoded for the channel as it was then expected to be. */
interface Held {
  message: Outgoing
  transfer: readonly Transferable[] | undefined
  /** The arguments before encoding, and the mode they were encoded for: re-encoded if the handshake changed it. */
  raw: readonly unknown[] | object
  rawMeta: Meta | undefined
  mode: Mode
  /** For events: the name, sent before the arguments. */
  event?: string
}

const NO_TRANSFER: readonly Transferable[] = []
/** Most messages in one batch: a turn that sends more sends several batches. */
const MAX_BATCH = 1024
/** About the most characters of strings one batch carries; a larger message goes at once. */
const MAX_BATCH_WEIGHT = 64 * 1024
/** Prefix of the heartbeat's ping ids: strings, so never the id of a call (calls count with numbers). */
const PING_ID = 'ping:'
const localClose = (): CloseInfo => ({ reason: 'closed by this side', local: true })

/**
 * One end of a channel. Both ends are alike: each may expose an API and call the other's.
 *
 * Lifecycle events (local only): `open` once the handshake completes, `close` with a CloseInfo,
 * `error` for problems that have no caller to reject (a notification handler that threw...).
 */
export class Peer<RemoteApi = unknown, Events extends PeerEvents = PeerEvents> {
  /** Random id of this peer instance, sent in the handshake. */
  readonly id = nanoid(10)
  /** The other side's API as a typed proxy: `await peer.remote.a.b(x)`. */
  readonly remote: RemoteOf<RemoteApi>
  /**
   * The other side's API as a blocking proxy: `peer.remoteSync.a.b(x)` returns the value or throws.
   * Worker-thread channels only; see {@link Peer.callSync}.
   */
  readonly remoteSync: RemoteSyncOf<RemoteApi>
  /** Resolves when the handshake with the other side is complete; rejects if the channel closes first. */
  readonly ready: Promise<void>

  readonly #transport: Transport
  readonly #options: ResolvedPeerOptions
  readonly #transactions: TransactionManager
  readonly #dispatcher: Dispatcher
  /** Functions, ref() objects and streams sent and received by reference (refs.ts). */
  readonly #refs: Refs
  /** The same, or undefined where the channel can carry no reference (a broker). */
  readonly #refsOn: Refs | undefined
  /** The channel drops calls that wait past their timeout (a broker): requests carry `ttl`. */
  readonly #expiry: boolean
  readonly #events = new EventEmitter()
  readonly #hooks = new Hooks()
  #state: PeerState = 'connecting'
  #held: Held[] = []
  /** True once the other side said hello: it speaks treerpc (else: a plain JSON-RPC peer). */
  #treerpcPeer = false
  /** The other side reads batches: messages of one turn go out together (see #transmit). */
  #batching = false
  #outbox: object[] = []
  #outboxTransfer: Transferable[] = []
  /** About how large the queued messages are (string lengths): a batch stays under MAX_BATCH_WEIGHT. */
  #outboxWeight = 0
  #flushQueued = false
  /** Replies owed to a plain peer's batches, by request id; and the batch being read now. */
  readonly #collectors = new Map<Id, BatchReplies>()
  #collecting: BatchReplies | undefined
  /** The channel serializes with JSON, not structured clone. */
  #jsonOnly: boolean
  /** How values are written for the other side; settled by the handshake (see codec.ts). */
  #mode: Mode
  #resolveReady!: () => void
  #rejectReady!: (error: Error) => void
  #sent = 0
  #received = 0
  #dropped = 0
  #connectTimer: ReturnType<typeof setTimeout> | undefined
  /** The heartbeat's settings, or false when it is off (see HeartbeatOptions); its timer runs only while open. */
  readonly #heartbeat: Heartbeat | false
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined
  /** Set by every message received, cleared by each heartbeat tick: the only cost of the heartbeat per message. */
  #heard = false
  /** Silence counted by heartbeat ticks (ms), whether a ping went out during it, and pings sent so far (their ids). */
  #silent = 0
  #pinged = false
  #pings = 0
  /** Set by close(): later calls reject. */
  #closing: Promise<void> | undefined
  /** While close({ drain }) waits: ends the wait (the peer is closing now). */
  #endDrain: (() => void) | undefined

  constructor(transport: Transport, options: PeerOptions = {}) {
    checkTransport(transport)
    this.#options = resolvePeerOptions(options)
    this.#transport = transport
    // Left to the transport: on where the channel gives no close signal (a web MessagePort).
    this.#heartbeat = this.#options.heartbeat ?? (transport.capabilities?.reportsClose === false ? { ...HEARTBEAT_DEFAULTS } : false)
    this.#jsonOnly = transport.capabilities?.structuredClone === false
    // Until the other side says hello, expect a treerpc peer if a handshake is expected.
    this.#mode = modeOf(this.#jsonOnly, this.#options.handshake)
    this.#transactions = new TransactionManager((call) => {
      this.#abandon(call)
      this.#drainCheck()
    })
    this.#refs = new Refs(
      {
        call: (method, args) => this.#call(method, args, undefined).promise,
        notify: (method, params) => this.#send({ jsonrpc: '2.0', method }, params, undefined),
        isOpen: () => this.#state === 'open',
      },
      { maxRefs: this.#options.maxRefs, window: this.#options.streamWindow, timeout: this.#options.timeout },
    )
    this.#refsOn = transport.capabilities?.references === false ? undefined : this.#refs
    this.#expiry = transport.capabilities?.expiry === true
    this.#dispatcher = new Dispatcher(
      {
        send: (message, transfer) => this.#sendRaw(message, transfer),
        error: (error) => this.#error(error),
        drop: () => void this.#dropped++,
        finished: () => this.#drainCheck(),
        isClosed: () => this.#state === 'closed',
        mode: () => this.#mode,
        scrub: (error, entry) => this.#scrub(error, entry),
        minimalErrors: () => this.#options.errorDetail === 'minimal',
      },
      this.#options.concurrency,
      this.#options.maxQueue,
      this.#refsOn,
    )
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    // Nobody may be awaiting `ready`: its rejection must never be an unhandled one.
    this.ready.catch(() => {})
    this.remote = createRemoteProxy((path, args) => this.#call(path, args, undefined).promise) as RemoteOf<RemoteApi>
    this.remoteSync = createRemoteProxy((path, args) => this.callSync(path, args)) as RemoteSyncOf<RemoteApi>
    if (options.hooks !== undefined) this.#hooks.add(options.hooks)
    if (options.meta !== undefined) this.#hooks.add({ meta: options.meta })
    if (options.trace === true) this.#hooks.add({ trace: (direction, message) => console.debug(`treerpc ${this.id} ${direction}`, message) })
    else if (typeof options.trace === 'function') this.#hooks.add({ trace: options.trace })
    if (options.expose !== undefined) this.#dispatcher.namespace.expose('', options.expose)
    transport.onMessage(this.#onMessage)
    transport.onClose((info) => this.#shutdown(info, false))
    transport.onSendError?.((message, error) => this.#sendFailed(message, error))
    if (this.#options.handshake) {
      this.#sendHello(false)
      const wait = this.#options.connectTimeout
      if (wait > 0) {
        this.#connectTimer = setTimeout(() => this.#shutdown({ reason: `the other side did not connect within ${wait} ms (connectTimeout)` }, false), wait)
        if (typeof this.#connectTimer === 'object') this.#connectTimer.unref?.()
      }
    } else {
      this.#open()
    }
  }

  get state(): PeerState {
    return this.#state
  }

  get stats(): PeerStats {
    return {
      pending: this.#transactions.size,
      active: this.#dispatcher.active,
      queued: this.#dispatcher.queued,
      sent: this.#sent,
      received: this.#received,
      dropped: this.#dropped,
      exportedRefs: this.#refs.exported,
      importedRefs: this.#refs.imported,
    }
  }

  /** The paths this side currently exposes. */
  get exposed(): string[] {
    return this.#dispatcher.namespace.paths()
  }

  // ---- calling the other side ----------------------------------------------------------------

  /**
   * Calls `path` on the other side. The returned Call is a promise with `id`, `state` and `cancel()`.
   * `args` is the argument array, or `byName({...})` to send JSON-RPC params by name. Bad arguments
   * (a path that is not a string, args that are not an array) reject the Call; nothing is thrown.
   */
  call<T = any>(path: string, args: readonly unknown[] | ByName = [], options?: CallOptions<T>): Call<T> {
    const call = this.#call<T>(path, args instanceof ByName ? [args] : args, options)
    if (options?.callback !== undefined) {
      const callback = options.callback
      call.promise.then((value) => callback(null, value), (error) => callback(error as Error))
    }
    return call
  }

  /**
   * Calls `path` and blocks this thread until the reply: returns the result, or throws the remote error
   * (RemoteError...), TimeoutError after `timeout` (default: the peer's; 0 waits forever). A timed-out
   * call is cancelled on the other side and its late reply discarded.
   *
   * Only channels that can block (worker_threads: a Worker, its parentPort, a Node MessagePort) support
   * it; on others it throws RpcError `RPC_UNSUPPORTED` at once, without blocking. While blocked, this
   * thread runs nothing: a handler on the other side that calls back into this side waits until the
   * blocking call ends.
   */
  callSync<T = any>(path: string, args: readonly unknown[] = [], options: { timeout?: number } = {}): T {
    const blocking = this.#transport.blocking
    if (blocking === undefined) {
      throw new RpcError(`Cannot call "${path}" synchronously: this channel cannot block (only worker_threads channels can)`, ErrorCode.Unsupported)
    }
    if (this.#state === 'closed') throw new ChannelClosedError(`Cannot call "${path}"`, { reason: 'the channel is closed' })
    if (!Array.isArray(args)) throw invalidArgument('args', 'an array of arguments', args)
    const timeout = options.timeout ?? this.#options.timeout
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw invalidArgument('options.timeout', 'a non-negative number of ms', timeout)
    const id = this.#transactions.nextId()
    let reply: { result?: unknown; error?: ErrorObject; [TAG]?: unknown } | undefined
    // What this turn queued goes first: a blocking call must not overtake it.
    this.#flush()
    try {
      const request = { jsonrpc: '2.0', id, method: String(path), params: args } as Outgoing & { id: number; params: unknown[] }
      // No references: the blocked thread could not answer a call through them until the call ends.
      this.#encodeInto(request, args, this.#mode, undefined, undefined, false)
      reply = blocking.request(request, timeout) as typeof reply
    } catch (error) {
      throw unsendable(`Arguments of "${path}" could not be sent`, error)
    }
    if (reply === undefined) {
      if (this.#state === 'open') this.#sendRaw({ jsonrpc: '2.0', method: this.#cancelMethod(), params: { id } })
      throw new TimeoutError(`Blocking call "${path}" timed out after ${timeout} ms`, String(path), timeout)
    }
    try {
      if (reply[TAG] === 1) decodeReply(reply, this.#refsOn)
    } catch (error) {
      throw new RpcError(`Malformed reply to "${path}": ${messageOf(error)}`, ErrorCode.InvalidRequest)
    }
    if (typeof reply.error === 'object' && reply.error !== null) throw fromErrorObject(reply.error, String(path))
    return reply.result as T
  }

  /**
   * Sends an unsolicited call: no reply, no pending entry. Throws ChannelClosedError once closed, and
   * RpcError `RPC_UNSENDABLE` (or the channel's own BusyError) when the arguments cannot be sent.
   */
  notify(path: string, ...args: unknown[]): void {
    if (typeof path !== 'string') throw invalidArgument('path', 'a string', path)
    this.#assertOpenable()
    const meta = this.#hooks.outgoing ? this.#hooks.outgoingMeta(path, args, 'notify', undefined) : undefined
    try {
      this.#send({ jsonrpc: '2.0', method: path }, paramsOf(args), undefined, undefined, meta)
    } catch (error) {
      throw unsendable(`Notification "${path}" could not be sent`, error)
    }
  }

  /**
   * Emits `name` to the other side's `peer.on(name)` listeners. Lifecycle names are refused (and do
   * not compile). With an events type (`Peer<Api, { remote: ... }>`), only its `remote` events compile.
   */
  emit<K extends EmitName<Events>>(name: K, ...args: EmitArgs<Events, K>): void
  emit(name: string, ...args: unknown[]): void {
    if (typeof name !== 'string' || LIFECYCLE_EVENTS.has(name)) {
      throw new RpcError(`"${String(name)}" is a lifecycle event of each side and cannot be emitted to the other`, ErrorCode.InvalidArgument)
    }
    this.#assertOpenable()
    const meta = this.#hooks.outgoing ? this.#hooks.outgoingMeta(name, args, 'emit', undefined) : undefined
    try {
      this.#send({ jsonrpc: '2.0', method: Method.Event }, args, undefined, name, meta)
    } catch (error) {
      throw unsendable(`Event "${name}" could not be sent`, error)
    }
  }

  /**
   * Listens to an event from the other side, or to a lifecycle event of this side. Returns the
   * unsubscribe. Lifecycle listeners are always typed; with an events type (`Peer<Api, { local: ... }>`),
   * only its `local` events and their arguments compile.
   */
  on<K extends ListenName<Events>>(name: K, listener: EventListener<Events, K>): () => void
  on(name: string, listener: Listener): () => void {
    this.#events.on(name, listener)
    return () => this.#events.off(name, listener)
  }

  once<K extends ListenName<Events>>(name: K, listener: EventListener<Events, K>): () => void
  once(name: string, listener: Listener): () => void {
    this.#events.once(name, listener)
    return () => this.#events.off(name, listener)
  }

  off<K extends ListenName<Events>>(name: K, listener?: EventListener<Events, K>): void
  off(name: string, listener?: Listener): void {
    this.#events.off(name, listener)
  }

  // ---- what this side exposes ----------------------------------------------------------------

  /**
   * Adds or replaces the subtree at `path` with `api` (`expose(api)` replaces the whole root).
   * `options.params` gives params schemas by handler path (see {@link ExposeOptions}).
   */
  expose(path: string, api: object, options?: ExposeOptions): void
  expose(api: object, options?: ExposeOptions): void
  expose(pathOrApi: string | object, apiOrOptions?: object, options?: ExposeOptions): void {
    if (typeof pathOrApi === 'string') this.#dispatcher.namespace.expose(pathOrApi, apiOrOptions as object, options)
    else this.#dispatcher.namespace.expose('', pathOrApi, apiOrOptions as ExposeOptions | undefined)
  }

  /**
   * Sets the handler of one path, optionally with a validator of its arguments or a params schema
   * (`{ params: z.tuple([z.string()]) }`), from which the handler's parameter types are inferred.
   */
  handle<S extends ParamsSchema>(path: string, fn: (...args: ParamsOf<S>) => unknown, options: HandleOptions<S>): void
  handle(path: string, fn: (...args: any[]) => unknown, options?: HandleOptions & { params?: undefined }): void
  handle(path: string, fn: (...args: any[]) => unknown, options?: HandleOptions): void {
    this.#dispatcher.namespace.handle(path, fn, options)
  }

  /** Removes the handler at `path` and everything below it. Returns how many handlers went. */
  unhandle(path: string): number {
    return this.#dispatcher.namespace.unhandle(path)
  }

  /** Receives calls to paths nobody handles, as `(path, args)`; `undefined` removes it. */
  fallback(fn: ((path: string, args: unknown[]) => unknown) | undefined): void {
    this.#dispatcher.setFallback(fn)
  }

  /**
   * Closes the channel: pending calls reject with ChannelClosedError, queued handlers are dropped,
   * running handlers see their signal aborted, and the other side is told. Idempotent.
   *
   * With `drain` (ms), it first lets the work in flight finish, for at most that long: calls from this
   * side already sent get their replies, and handlers running or queued here end and reply (the other
   * side may still call in meanwhile); new calls from this side reject at once with
   * ChannelClosedError. Then it closes as above. The promise resolves once closed, and never rejects.
   */
  close(options: { drain?: number } = {}): Promise<void> {
    const drain = options.drain ?? 0
    if (typeof drain !== 'number' || !(drain >= 0)) return Promise.reject(invalidArgument('options.drain', 'a non-negative number of ms', drain))
    if (this.#closing !== undefined) return this.#closing
    if (drain > 0 && this.#state === 'open' && !this.#idle()) {
      this.#closing = new Promise<void>((resolve) => {
        const timer = setTimeout(() => this.#shutdown(localClose(), true), drain)
        this.#endDrain = () => {
          this.#endDrain = undefined
          clearTimeout(timer)
          resolve()
        }
      })
      return this.#closing
    }
    this.#shutdown(localClose(), true)
    return (this.#closing = Promise.resolve())
  }

  // ---- internals -------------------------------------------------------------------------------

  #call<T>(path: string, args: readonly unknown[], options: CallOptions<T> | undefined): Call<T> {
    const refusal = typeof path !== 'string' ? invalidArgument('path', 'a string', path) : options === undefined ? undefined : checkCallOptions(options as CallOptions<unknown>)
    if (refusal !== undefined) options = undefined
    const call = this.#transactions.open<T>(String(path), options?.timeout ?? this.#options.timeout, options?.signal)
    if (call.state !== 'pending') return call
    if (refusal !== undefined) {
      this.#transactions.fail(call, refusal)
    } else if (!Array.isArray(args)) {
      this.#transactions.fail(call, invalidArgument('args', 'an array of arguments (or byName({...}))', args))
    } else if (this.#state === 'closed' || this.#closing !== undefined) {
      this.#transactions.fail(call, new ChannelClosedError(`Cannot call "${path}"`, { reason: this.#state === 'closed' ? 'the channel is closed' : 'the channel is closing' }))
    } else if (this.#transactions.size > this.#options.maxPending) {
      this.#transactions.fail(call, new BusyError(`Cannot call "${path}": ${this.#options.maxPending} calls are already pending (options.maxPending)`))
    } else {
      let meta = options?.meta
      try {
        if (this.#hooks.outgoing) meta = this.#hooks.outgoingMeta(path, args, 'call', meta)
      } catch (error) {
        // A beforeCall hook refused the call: it fails with the hook's own error.
        this.#transactions.fail(call, error)
        return call
      }
      try {
        const request: Outgoing = { jsonrpc: '2.0', id: call.id, method: call.path }
        // A channel that can expire queued messages (a broker) is told each call's timeout.
        if (this.#expiry && call.timeout > 0) request.ttl = call.timeout
        this.#send(request, paramsOf(args), options?.transfer, undefined, meta)
      } catch (error) {
        this.#transactions.fail(call, unsendable(`Arguments of "${path}" could not be sent`, error))
      }
    }
    return call
  }

  /** During close({ drain }): closes once nothing is in flight. */
  #drainCheck(): void {
    if (this.#endDrain !== undefined && this.#idle()) this.#shutdown(localClose(), true)
  }

  /** Nothing in flight either way. */
  #idle(): boolean {
    return this.#transactions.size === 0 && this.#dispatcher.active === 0 && this.#dispatcher.queued === 0
  }

  #assertOpenable(): void {
    if (this.#state === 'closed') throw new ChannelClosedError('Cannot send', { reason: 'the channel is closed' })
  }

  /**
   * Encodes `params` into `message` and sends it now, or holds it until the handshake completes.
   * Throws when it cannot be sent (an unsendable value: at once, even before the handshake).
   */
  #send(message: Outgoing, params: readonly unknown[] | object, transfer: readonly Transferable[] | undefined, event?: string, meta?: Meta): void {
    if (this.#state !== 'open' && this.#held.length >= this.#options.maxPending) {
      throw new BusyError(`${this.#held.length} messages are already waiting for the handshake (options.maxPending)`)
    }
    const mode = this.#mode
    const marked = this.#encodeInto(message, params, mode, event, meta)
    transfer ??= marked
    if (this.#state === 'open') {
      // Only arguments that cannot change before the batch is serialized may wait for it.
      this.#transmit(message, transfer ?? NO_TRANSFER, this.#batching && meta === undefined ? weightOf(message.params) : -1)
    } else {
      this.#held.push({ message, transfer, raw: params, rawMeta: meta, mode, event })
    }
  }

  /**
   * Sets `message.params` to `params` encoded for `mode` (with the event name first, for events), and
   * the message's tag flag. Returns what `transfer()` marks inside. Throws RpcError RPC_UNSENDABLE
   * naming where an unsendable value sits.
   */
  #encodeInto(message: Outgoing, params: readonly unknown[] | object, mode: Mode, event?: string, meta?: Meta, refs = true): Transferable[] | undefined {
    let encoded: unknown
    try {
      encoded = encode(params, mode, refs ? this.#refsOn : undefined)
    } catch (error) {
      if (error instanceof UnsendableValue) error.where = Array.isArray(params) ? 'args' : 'params'
      throw error
    }
    let value = params
    let marked: Transferable[] | undefined
    if (encoded instanceof Encoded) {
      value = encoded.value as typeof params
      marked = encoded.transfer
      if (encoded.tagged) message[TAG] = 1
      else delete message[TAG]
    }
    message.params = event === undefined ? value : [event, ...(value as unknown[])]
    if (meta !== undefined) {
      const encodedMeta = encode(meta, mode)
      if (encodedMeta instanceof Encoded) {
        message.meta = encodedMeta.value
        if (encodedMeta.tagged) message[TAG] = 1
      } else {
        message.meta = meta
      }
    }
    return marked
  }

  /**
   * Hands a message to the transport, and to the `trace` hooks. Toward a treerpc peer that reads
   * batches, messages of the same turn go out together as one JSON-RPC batch when there are several
   * (see #flush); otherwise, and for a lone message, as they are. Throws only when unbatched.
   */
  #transmit(message: object, transfer: readonly Transferable[], weight: number): void {
    this.#sent++
    if (this.#hooks.trace.length > 0) this.#hooks.traceMessage('out', message)
    if (!this.#batching) return this.#transport.send(message, transfer)
    this.#outbox.push(message)
    if (transfer.length > 0) this.#outboxTransfer.push(...transfer)
    // A batch is serialized when it goes: a message holding objects of the application's (which it
    // could still change in this turn), or moving buffers, goes now, with what was queued before it.
    // Bounded too in size (strings counted by length), so that batching never builds one huge message.
    if (weight < 0 || transfer.length > 0 || this.#outbox.length >= MAX_BATCH || (this.#outboxWeight += weight) > MAX_BATCH_WEIGHT) this.#flush()
    else if (!this.#flushQueued) {
      this.#flushQueued = true
      queueMicrotask(this.#flush)
    }
  }

  /**
   * Sends what this turn queued: one message alone, several as one batch (one postMessage or write
   * instead of many). If the channel refuses the batch (too large for a stream's maxMessageSize, a
   * value it cannot clone), each message is sent alone, so only the one at fault fails.
   */
  readonly #flush = (): void => {
    this.#flushQueued = false
    this.#outboxWeight = 0
    const batch = this.#outbox
    if (batch.length === 0) return
    const transfer = this.#outboxTransfer.length > 0 ? this.#outboxTransfer : NO_TRANSFER
    this.#outbox = []
    if (transfer !== NO_TRANSFER) this.#outboxTransfer = []
    try {
      this.#transport.send(batch.length === 1 ? batch[0] : batch, transfer)
      return
    } catch (error) {
      if (batch.length === 1) return this.#sendFailed(batch[0], error)
    }
    // Only the last message can carry transfers: one that does is flushed as soon as it is queued.
    for (let i = 0; i < batch.length; i++) {
      try {
        this.#transport.send(batch[i], i === batch.length - 1 ? transfer : NO_TRANSFER)
      } catch (error) {
        this.#sendFailed(batch[i], error)
      }
    }
  }

  /** A message that could not be sent after all: the call it carried fails, or its caller is told. */
  #sendFailed(message: unknown, error: unknown): void {
    if (Array.isArray(message)) {
      for (const each of message) this.#sendFailed(each, error)
      return
    }
    const { id, method } = message as { id?: unknown; method?: unknown }
    if (typeof method === 'string' && id !== undefined) this.#transactions.reject(id, unsendable(`Arguments of "${clip(method)}" could not be sent`, error))
    else if (method === undefined && isId(id) && 'result' in (message as object)) this.#dispatcher.reject(id, WireCode.Unsendable, `A result could not be sent: ${messageOf(error)}`)
    else if (method === undefined && isId(id)) this.#dispatcher.reject(id, WireCode.HandlerError, `An error reply could not be sent: ${messageOf(error)}`)
    else this.#error(unsendable('A message could not be sent', error))
  }

  /** A handler's error as it is to be sent: what the `beforeSendError` hooks make of it. */
  #scrub(error: unknown, entry: Incoming): unknown {
    for (const hook of this.#hooks.beforeSendError) {
      try {
        error = hook(error, entry)
      } catch (hookError) {
        error = hookError
      }
    }
    return error
  }

  /**
   * Adds interceptors (see {@link PeerHooks}): `meta`, `beforeCall`, `beforeHandle`,
   * `beforeSendError`, `trace`. Hooks run in the order they were added.
   */
  use(hooks: PeerHooks): this {
    if (typeof hooks !== 'object' || hooks === null) throw invalidArgument('hooks', 'an object of hook functions', hooks)
    this.#hooks.add(hooks)
    return this
  }

  /** Sends a reply or protocol message directly; never throws. Returns the send error, if any. */
  #sendRaw(message: object, transfer: readonly Transferable[] = NO_TRANSFER): unknown {
    if (this.#state === 'closed') return undefined
    if ((this.#collectors.size > 0 || this.#collecting !== undefined) && this.#collect(message)) return undefined
    const weight = this.#batching && transfer.length === 0 ? ownMessageWeight(message) : -1
    try {
      this.#transmit(message, transfer, weight)
      return undefined
    } catch (error) {
      return error ?? new Error('send failed')
    }
  }

  #sendHello(ack: boolean): void {
    const params: HelloParams = { v: PROTOCOL_VERSION, peer: this.id, ack, clone: this.#transport.capabilities?.structuredClone === true, batch: true }
    this.#sendRaw({ jsonrpc: '2.0', method: Method.Hello, params })
  }

  #open(): void {
    if (this.#state !== 'connecting') return
    this.#state = 'open'
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer)
    if (this.#heartbeat !== false) {
      // Read at call time, so that fake timers reach it; never keeps a process alive.
      this.#heartbeatTimer = setInterval(this.#beat, this.#heartbeat.interval)
      if (typeof this.#heartbeatTimer === 'object') this.#heartbeatTimer.unref?.()
    }
    const held = this.#held
    this.#held = []
    for (const { message, transfer, raw, rawMeta, mode, event } of held) {
      const id = message.id
      // A call that timed out or was cancelled while held is not sent at all.
      if (id !== undefined && !this.#transactions.has(id)) continue
      try {
        // The hello told how the channel serializes and who is at the other end: encode again if it changed.
        if (mode !== this.#mode) this.#encodeInto(message, raw, this.#mode, event, rawMeta)
        this.#transmit(message, transfer ?? NO_TRANSFER, -1)
      } catch (error) {
        if (id !== undefined) this.#transactions.reject(id, unsendable(`Arguments of "${message.method}" could not be sent`, error))
        else this.#error(unsendable(`Notification "${message.method}" could not be sent`, error))
      }
    }
    this.#resolveReady()
    this.#events.emit('open')
  }

  /** A call given up on this side (timeout, cancel): ask the other side to stop its handler. */
  #abandon(call: Call<unknown>): void {
    if (this.#state !== 'open') return // still held (never sent) or the channel is gone
    this.#sendRaw({ jsonrpc: '2.0', method: this.#cancelMethod(), params: { id: call.id } })
  }

  #cancelMethod(): string {
    return this.#treerpcPeer || this.#options.handshake ? Method.Cancel : Method.ForeignCancel
  }

  #error(error: unknown): void {
    this.#events.emit('error', error)
  }

  /**
   * A heartbeat tick: nothing to do if something was received since the last one (so it costs nothing
   * while messages flow); else a ping, and once the silence has lasted `timeout` with a ping out for at
   * least one interval, the end of the peer, as if the channel had closed.
   */
  readonly #beat = (): void => {
    if (this.#heartbeat === false || this.#state !== 'open') return
    if (this.#heard) {
      this.#heard = false
      this.#silent = 0
      this.#pinged = false
      return
    }
    this.#silent += this.#heartbeat.interval
    if (this.#pinged && this.#silent >= this.#heartbeat.timeout) {
      return this.#shutdown({ reason: `the other side stopped answering (no message for ${this.#silent} ms; heartbeat)` }, true)
    }
    this.#pinged = true
    this.#sendRaw({ jsonrpc: '2.0', id: `${PING_ID}${++this.#pings}`, method: Method.Ping })
  }

  readonly #onMessage = (message: unknown): void => {
    if (this.#state === 'closed') return
    // Any message at all, ours or the application's, shows the other side is there.
    this.#heard = true
    if (Array.isArray(message)) return this.#onBatch(message)
    // Traffic that is not JSON-RPC belongs to the application sharing the channel: not ours to count.
    if (!isJsonRpc(message)) return
    this.#receive(message)
  }

  /**
   * A JSON-RPC batch: each element is handled as its own message, in order. From a plain JSON-RPC
   * peer every array is a batch (an empty or invalid one is answered as the spec says); from a treerpc
   * peer, an array holding no JSON-RPC object is the application's own traffic on a shared channel,
   * left alone. A plain JSON-RPC peer gets the replies to its batch's
   * requests back as one batch, once all are done (JSON-RPC 2.0, section 6); a treerpc peer gets them
   * batched by turn, as everything else.
   */
  #onBatch(batch: unknown[]): void {
    // Between treerpc peers an array holding no JSON-RPC object is the application's; a plain peer's
    // arrays are batches, invalid ones answered as JSON-RPC 2.0 says.
    if (this.#treerpcPeer && !batch.some(isJsonRpc)) return
    if (batch.length === 0) {
      this.#received++
      this.#sendRaw({ jsonrpc: '2.0', id: null, error: { code: WireCode.InvalidRequest, message: 'Invalid request: an empty batch' } })
      return
    }
    const collector = this.#batching ? undefined : new BatchReplies()
    if (collector !== undefined) {
      for (const element of batch) {
        const id = isJsonRpc(element) && typeof element.method === 'string' ? element.id : undefined
        if (isId(id)) collector.expect(id, this.#collectors)
      }
      this.#collecting = collector
    }
    try {
      for (const element of batch) {
        if (this.#state === 'closed') break
        if (isJsonRpc(element)) this.#receive(element)
        else {
          this.#received++
          this.#dispatcher.reject(null, WireCode.InvalidRequest, 'Invalid request: a batch element is not a JSON-RPC 2.0 message object')
        }
      }
    } finally {
      if (collector !== undefined) {
        this.#collecting = undefined
        collector.loopDone = true
        this.#sendBatchReplies(collector)
      }
    }
  }

  /** Keeps a reply that belongs to a plain peer's batch; true when kept (sent later, with the others). */
  #collect(message: object): boolean {
    const id = (message as { id?: unknown }).id
    const collector = (isId(id) ? this.#collectors.get(id) : undefined) ?? (id === null ? this.#collecting : undefined)
    if (collector === undefined) return false
    collector.replies.push(message)
    if (isId(id)) collector.answered(id, this.#collectors)
    this.#sendBatchReplies(collector)
    return true
  }

  #sendBatchReplies(collector: BatchReplies): void {
    if (!collector.loopDone || collector.waiting > 0 || collector.replies.length === 0 || this.#state === 'closed') return
    const replies = collector.replies
    collector.replies = []
    try {
      this.#transmit(replies, NO_TRANSFER, -1)
    } catch (error) {
      this.#sendFailed(replies, error)
    }
  }

  #receive(message: { jsonrpc: '2.0'; [key: string]: unknown }): void {
    this.#received++
    if (this.#hooks.trace.length > 0) this.#hooks.traceMessage('in', message)
    try {
      this.#dispatch(message)
    } catch (error) {
      // Only a bug of ours or a throwing listener can get here; never let it escape into the transport.
      this.#dropped++
      this.#error(error)
    }
  }

  #dispatch(message: { [key: string]: unknown }): void {
    const method = message.method
    const id = message.id
    if (message[TAG] === 1 && !this.#decode(message, method, id)) return
    if (method === undefined) {
      this.#onResponse(message, id)
      this.#drainCheck()
    } else if (typeof method !== 'string') {
      this.#dispatcher.reject(isId(id) ? id : null, WireCode.InvalidRequest, 'Invalid request: method must be a string')
    } else if (id !== undefined && id !== null) {
      if (isId(id)) this.#onRequest(id, method, message.params, message.meta)
      else this.#dispatcher.reject(null, WireCode.InvalidRequest, 'Invalid request: id must be a string or a finite number')
    } else {
      this.#onNotification(method, message.params, message.meta)
    }
  }

  #onResponse(message: { [key: string]: unknown }, id: unknown): void {
    if (this.#state === 'connecting' && !this.#options.handshake) this.#open()
    // A reply to a heartbeat ping (a result, or a plain peer's -32601): its arrival was all it had to say.
    if (typeof id === 'string' && id.startsWith(PING_ID)) return
    const hasError = message.error !== undefined
    if ('result' in message && !hasError) {
      if (!this.#transactions.resolve(id, message.result)) this.#dropped++
      return
    }
    const call = this.#transactions.get(id)
    if (call === undefined) return void this.#dropped++
    const error = message.error
    // A malformed reply to a call we did make fails that call now rather than leaving it to its timeout.
    this.#transactions.reject(
      id,
      !('result' in message) && typeof error === 'object' && error !== null && !Array.isArray(error)
        ? fromErrorObject(error as ErrorObject, call.path)
        : new RpcError(`Malformed reply to "${call.path}": a JSON-RPC response needs exactly one of result and error (an object)`, ErrorCode.InvalidRequest),
    )
  }

  #onRequest(id: Id, method: string, params: unknown, meta: unknown): void {
    // A plain JSON-RPC peer proves it is there by calling us; a treerpc peer always says hello first.
    if (this.#state === 'connecting') this.#open()
    // The other side's heartbeat: answered here, never by a handler, and not subject to hooks or the pool.
    if (method === Method.Ping) return void this.#sendRaw({ jsonrpc: '2.0', id, result: true })
    const ownMeta = isRecord(meta) ? meta : undefined
    if (this.#hooks.beforeHandle.length > 0 && !this.#admit(id, method, params, ownMeta)) return
    this.#dispatcher.request(id, method, params, ownMeta)
  }

  #onNotification(method: string, params: unknown, meta?: unknown): void {
    switch (method) {
      case Method.Hello:
        return this.#onHello(params)
      case Method.Cancel:
      case Method.ForeignCancel: {
        const id = typeof params === 'object' && params !== null ? (params as { id?: unknown }).id : undefined
        if (isId(id)) this.#dispatcher.cancel(id, method === Method.ForeignCancel)
        return
      }
      case Method.Event:
        return this.#onEvent(params)
      case Method.Close:
        return this.#shutdown({ reason: 'the other side closed the channel' }, false)
      case Method.Flush:
        return
      case RefMethod.Release:
        return this.#refs.onRelease(params)
      case RefMethod.Pull:
        return this.#refs.onPull(params)
      case RefMethod.Items:
        return this.#refs.onItems(params)
      case RefMethod.Cancel:
        return this.#refs.onCancel(params)
    }
    if (this.#state === 'connecting') this.#open()
    // Unknown protocol notifications are ignored; LSP's `$/` ones are optional: they reach a handler
    // registered for them (`$/progress`), and are dropped quietly otherwise.
    if (method.startsWith('rpc.')) return void this.#dropped++
    const ownMeta = isRecord(meta) ? meta : undefined
    if (this.#hooks.beforeHandle.length > 0 && !this.#admit(undefined, method, params, ownMeta)) return
    this.#dispatcher.notification(method, params, method.startsWith('$/'), ownMeta)
  }

  /** Runs the `beforeHandle` hooks; false when one refused (the request is answered with its error). */
  #admit(id: Id | undefined, path: string, params: unknown, meta: Meta | undefined): boolean {
    const request: IncomingRequest = { id, path, args: Array.isArray(params) ? params : params === undefined ? [] : [params], meta }
    try {
      for (const hook of this.#hooks.beforeHandle) hook(request)
      return true
    } catch (error) {
      if (id !== undefined) this.#dispatcher.refuse(id, error)
      else this.#dropped++
      return false
    }
  }

  /**
   * Turns the tags of a message from a treerpc peer back into values (see codec.ts). False when they
   * cannot be read: the request is answered with -32602, the call awaiting this reply fails, a
   * notification is dropped with an 'error' event.
   */
  #decode(message: { [key: string]: unknown }, method: unknown, id: unknown): boolean {
    try {
      if (method === undefined) decodeReply(message, this.#refsOn)
      else message.params = decode(message.params, this.#refsOn)
      if (message.meta !== undefined) message.meta = decode(message.meta)
      return true
    } catch (error) {
      const why = `its values could not be decoded: ${messageOf(error)}`
      if (method === undefined) {
        const call = this.#transactions.get(id)
        if (call === undefined) this.#dropped++
        else this.#transactions.reject(id, new RpcError(`Malformed reply to "${call.path}": ${why}`, ErrorCode.InvalidRequest))
      } else if (isId(id)) {
        this.#dispatcher.reject(id, WireCode.InvalidParams, `Invalid params for "${clip(String(method))}": ${why}`)
      } else {
        this.#dropped++
        this.#error(new RpcError(`Notification "${clip(String(method))}" dropped: ${why}`, ErrorCode.InvalidParams))
      }
      return false
    }
  }

  #onHello(params: unknown): void {
    if (typeof params !== 'object' || params === null) return void this.#dropped++
    const hello = params as Partial<HelloParams>
    this.#treerpcPeer = true
    // Both ends share one channel: if the other end knows it structured-clones, so does this one.
    if (hello.clone === true) this.#jsonOnly = false
    this.#mode = modeOf(this.#jsonOnly, true)
    if (hello.ack !== true) this.#sendHello(true)
    // Batches go only to a peer that said it reads them (a treerpc peer of this version or later).
    this.#batching = hello.batch === true
    this.#open()
  }

  #onEvent(params: unknown): void {
    if (!Array.isArray(params) || typeof params[0] !== 'string' || LIFECYCLE_EVENTS.has(params[0])) return void this.#dropped++
    try {
      this.#events.emit.apply(this.#events, params as [string, ...unknown[]])
    } catch (error) {
      // A listener that throws is this side's problem, never the sender's.
      this.#error(error)
    }
  }

  /**
   * The one way a peer ends, in a fixed order: state, notice to the other side, pending calls,
   * queued and running handlers, the transport, then the local `close` event.
   */
  #shutdown(info: CloseInfo, notify: boolean): void {
    if (this.#state === 'closed') return
    // Whoever closes (the drain, its timeout, the other side), a drain in progress ends here.
    this.#endDrain?.()
    if (this.#connectTimer !== undefined) clearTimeout(this.#connectTimer)
    if (this.#heartbeatTimer !== undefined) clearInterval(this.#heartbeatTimer)
    const wasOpen = this.#state === 'open'
    if (notify && wasOpen) this.#sendRaw({ jsonrpc: '2.0', method: Method.Close })
    this.#state = 'closed'
    const error = new ChannelClosedError('Channel closed', info)
    this.#held = []
    this.#collectors.clear()
    this.#collecting = undefined
    this.#transactions.rejectAll(error)
    this.#dispatcher.close(error)
    this.#refs.close(error)
    if (!wasOpen) this.#rejectReady(error)
    // The close notice and whatever this turn queued go out before the channel is let go.
    this.#flush()
    try {
      this.#transport.close()
    } catch (closeError) {
      this.#error(closeError)
    }
    this.#events.emit('close', info)
  }
}

/** The replies owed to one batch from a plain JSON-RPC peer: sent together once every request is answered. */
class BatchReplies {
  replies: object[] = []
  /** Requests of the batch not answered yet. */
  waiting = 0
  /** The batch's elements have all been handed over (replies of synchronous handlers are in). */
  loopDone = false
  readonly #ids = new Map<Id, number>()

  expect(id: Id, collectors: Map<Id, BatchReplies>): void {
    this.waiting++
    this.#ids.set(id, (this.#ids.get(id) ?? 0) + 1)
    collectors.set(id, this)
  }

  answered(id: Id, collectors: Map<Id, BatchReplies>): void {
    const left = (this.#ids.get(id) ?? 0) - 1
    this.waiting--
    if (left > 0) return void this.#ids.set(id, left)
    this.#ids.delete(id)
    if (collectors.get(id) === this) collectors.delete(id)
  }
}

/** A send failure as the caller sees it: a transport's own RpcError (Busy, MessageTooLarge) passes through. */
function unsendable(message: string, cause: unknown): RpcError {
  if (cause instanceof UnsendableValue) return new RpcError(`${message}: ${cause.describe()}`, ErrorCode.Unsendable)
  if (cause instanceof RpcError) return cause
  return new RpcError(`${message}: ${messageOf(cause)}`, ErrorCode.Unsendable, { cause })
}

/**
 * How much params weigh in a batch (string lengths, 8 for any other primitive), or -1 when they hold
 * an object: objects can still change before a batch is serialized, so such a message goes at once.
 */
function weightOf(params: unknown): number {
  if (!Array.isArray(params)) return -1
  let weight = 0
  for (let i = 0; i < params.length; i++) {
    const value: unknown = params[i]
    if (typeof value === 'string') weight += value.length
    else if (typeof value === 'object' && value !== null) return -1
    else weight += 8
  }
  return weight
}

/**
 * The batch weight of a reply or protocol message built by treerpc that holds no object of the
 * application's (a primitive result, a protocol error, a cancel or close notice); -1 for any other.
 */
function ownMessageWeight(message: object): number {
  const m = message as { method?: unknown; result?: unknown; error?: { data?: unknown }; params?: unknown }
  if ('result' in m) return typeof m.result === 'string' ? m.result.length : typeof m.result !== 'object' || m.result === null ? 8 : -1
  if (m.error !== undefined) return m.error.data === undefined ? 64 : -1
  return typeof m.method === 'string' && m.method.startsWith('rpc.') && m.method !== Method.Event ? 32 : -1
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What is wrong with a call's options, if anything. */
function checkCallOptions(options: CallOptions<unknown>): RpcError | undefined {
  if (typeof options !== 'object' || options === null) return invalidArgument('options', 'an object', options)
  const { timeout, signal, callback, transfer } = options
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) return invalidArgument('options.timeout', 'a non-negative number of ms', timeout)
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) return invalidArgument('options.signal', 'an AbortSignal', signal)
  if (callback !== undefined && typeof callback !== 'function') return invalidArgument('options.callback', 'a function', callback)
  if (transfer !== undefined && !Array.isArray(transfer)) return invalidArgument('options.transfer', 'an array', transfer)
  if (options.meta !== undefined && !isRecord(options.meta)) return invalidArgument('options.meta', 'an object', options.meta)
  return undefined
}

/** Decodes the result, or the error's data, of a reply flagged as holding tags. */
function decodeReply(reply: { result?: unknown; error?: unknown }, refs: Refs | undefined): void {
  if ('result' in reply) reply.result = decode(reply.result, refs)
  const error = reply.error as { data?: unknown } | undefined
  if (typeof error === 'object' && error !== null && typeof error.data === 'object' && error.data !== null) {
    error.data = decodeFields(error.data as Record<string, unknown>)
  }
}

/**
 * Creates a peer over `transport`. `RemoteApi` is the type of what the other side exposes; `Events`,
 * optional, the events each way (see PeerEvents).
 */
export function createPeer<RemoteApi = unknown, Events extends PeerEvents = PeerEvents>(transport: Transport, options?: PeerOptions): Peer<RemoteApi, Events> {
  return new Peer<RemoteApi, Events>(transport, options)
}
