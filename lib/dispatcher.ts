import { encode, Encoded, type Mode, TAG, UnsendableValue } from './codec.js'
import { enterContext, Incoming } from './context.js'
import { clip, kindOf, messageOf } from './describe.js'
import { toErrorObject } from './error-wire.js'
import { BusyError, ErrorCode, MethodNotFoundError, RpcError } from './errors.js'
import { HandlerPool } from './handler-pool.js'
import { type ArgsValidator, type Handler, isValidPath, Namespace } from './namespace.js'
import { type Id, WireCode } from './protocol.js'
import { type Checked, checkParams, ParamsRefusal } from './schema.js'
import type { Meta } from './hooks.js'
import type { Transferable } from './transport.js'
import { RefMethod, type Refs } from './refs.js'

/** What the dispatcher needs from its peer. */
export interface DispatcherHost {
  /** Sends a reply; returns the send error, or undefined when it went out (or the peer is closed). */
  send(message: object, transfer?: readonly Transferable[]): unknown
  /** Reports a problem that has no caller to reject (a notification handler that threw...). */
  error(error: unknown): void
  /** Counts a message that was ignored. */
  drop(): void
  /** A handler ended (its reply, if any, is sent). */
  finished(): void
  /** True once the peer is closed: replies are no longer sent. */
  isClosed(): boolean
  /** How values are written for the other side (see codec.ts). */
  mode(): Mode
  /** What to send for a handler's error (the `beforeSendError` hooks), and whether to send it whole. */
  scrub(error: unknown, entry: Incoming): unknown
  /** Send only name, message and code of handler errors (`errorDetail: 'minimal'`). */
  minimalErrors(): boolean
}

/**
 * The receiving side of a peer: resolves incoming requests and notifications against the namespace,
 * runs their handlers through the bounded pool, replies, and honours cancels. It never sees the
 * transport; replies go through its host.
 */
export class Dispatcher {
  readonly namespace = new Namespace()
  readonly #host: DispatcherHost
  readonly #pool: HandlerPool<Incoming>
  /** Requests queued or running asynchronously, by the caller's id: what a cancel can reach. */
  readonly #inbound = new Map<Id, Incoming>()
  #fallback: Handler | undefined

  /** What crosses by reference (refs.ts): exported functions and objects are called through `rpc.ref.<id>...`; undefined where the channel carries none. */
  readonly #refs: Refs | undefined

  constructor(host: DispatcherHost, concurrency: number, maxQueue: number, refs?: Refs) {
    this.#host = host
    this.#refs = refs
    this.#pool = new HandlerPool(concurrency, maxQueue, (entry) => this.#run(entry))
  }

  get active(): number {
    return this.#pool.active
  }

  get queued(): number {
    return this.#pool.queued
  }

  setFallback(fn: ((path: string, args: unknown[]) => unknown) | undefined): void {
    this.#fallback = fn === undefined ? undefined : { fn: fn as Handler['fn'], self: undefined }
  }

  request(id: Id, method: string, params: unknown, meta?: Meta): void {
    const args = toArgs(params)
    if (args === undefined) return this.reject(id, WireCode.InvalidParams, `Invalid params for "${clip(method)}": expected an array or an object`)
    if (this.#inbound.has(id)) return this.reject(id, WireCode.InvalidRequest, `Invalid request: id ${clip(JSON.stringify(id))} is already in flight`)
    const handler = this.#resolve(method)
    if (handler === undefined) return this.reject(id, WireCode.MethodNotFound, `Method not found: "${clip(method)}"`)
    if (handler.validate !== undefined) {
      const refusal = validate(handler.validate, args)
      if (refusal !== undefined) return this.reject(id, WireCode.InvalidParams, `Invalid params for "${clip(method)}": ${refusal}`)
    }
    const entry = new Incoming(id, method, handler === this.#fallback ? [method, args] : args, handler, meta)
    if (!this.#pool.submit(entry)) {
      return this.reject(id, WireCode.Busy, `Busy: ${this.#pool.active} handlers running and ${this.#pool.queued} queued (maxQueue reached) on the other side; "${clip(method)}" was not run`)
    }
    // Queued, or running asynchronously: from now on a cancel can reach it. (A synchronous handler has
    // already replied: it never enters the table.)
    if (!entry.finished) this.#inbound.set(id, entry)
  }

  /** An incoming notification. `optional` ones (LSP's `$/...`) nobody handles are dropped without an error event. */
  notification(method: string, params: unknown, optional = false, meta?: Meta): void {
    const args = toArgs(params)
    const handler = args === undefined ? undefined : this.#resolve(method)
    if (handler === undefined || args === undefined) {
      this.#host.drop()
      if (optional) return
      return this.#host.error(new MethodNotFoundError(`Notification "${clip(method)}" has no handler`, clip(method)))
    }
    const refusal = handler.validate === undefined ? undefined : validate(handler.validate, args)
    if (refusal !== undefined) {
      this.#host.drop()
      return this.#host.error(new RpcError(`Invalid params for notification "${clip(method)}": ${refusal}`, ErrorCode.InvalidParams))
    }
    const entry = new Incoming(undefined, method, handler === this.#fallback ? [method, args] : args, handler, meta)
    if (!this.#pool.submit(entry)) {
      this.#host.drop()
      this.#host.error(new BusyError(`Notification "${clip(method)}" dropped: the handler pool and its queue are full`))
    }
  }

  /** The caller gave up on request `id`: a queued call never runs, a running one sees its signal abort. */
  cancel(id: Id, foreign: boolean): void {
    const entry = this.#inbound.get(id)
    if (entry === undefined || entry.cancelled) return
    entry.cancelled = true
    entry.foreignCancel = foreign
    if (!entry.started) {
      this.#pool.drop(entry)
      this.#inbound.delete(id)
      if (foreign) this.reject(id, WireCode.RequestCancelled, 'Request cancelled')
    } else {
      entry.abort(new RpcError(`Call "${entry.path}" was cancelled by the caller`, ErrorCode.Cancelled))
    }
  }

  /** The channel closed: queued handlers are dropped, running ones see their signal abort with `error`. */
  close(error: unknown): void {
    this.#pool.clear()
    for (const entry of this.#inbound.values()) entry.abort(error)
    this.#inbound.clear()
  }

  /** Replies to request `id` with `thrown` as a handler error would be (a `beforeHandle` hook refused it). */
  refuse(id: Id, thrown: unknown): void {
    const { error, tagged } = toErrorObject(thrown, this.#host.mode(), this.#host.minimalErrors())
    this.#host.send(tagged ? { jsonrpc: '2.0', id, error, [TAG]: 1 } : { jsonrpc: '2.0', id, error })
  }

  /** Replies to `id` with a protocol error. */
  reject(id: Id | null, code: number, message: string): void {
    if (id === null) this.#host.drop()
    this.#host.send({ jsonrpc: '2.0', id, error: { code, message } })
  }

  #resolve(method: string): Handler | undefined {
    const handler = this.namespace.get(method)
    if (handler !== undefined) return handler
    if (method.startsWith(RefMethod.Prefix)) return this.#refs?.resolve(method)
    // The fallback takes unknown paths, never a path inside a handler (`fn.call`, `fn.bind`...).
    if (this.#fallback !== undefined && !method.startsWith('rpc.') && isValidPath(method) && !this.namespace.isInsideHandler(method)) return this.#fallback
    return undefined
  }

  #run(entry: Incoming): void {
    entry.started = true
    // Handlers without a params schema pay one property read; a synchronous schema adds no microtask.
    const schema = entry.handler.params
    if (schema === undefined) return this.#start(entry, entry.args)
    const checked = checkParams(schema, entry.args, entry.path, entry.id === undefined)
    if (!(checked instanceof Promise)) return this.#checked(entry, checked)
    // checkParams never rejects; the handler starts only once the schema has answered, in this same slot.
    checked.then((outcome) => this.#checked(entry, outcome), (error) => this.#finish(entry, false, error))
  }

  /** After the params schema: runs the handler with its output, or answers with the refusal. */
  #checked(entry: Incoming, outcome: Checked): void {
    // Cancelled, or the channel closed, while an async schema ran: the handler never starts, and
    // #finish frees the slot and answers as for any cancelled call (or not at all once closed).
    if (entry.cancelled || this.#host.isClosed()) return this.#finish(entry, true, undefined)
    if (Array.isArray(outcome)) return this.#start(entry, outcome)
    // A schema that misbehaved (a result that is not one, an output that is not an argument array) is
    // this side's bug: answered as a handler error would be.
    if (!(outcome instanceof ParamsRefusal)) return this.#finish(entry, false, outcome)
    if (entry.id === undefined) {
      // A refused notification is dropped; #finish reports the refusal as the receiver's 'error' event.
      this.#host.drop()
      return this.#finish(entry, false, outcome)
    }
    // The refusal is a protocol reply (-32602 with the issues as data), like a `validate` refusal: no
    // beforeSendError hook sees it. Marked answered (cancelled), so that #finish only frees the slot.
    const error = { code: WireCode.InvalidParams, message: outcome.message, data: outcome.data }
    if (this.#host.send({ jsonrpc: '2.0', id: entry.id, error }) !== undefined) this.reject(entry.id, WireCode.InvalidParams, outcome.message)
    entry.cancelled = true
    this.#finish(entry, true, undefined)
  }

  /** Runs the handler with `args` in the slot `entry` holds. */
  #start(entry: Incoming, args: unknown[]): void {
    const previous = enterContext(entry)
    let result: unknown
    try {
      result = entry.handler.fn.apply(entry.handler.self, args)
    } catch (error) {
      enterContext(previous)
      return this.#finish(entry, false, error)
    }
    enterContext(previous)
    // Looking at the result runs code of the handler's (a `then` getter, Proxy traps): it may throw too.
    try {
      if (isThenable(result)) {
        result.then((value) => this.#finish(entry, true, value), (error) => this.#finish(entry, false, error))
        return
      }
    } catch (error) {
      return this.#finish(entry, false, error)
    }
    this.#finish(entry, true, result)
  }

  /** Replies and frees the slot, whatever the outcome holds. Never throws (it may run in a promise callback). */
  #finish(entry: Incoming, ok: boolean, value: unknown): void {
    if (entry.finished) return // a misbehaving thenable settled twice
    entry.finished = true
    try {
      this.#reply(entry, ok, value)
    } catch (error) {
      // Only a bug of ours gets here: the slot is still freed below, and the caller still answered.
      if (entry.id !== undefined) this.#host.send({ jsonrpc: '2.0', id: entry.id, error: { code: WireCode.InternalError, message: `Internal error while replying: ${messageOf(error)}` } })
      this.#host.error(error)
    }
    this.#pool.release()
    try {
      this.#host.finished()
    } catch (error) {
      this.#host.error(error)
    }
  }

  #reply(entry: Incoming, ok: boolean, value: unknown): void {
    const id = entry.id
    if (id === undefined) {
      if (!ok) this.#host.error(value)
      return
    }
    this.#inbound.delete(id)
    if (this.#host.isClosed()) return
    if (entry.cancelled) {
      if (entry.foreignCancel) this.reject(id, WireCode.RequestCancelled, 'Request cancelled')
      return
    }
    const mode = this.#host.mode()
    if (ok) {
      let result = value
      let transfer: readonly Transferable[] | undefined
      let tagged = false
      if (value === undefined && mode.json && !mode.tags) {
        // JSON-RPC requires `result` and JSON has no undefined: a plain peer gets null.
        result = null
      } else {
        try {
          const encoded = encode(value, mode, this.#refs)
          if (encoded instanceof Encoded) ({ value: result, tagged, transfer } = encoded)
        } catch (error) {
          if (error instanceof BusyError) return this.reject(id, WireCode.Busy, `Result of "${clip(entry.path)}" could not be sent: ${error.message}`)
          return this.reject(id, WireCode.Unsendable, `Result of "${clip(entry.path)}" could not be sent: ${unsendableText(error, 'result')}`)
        }
      }
      const failure = this.#host.send(tagged ? { jsonrpc: '2.0', id, result, [TAG]: 1 } : { jsonrpc: '2.0', id, result }, transfer)
      if (failure !== undefined) {
        this.reject(id, WireCode.Unsendable, `Result of "${clip(entry.path)}" (${kindOf(value)}) could not be sent: ${messageOf(failure)}`)
      }
    } else {
      const { error, tagged } = toErrorObject(this.#host.scrub(value, entry), mode, this.#host.minimalErrors())
      if (this.#host.send(tagged ? { jsonrpc: '2.0', id, error, [TAG]: 1 } : { jsonrpc: '2.0', id, error }) !== undefined) {
        this.reject(id, WireCode.HandlerError, `Handler "${clip(entry.path)}" failed with an error that could not be sent: ${messageOf(value)}`)
      }
    }
  }
}

/** The text of an encoding failure: where the value sits and why it cannot be sent. */
export function unsendableText(error: unknown, where: string): string {
  if (!(error instanceof UnsendableValue)) return messageOf(error)
  error.where = where
  return error.describe()
}

/** Runs a validator; returns why it refused, or undefined when the arguments pass. */
function validate(validator: ArgsValidator, args: unknown[]): string | undefined {
  try {
    return validator(args) === false ? 'refused by the validator' : undefined
  } catch (error) {
    return messageOf(error)
  }
}

function toArgs(params: unknown): unknown[] | undefined {
  if (params === undefined) return []
  if (Array.isArray(params)) return params
  if (typeof params === 'object' && params !== null) return [params]
  return undefined
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && (value instanceof Promise || typeof (value as { then?: unknown }).then === 'function')
}
