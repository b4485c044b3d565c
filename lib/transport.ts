import type { CloseInfo } from './errors.js'

/**
 * Something the channel can move instead of copying: an ArrayBuffer or a MessagePort. (Typed as
 * ArrayBufferLike so that `bytes.buffer` is accepted; a SharedArrayBuffer is shared, never transferred.)
 */
export type Transferable = ArrayBufferLike | { postMessage(message: unknown): void }

/**
 * The one interface between the engine and a channel. A transport moves message objects; it knows
 * nothing of calls, paths or ids. Each channel (memory pair, Worker, child process, stream...) is one
 * small class implementing it.
 *
 * Contract:
 * - `send` delivers in order or throws synchronously (e.g. a DataCloneError for an unsendable value,
 *   which then fails only the one call that carried it). After close it is a no-op.
 * - `onMessage` / `onClose` are set once, by the peer that owns the transport, before any delivery.
 * - The close listener fires exactly once, whoever closed the channel (this side, the other side, or
 *   the process or thread at the other end dying), with what is known of why.
 * - `close` is idempotent, releases every listener and handle the transport holds, and does not by
 *   itself kill a process or thread.
 */
export interface Transport {
  send(message: unknown, transfer?: readonly Transferable[]): void
  onMessage(listener: (message: unknown) => void): void
  onClose(listener: (info: CloseInfo) => void): void
  close(): void
  /**
   * For transports that queue before serializing (IPC under back-pressure): reports a message that
   * `send` accepted but that failed later, so that the call that sent it fails instead of waiting.
   */
  onSendError?(listener: (message: unknown, error: unknown) => void): void
  /** Present on channels that can block the calling thread until a reply (worker_threads): used by `callSync`. */
  readonly blocking?: BlockingChannel
  /** Optional facts about the channel the engine may use. */
  readonly capabilities?: TransportCapabilities
}

export interface TransportCapabilities {
  /** True when values are structured-cloned (Map, Date, typed arrays survive); false for JSON. */
  readonly structuredClone?: boolean
  /** True when transfer lists are honoured (ArrayBuffers move instead of being copied). */
  readonly transfer?: boolean
  /**
   * False when the channel says nothing when the other side goes away (a web MessagePort: Chromium
   * fires no `close` when a worker is terminated or an iframe removed). The peer then runs a
   * heartbeat by default, so that pending calls still end.
   */
  readonly reportsClose?: boolean
  /**
   * True when the channel can drop a call that waits too long before it reaches a handler (a broker's
   * per-message expiry): requests then carry `ttl`, the call's timeout in ms, for the transport to take off.
   */
  readonly expiry?: boolean
  /**
   * False when nothing can call back through this channel to the side that sent a value (a broker:
   * the member that runs a call has no channel of its own to the caller). Functions, `ref()` objects
   * and streams are then unsendable, as toward a plain JSON-RPC peer.
   */
  readonly references?: boolean
}

/** A way to send a request and block until its reply: worker_threads only (SharedArrayBuffer + Atomics). */
export interface BlockingChannel {
  /** Sends `request` and blocks until the reply with its id arrives, or `timeout` ms pass (0: no limit). */
  request(request: { jsonrpc: '2.0'; id: number; method: string; params: unknown[] }, timeout: number): { id: unknown } | undefined
}
