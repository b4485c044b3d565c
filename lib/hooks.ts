import { invalidArgument } from './check.js'
import type { Id } from './protocol.js'

/**
 * Metadata of a call, sent beside its arguments (JSON-RPC member `meta`): a W3C `traceparent`, an
 * auth token, a tenant... The handler reads it with `callContext().meta`. Values cross like
 * arguments do.
 */
export type Meta = Record<string, unknown>

/** A call, notification or event about to go out, as `beforeCall` sees it. */
export interface OutgoingCall {
  readonly path: string
  readonly args: readonly unknown[]
  /** `'call'` expects a reply; `'notify'` and `'emit'` (path: the event name) do not. */
  readonly kind: 'call' | 'notify' | 'emit'
  /** The meta that will be sent: the peer's `meta()`, then the call's own `meta` over it. Replace it to change what is sent. */
  meta: Meta | undefined
}

/** A request or notification that arrived, as `beforeHandle` and `beforeSendError` see it. */
export interface IncomingRequest {
  /** The request id; undefined for a notification. */
  readonly id: Id | undefined
  readonly path: string
  readonly args: readonly unknown[]
  readonly meta: Meta | undefined
}

/**
 * Interceptors: `createPeer(t, { hooks })` or `peer.use(hooks)` (each `use` adds; hooks run in the
 * order they were added). A peer without hooks pays nothing for them.
 */
export interface PeerHooks {
  /** Peer-wide metadata for every outgoing call, notification and event (`traceparent`...). */
  meta?(path: string): Meta | undefined
  /** Runs before a call, notification or event goes out; may replace `call.meta`; throwing refuses it (the call rejects with that error, notify and emit throw it). */
  beforeCall?(call: OutgoingCall): void
  /**
   * Runs when a request or notification arrives, before its handler (or validator) runs. Throwing
   * refuses it: the caller gets the thrown error (its `code` kept, say `E_FORBIDDEN`) and the
   * handler never runs; a refused notification is dropped. Synchronous, so that order is kept.
   */
  beforeHandle?(request: IncomingRequest): void
  /** Runs when a handler's error is about to be sent: returns what to send instead (scrubbing). */
  beforeSendError?(error: unknown, request: IncomingRequest): unknown
  /** Sees every message this side sends (`'out'`) and receives (`'in'`), for debugging. */
  trace?(direction: 'in' | 'out', message: unknown): void
}

/** The hooks of a peer, by kind: empty lists cost one length check. */
export class Hooks {
  readonly meta: NonNullable<PeerHooks['meta']>[] = []
  readonly beforeCall: NonNullable<PeerHooks['beforeCall']>[] = []
  readonly beforeHandle: NonNullable<PeerHooks['beforeHandle']>[] = []
  readonly beforeSendError: NonNullable<PeerHooks['beforeSendError']>[] = []
  readonly trace: NonNullable<PeerHooks['trace']>[] = []
  /** True when any outgoing hook is set: the send path then builds an OutgoingCall. */
  outgoing = false

  add(hooks: PeerHooks): void {
    for (const key of ['meta', 'beforeCall', 'beforeHandle', 'beforeSendError', 'trace'] as const) {
      const hook = hooks[key]
      if (hook === undefined) continue
      if (typeof hook !== 'function') throw invalidArgument(`hooks.${key}`, 'a function', hook)
      ;(this[key] as unknown[]).push(hook.bind(hooks))
    }
    this.outgoing = this.meta.length > 0 || this.beforeCall.length > 0
  }

  /** The meta to send for an outgoing call (peer-wide, then the call's own over it), after beforeCall. Throws to refuse. */
  outgoingMeta(path: string, args: readonly unknown[], kind: OutgoingCall['kind'], own: Meta | undefined): Meta | undefined {
    let meta: Meta | undefined
    for (const hook of this.meta) {
      const more = hook(path)
      if (more !== undefined) meta = { ...meta, ...more }
    }
    if (own !== undefined) meta = meta === undefined ? own : { ...meta, ...own }
    if (this.beforeCall.length === 0) return meta
    const call: OutgoingCall = { path, args, kind, meta }
    for (const hook of this.beforeCall) hook(call)
    return call.meta
  }

  traceMessage(direction: 'in' | 'out', message: unknown): void {
    for (const hook of this.trace) {
      try {
        hook(direction, message)
      } catch {
        // A tracer must never break the channel.
      }
    }
  }
}
