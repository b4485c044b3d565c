import { invalidArgument } from './check.js'
import { ErrorCode, RpcError } from './errors.js'
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
   * `createPeer`; `spawnChild`, `spawnWorker` and pools default to 30000.
   */
  connectTimeout?: number
}

export interface ResolvedPeerOptions {
  timeout: number
  concurrency: number
  maxQueue: number
  maxPending: number
  handshake: boolean
  connectTimeout: number
}

export function resolvePeerOptions(options: PeerOptions): ResolvedPeerOptions {
  const resolved = {
    timeout: options.timeout ?? 30_000,
    concurrency: options.concurrency ?? 256,
    maxQueue: options.maxQueue ?? 16_384,
    maxPending: options.maxPending ?? 65_536,
    handshake: options.handshake ?? true,
    connectTimeout: options.connectTimeout ?? 0,
  }
  nonNegative('timeout', resolved.timeout)
  nonNegative('maxQueue', resolved.maxQueue)
  nonNegative('connectTimeout', resolved.connectTimeout)
  if (!(resolved.concurrency >= 1) || (!Number.isInteger(resolved.concurrency) && resolved.concurrency !== Infinity)) {
    throw new RpcError(`options.concurrency must be a positive integer or Infinity, got ${String(resolved.concurrency)}`, ErrorCode.InvalidArgument)
  }
  if (!(resolved.maxPending >= 1)) {
    throw new RpcError(`options.maxPending must be a positive number, got ${String(resolved.maxPending)}`, ErrorCode.InvalidArgument)
  }
  return resolved
}

function nonNegative(name: string, value: unknown): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new RpcError(`options.${name} must be a non-negative number, got ${String(value)}`, ErrorCode.InvalidArgument)
  }
}

/** The transport given to createPeer: an object with send, onMessage, onClose and close functions. */
export function checkTransport(transport: unknown): asserts transport is Transport {
  const t = transport as Partial<Record<keyof Transport, unknown>> | null | undefined
  const ok = typeof t === 'object' && t !== null && ['send', 'onMessage', 'onClose', 'close'].every((key) => typeof t[key as keyof Transport] === 'function')
  if (!ok) throw invalidArgument('transport', 'a Transport (an object with send, onMessage, onClose and close methods)', transport)
}
