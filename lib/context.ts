import { ErrorCode, RpcError } from './errors.js'
import type { Meta } from './hooks.js'
import type { Id } from './protocol.js'
import type { Handler } from './namespace.js'
import type { PoolItem } from './handler-pool.js'

/** What a handler can know about the call it is serving. Read it with {@link callContext}. */
export interface CallContext {
  /** The request id, or undefined for a notification (`peer.notify`). */
  readonly id: Id | undefined
  /** The dot path that was called. */
  readonly path: string
  /** Aborted when the caller cancels or times out, or when the channel closes. */
  readonly signal: AbortSignal
  /** The call's metadata (`peer.call(path, args, { meta })`, the caller's `meta` hook), if any. */
  readonly meta: Meta | undefined
}

/** @internal An incoming request or notification, from arrival to its reply. */
export class Incoming implements CallContext, PoolItem {
  dropped = false
  /** A handler slot was given to it. */
  started = false
  /** Its handler returned or threw; later settlements of a misbehaving thenable are ignored. */
  finished = false
  /** The caller gave up: the reply is discarded (or, for LSP peers, replaced by RequestCancelled). */
  cancelled = false
  /** Cancelled with `$/cancelRequest`: the peer expects a RequestCancelled reply. */
  foreignCancel = false
  #controller: AbortController | undefined
  #abortReason: unknown

  constructor(
    readonly id: Id | undefined,
    readonly path: string,
    readonly args: unknown[],
    readonly handler: Handler,
    readonly meta: Meta | undefined = undefined,
  ) {}

  // Most handlers never look at their signal, so the AbortController is made on first use.
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason)
    }
    return this.#controller.signal
  }

  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return
    this.#abortReason = reason
    this.#controller?.abort(reason)
  }
}

let current: CallContext | undefined

/** @internal Makes `context` readable through {@link callContext}; returns the one to restore. */
export function enterContext(context: CallContext | undefined): CallContext | undefined {
  const previous = current
  current = context
  return previous
}

/**
 * The context of the call being served: its `id`, `path` and `signal`.
 *
 * Call it synchronously at the start of a handler, before any `await` (as with React hooks): the
 * context is kept for the synchronous part of the handler only, so that it needs no async tracking
 * and works on every platform. Keep the returned object for later use.
 *
 * ```ts
 * async function download(url: string) {
 *   const { signal } = callContext()
 *   return (await fetch(url, { signal })).text()
 * }
 * ```
 * @throws RpcError (`RPC_INVALID_ARGUMENT`) outside a handler's synchronous start.
 */
export function callContext(): CallContext {
  if (current === undefined) {
    throw new RpcError('callContext() must be called synchronously inside a treerpc handler, before any await', ErrorCode.InvalidArgument)
  }
  return current
}
