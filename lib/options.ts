import { checkBoolean, checkNonNegative, checkOneOf, checkOptions, checkPositiveInteger, invalidArgument } from './check.js'
import { MAX_TIMEOUT } from './deadlines.js'
import type { PeerHooks } from './hooks.js'
import type { Transport } from './transport.js'

/** Options of {@link createPeer}. Every field is optional; defaults are given per field. */
export interface PeerOptions {
  /** The API this side exposes: a nested object of functions (class instances too), any depth. */
  expose?: object
  /** Default timeout of solicited calls, in ms; 0 means none. Default 30000. */
  timeout?: number
  /** Most handlers running at once on this side; 1 runs them strictly one at a time. Default 256. */
  concurrency?: number
  /** Most incoming calls waiting for a handler slot; beyond it callers get BusyError. Default 16384. */
  maxQueue?: number
  /** Most outgoing calls awaiting a reply (plus messages held before the handshake). Default 65536. */
  maxPending?: number
  /**
   * Wait for the other side's `rpc.hello` before sending (default true). Set false to talk to a plain
   * JSON-RPC peer (vscode-jsonrpc, an LSP server) that never sends one; the peer is then open at once.
   */
  handshake?: boolean
  /**
   * Give up if the other side has not completed the handshake within this many ms: the peer closes,
   * `ready` and held calls reject with ChannelClosedError. Default 0 (wait as long as it takes) for
   * `createPeer`; `spawnChild`, `spawnWorker` and pools default to 30000. Infinity, like 0, waits.
   */
  connectTimeout?: number
  /** Interceptors: metadata, refusing requests, scrubbing errors, tracing messages. See {@link PeerHooks}; more with `peer.use()`. */
  hooks?: PeerHooks
  /** Peer-wide metadata for every outgoing call, notification and event (the same as `hooks.meta`). */
  meta?: PeerHooks['meta']
  /**
   * Sees every message sent (`'out'`) and received (`'in'`), for debugging (the same as `hooks.trace`);
   * `true` logs them with console.debug. Off by default, and then it costs nothing.
   */
  trace?: PeerHooks['trace'] | boolean
  /**
   * What a handler's error tells the other side: `'full'` (default) sends name, message, stack, code,
   * cause and custom fields; `'minimal'` only name, message and code (no stack, no fields): the safe
   * choice toward a less trusted side, such as an Electron main process answering a renderer.
   */
  errorDetail?: 'full' | 'minimal'
  /**
   * Notices a dead other side on channels that say nothing when it goes (see {@link HeartbeatOptions}):
   * `true` or an object turns it on, `false` off. Default: on (5000/10000 ms) where the transport
   * reports no close (a web MessagePort: Worker, iframe), off elsewhere.
   */
  heartbeat?: HeartbeatOptions | boolean
  /**
   * Most references (functions, `ref()` objects, streams) this side has sent and the other side not
   * yet released; past it, a call or result holding a new one fails with BusyError. Default 10000.
   */
  maxRefs?: number
  /** Items a stream's producer may run ahead of its consumer, on the consumer's side. Default 128. */
  streamWindow?: number
}

/**
 * The heartbeat: every `interval` ms, if nothing was received since the last look, the peer sends an
 * `rpc.ping` (any reply, even a plain JSON-RPC peer's -32601, counts). Once nothing at all has been
 * received for `timeout` ms (and a ping has had an interval to be answered), the peer closes: pending
 * calls reject with ChannelClosedError. While messages flow it sends nothing. The other side's
 * thread blocked longer than `timeout` (a long synchronous handler) is taken for dead.
 */
export interface HeartbeatOptions {
  /** How often to look, in ms. Default 5000, or half the `timeout` given. */
  interval?: number
  /** Silence after which the other side is taken for gone, in ms; at least `interval`. Default 10000, or twice the `interval` given. */
  timeout?: number
}

/** The heartbeat's settings when on. */
export interface Heartbeat {
  interval: number
  timeout: number
}

export const HEARTBEAT_DEFAULTS: Readonly<Heartbeat> = { interval: 5_000, timeout: 10_000 }

export interface ResolvedPeerOptions {
  errorDetail: 'full' | 'minimal'
  timeout: number
  concurrency: number
  maxQueue: number
  maxPending: number
  handshake: boolean
  /** 0 when the handshake may take as long as it takes (also for Infinity and delays no timer can hold). */
  connectTimeout: number
  /** False when off; undefined when left to the transport (on, with the defaults, where it reports no close). */
  heartbeat: Heartbeat | false | undefined
  maxRefs: number
  streamWindow: number
}

/**
 * Checks every option of {@link createPeer} (and the bag itself: an object or undefined) and fills in
 * the defaults. Throws RpcError `RPC_INVALID_ARGUMENT` naming the first wrong option, what it should
 * be and what it is. Pure: spawnChild, spawnWorker and connectParent call it before starting anything.
 */
export function resolvePeerOptions(options: PeerOptions | undefined): ResolvedPeerOptions {
  const { expose, timeout = 30_000, concurrency = 256, maxQueue = 16_384, maxPending = 65_536, handshake = true, connectTimeout = 0, hooks, errorDetail = 'full' } = checkOptions('options', options)
  if (hooks !== undefined && (typeof hooks !== 'object' || hooks === null)) throw invalidArgument('options.hooks', 'an object of hook functions', hooks)
  const { meta, trace, maxRefs = 10_000, streamWindow = 128 } = (options ?? {}) as PeerOptions
  checkPositiveInteger('options.maxRefs', maxRefs, true)
  checkPositiveInteger('options.streamWindow', streamWindow)
  if (meta !== undefined && typeof meta !== 'function') throw invalidArgument('options.meta', 'a function returning the metadata of a call', meta)
  if (trace !== undefined && typeof trace !== 'function' && typeof trace !== 'boolean') throw invalidArgument('options.trace', 'a function or true', trace)
  checkOneOf('options.errorDetail', errorDetail, ['full', 'minimal'])
  if (expose !== undefined && (typeof expose !== 'object' || expose === null || Array.isArray(expose))) {
    throw invalidArgument('options.expose', 'an object (the API: functions and nested objects of them)', expose)
  }
  // Longer timeouts than a timer can hold (Infinity included) mean none: here, and in lib/transactions.ts for calls.
  checkNonNegative('options.timeout', timeout, true)
  checkPositiveInteger('options.concurrency', concurrency, true)
  checkNonNegative('options.maxQueue', maxQueue, true)
  checkPositiveInteger('options.maxPending', maxPending, true)
  checkBoolean('options.handshake', handshake)
  checkNonNegative('options.connectTimeout', connectTimeout, true)
  const heartbeat = resolveHeartbeat((options ?? {}).heartbeat)
  return { timeout, concurrency, maxQueue, maxPending, handshake, connectTimeout: connectTimeout > MAX_TIMEOUT ? 0 : connectTimeout, errorDetail, heartbeat, maxRefs, streamWindow }
}

function resolveHeartbeat(value: PeerOptions['heartbeat']): Heartbeat | false | undefined {
  if (value === undefined) return undefined
  if (value === false) return false
  if (value === true) return { ...HEARTBEAT_DEFAULTS }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument('options.heartbeat', 'true, false or an object { interval, timeout }', value)
  const { interval, timeout } = value
  // Both are timer delays: a positive, finite number of ms a timer can hold.
  for (const [name, ms] of [['interval', interval], ['timeout', timeout]] as const) {
    if (ms !== undefined && (typeof ms !== 'number' || !(ms > 0) || ms > MAX_TIMEOUT)) {
      throw invalidArgument(`options.heartbeat.${name}`, `a positive number of ms (at most ${MAX_TIMEOUT})`, ms)
    }
  }
  const resolved: Heartbeat =
    interval === undefined && timeout === undefined
      ? { ...HEARTBEAT_DEFAULTS }
      : { interval: interval ?? timeout! / 2, timeout: timeout ?? Math.min(interval! * 2, MAX_TIMEOUT) }
  if (resolved.timeout < resolved.interval) throw invalidArgument('options.heartbeat.timeout', `at least options.heartbeat.interval (${resolved.interval} ms)`, resolved.timeout)
  return resolved
}

/** The transport given to createPeer: an object with send, onMessage, onClose and close functions. */
export function checkTransport(transport: unknown): asserts transport is Transport {
  const t = transport as Partial<Record<keyof Transport, unknown>> | null | undefined
  const ok = typeof t === 'object' && t !== null && ['send', 'onMessage', 'onClose', 'close'].every((key) => typeof t[key as keyof Transport] === 'function')
  if (!ok) throw invalidArgument('transport', 'a Transport (an object with send, onMessage, onClose and close methods)', transport)
}
