import { markRef, type RefCodec, type StubKind, UnsendableValue } from './codec.js'
import { enterContext } from './context.js'
import { messageOf } from './describe.js'
import { BusyError, ChannelClosedError, ErrorCode, RpcError, TimeoutError } from './errors.js'
import { type Handler, Namespace } from './namespace.js'
import { createRemoteProxy } from './proxy.js'
import type { Ref } from './types.js'

/**
 * References: functions, `ref()` objects and streams that cross as stubs (docs/PROTOCOL.md
 * "References"). Each side keeps what it exported (by id, with how many times it was sent) and what
 * it imported (by the other side's id, with how many times it was received, and a weak reference to
 * its stub). A stub released by `release()`, `Symbol.dispose`, the garbage collector or the channel
 * closing tells the exporter how many of its sends it gives back; the export goes when none is left.
 */

/** Marks `value` (a plain object or a class instance) to cross by reference: the receiver gets a stub whose methods call it here. */
export function ref<T extends object>(value: T): Ref<T> {
  if (typeof value !== 'object' || value === null) throw new RpcError('ref() needs an object', ErrorCode.InvalidArgument)
  markRef(value)
  return value as Ref<T>
}

/** Frees a stub received from the other side (a function, a `ref()` object or a stream); calls through it then reject with RPC_RELEASED. Idempotent. */
export function release(stub: unknown): void {
  if ((typeof stub === 'object' && stub !== null) || typeof stub === 'function') STUBS.get(stub)?.release()
}

/** Each stub's import, for `release()`. */
const STUBS = new WeakMap<object, Imported>()

export const RefMethod = {
  /** `rpc.ref.<id>` calls the exported function; `rpc.ref.<id>.<path>` a method of the exported object. */
  Prefix: 'rpc.ref.',
  /** `{ refs: [[id, count], ...] }`: the sender gives back `count` sends of each export. */
  Release: 'rpc.release',
  /** `{ id, credit }`: the consumer takes `credit` more items. */
  Pull: 'rpc.stream.pull',
  /** `{ id, items, done? }` or `{ id, error }`: items, the end, or the producer's error. */
  Items: 'rpc.stream.items',
  /** `{ id }`: the consumer stopped; the producer's `return()` runs. */
  Cancel: 'rpc.stream.cancel',
} as const

/** What the references need from their peer. */
export interface RefHost {
  /** Calls a protocol path (`rpc.ref.<id>...`) like any call. */
  call(method: string, args: unknown[]): Promise<unknown>
  /** Sends a protocol notification; its params are encoded (items may hold any value, stubs too). */
  notify(method: string, params: object): void
  isOpen(): boolean
}

export interface RefOptions {
  /** Most references exported at once; a value beyond it fails its call with BusyError. */
  maxRefs: number
  /** Items a stream's producer may run ahead of its consumer. */
  window: number
  /** How long a stream's consumer waits for each item, in ms (0: no limit). */
  timeout: number
}

interface Exported {
  readonly id: number
  readonly value: object
  readonly kind: StubKind
  /** Sends not yet given back. */
  count: number
  /** What an object exposes (read once, with the rules of `expose`). */
  namespace?: Namespace
  producer?: Producer
}

interface Imported {
  readonly id: number
  readonly kind: StubKind
  /** Receipts not yet given back. */
  count: number
  released: boolean
  stub: WeakRef<object>
  consumer?: Consumer
  release(): void
}

export class Refs implements RefCodec {
  readonly #host: RefHost
  readonly #options: RefOptions
  readonly #exports = new Map<number, Exported>()
  readonly #exportIds = new Map<object, number>()
  readonly #imports = new Map<number, Imported>()
  readonly #registry = new FinalizationRegistry<Imported>((entry) => this.#collected(entry))
  #next = 0
  #releases: [number, number][] = []
  #closed: Error | undefined

  constructor(host: RefHost, options: RefOptions) {
    this.#host = host
    this.#options = options
  }

  get exported(): number {
    return this.#exports.size
  }

  get imported(): number {
    return this.#imports.size
  }

  // ---- exporting -------------------------------------------------------------------------------

  /** Exports made so far, in order (a journal for {@link rollback}; trimmed whenever it is back to 0 length use). */
  readonly #journal: number[] = []

  get exports(): number {
    return this.#journal.length
  }

  rollback(since: number): void {
    while (this.#journal.length > since) {
      const entry = this.#exports.get(this.#journal.pop()!)
      if (entry === undefined) continue
      entry.count--
      if (entry.count <= 0) {
        this.#unexport(entry)
        entry.producer?.stop(new RpcError('never sent', ErrorCode.Unsendable))
      }
    }
  }

  export(value: object, kind: StubKind): unknown {
    if (this.#closed !== undefined) throw this.#closed
    if (kind === 'fn' || kind === 'obj') {
      const known = this.#exportIds.get(value)
      if (known !== undefined) {
        this.#exports.get(known)!.count++
        this.#record(known)
        return [kind, known]
      }
    }
    if (this.#exports.size >= this.#options.maxRefs) {
      throw new BusyError(`${this.#exports.size} references are already exported (options.maxRefs): ${ARTICLES[kind]} ${KIND_NAMES[kind]} cannot be sent until some are released`)
    }
    const id = ++this.#next
    const entry: Exported = { id, value, kind, count: 1 }
    if (kind === 'obj') {
      entry.namespace = new Namespace()
      entry.namespace.expose('', value)
      this.#exportIds.set(value, id)
    } else if (kind === 'fn') {
      this.#exportIds.set(value, id)
    } else {
      entry.producer = new Producer(this, id, value, kind)
    }
    this.#exports.set(id, entry)
    this.#record(id)
    return [kind, id]
  }

  /** Only the exports of the encoding in progress are kept: the journal is emptied on the next turn. */
  #record(id: number): void {
    if (this.#journal.length === 0) queueMicrotask(() => (this.#journal.length = 0))
    this.#journal.push(id)
  }

  /** The handler of `rpc.ref.<id>[.<path>]`, or undefined (released, never exported, or not exposed). */
  resolve(method: string): Handler | undefined {
    const rest = method.slice(RefMethod.Prefix.length)
    const dot = rest.indexOf('.')
    const entry = this.#exports.get(Number(dot === -1 ? rest : rest.slice(0, dot)))
    if (entry === undefined) return undefined
    if (entry.kind === 'fn') return dot === -1 ? { fn: entry.value as Handler['fn'], self: undefined } : undefined
    return dot === -1 || entry.namespace === undefined ? undefined : entry.namespace.get(rest.slice(dot + 1))
  }

  /** `rpc.release`: the other side gives back sends of what this side exported. */
  onRelease(params: unknown): void {
    const refs = (params as { refs?: unknown } | null)?.refs
    if (!Array.isArray(refs)) return
    for (const pair of refs) {
      if (!Array.isArray(pair)) continue
      const [id, count] = pair as [unknown, unknown]
      const entry = typeof id === 'number' ? this.#exports.get(id) : undefined
      if (entry === undefined || typeof count !== 'number' || entry.kind === 'iter' || entry.kind === 'stream') continue
      entry.count -= count
      if (entry.count <= 0) this.#unexport(entry)
    }
  }

  /** @internal the producer of a stream ended (done, error, cancelled). */
  unexportStream(id: number): void {
    const entry = this.#exports.get(id)
    if (entry !== undefined) this.#unexport(entry)
  }

  #unexport(entry: Exported): void {
    this.#exports.delete(entry.id)
    if (this.#exportIds.get(entry.value) === entry.id) this.#exportIds.delete(entry.value)
  }

  onPull(params: unknown): void {
    const { id, credit } = (params ?? {}) as { id?: unknown; credit?: unknown }
    const producer = typeof id === 'number' ? this.#exports.get(id)?.producer : undefined
    if (producer !== undefined && typeof credit === 'number' && credit > 0) producer.grant(Math.min(credit, this.#options.window))
  }

  onCancel(params: unknown): void {
    const id = (params as { id?: unknown } | null)?.id
    const producer = typeof id === 'number' ? this.#exports.get(id)?.producer : undefined
    producer?.stop(new RpcError('The consumer stopped the stream', ErrorCode.Cancelled))
  }

  /** @internal */
  get host(): RefHost {
    return this.#host
  }

  // ---- importing -------------------------------------------------------------------------------

  import(payload: unknown): unknown {
    if (!Array.isArray(payload) || typeof payload[1] !== 'number' || !KINDS.has(payload[0])) throw new Error('a malformed stub')
    const [kind, id] = payload as [StubKind, number]
    const known = this.#imports.get(id)
    const alive = known?.stub.deref()
    if (known !== undefined && alive !== undefined && !known.released) {
      known.count++
      return alive
    }
    const entry: Imported = {
      id,
      kind,
      count: 1,
      released: false,
      stub: undefined as unknown as WeakRef<object>,
      release: () => this.#releaseImport(entry),
    }
    let stub: object
    if (kind === 'fn') {
      // Once the channel is closed, a call through any stub fails as any call does: ChannelClosedError.
      stub = (...args: unknown[]) => (entry.released && this.#closed === undefined ? Promise.reject(released(entry)) : this.#host.call(`${RefMethod.Prefix}${id}`, args))
      if (DISPOSE !== undefined) Object.defineProperty(stub, DISPOSE, { value: entry.release })
    } else if (kind === 'obj') {
      stub = createRemoteProxy(
        (path, args) => (entry.released && this.#closed === undefined ? Promise.reject(released(entry)) : this.#host.call(path === '' ? `${RefMethod.Prefix}${id}` : `${RefMethod.Prefix}${id}.${path}`, args)),
        entry.release,
      ) as object
    } else {
      const consumer = new Consumer(this, id, this.#options)
      entry.consumer = consumer
      stub = kind === 'stream' ? consumer.readable() : consumer.iterable(entry.release)
    }
    entry.stub = new WeakRef(stub)
    STUBS.set(stub, entry)
    this.#registry.register(stub, entry, entry)
    this.#imports.set(id, entry)
    if (this.#closed !== undefined) entry.consumer?.fail(this.#closed)
    return stub
  }

  onItems(params: unknown): void {
    const { id } = (params ?? {}) as { id?: unknown }
    const consumer = typeof id === 'number' ? this.#imports.get(id)?.consumer : undefined
    consumer?.receive(params as ItemsParams)
  }

  /** @internal a stream consumer is done with its import (end, error, cancel, timeout). */
  endImport(id: number): void {
    const entry = this.#imports.get(id)
    if (entry === undefined) return
    entry.released = true
    this.#imports.delete(id)
    this.#registry.unregister(entry)
  }

  #collected(entry: Imported): void {
    if (!entry.released) this.#releaseImport(entry)
  }

  #releaseImport(entry: Imported): void {
    if (entry.released) return
    entry.released = true
    this.#registry.unregister(entry)
    if (this.#imports.get(entry.id) === entry) this.#imports.delete(entry.id)
    if (this.#closed !== undefined) return
    if (entry.consumer !== undefined) return entry.consumer.cancel()
    // Releases of one turn go out as one message.
    if (this.#releases.length === 0) queueMicrotask(this.#flushReleases)
    this.#releases.push([entry.id, entry.count])
  }

  readonly #flushReleases = (): void => {
    const refs = this.#releases
    this.#releases = []
    if (refs.length > 0 && this.#host.isOpen()) this.#host.notify(RefMethod.Release, { refs })
  }

  /** The channel closed: every export is dropped (streams stopped), every import released (streams failed). */
  close(error: Error): void {
    if (this.#closed !== undefined) return
    this.#closed = error
    for (const entry of this.#exports.values()) entry.producer?.stop(error)
    this.#exports.clear()
    this.#exportIds.clear()
    for (const entry of this.#imports.values()) {
      entry.released = true
      this.#registry.unregister(entry)
      entry.consumer?.fail(error)
    }
    this.#imports.clear()
  }
}

const DISPOSE: symbol | undefined = (Symbol as { dispose?: symbol }).dispose

const KINDS: ReadonlySet<unknown> = new Set(['fn', 'obj', 'iter', 'stream'])
const KIND_NAMES: Record<StubKind, string> = { fn: 'function', obj: 'ref() object', iter: 'async iterable', stream: 'ReadableStream' }
const ARTICLES: Record<StubKind, string> = { fn: 'a', obj: 'a', iter: 'an', stream: 'a' }

function released(entry: Imported): RpcError {
  return new RpcError(`The ${KIND_NAMES[entry.kind]} stub #${entry.id} was released: it can no longer be called`, ErrorCode.Released)
}

/** The producer's error, sent as a value (the value encoding carries an Error whole: name, message, stack, code, cause, fields). */
function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown
  return new RpcError(`The stream's producer failed: ${messageOf(thrown)}`, ErrorCode.Remote)
}

interface ItemsParams {
  id: number
  items?: unknown[]
  done?: boolean
  error?: unknown
}

/** Runs callbacks after the current macrotask (a burst of items then goes as one message). */
const later: (fn: () => void) => void = typeof setImmediate === 'function' ? (fn) => void setImmediate(fn) : (fn) => void setTimeout(fn, 0)

/** Most items in one `rpc.stream.items` message. */
const CHUNK = 256

/**
 * The exporting side of a stream: pulls from the iterator only while the consumer has given credit,
 * so it is never more than `window` items ahead; sends what it pulled in chunks.
 */
class Producer {
  readonly #refs: Refs
  readonly #id: number
  readonly #source: object
  readonly #kind: StubKind
  readonly #controller = new AbortController()
  #iterator: AsyncIterator<unknown> | undefined
  #credit = 0
  #pumping = false
  #buffer: unknown[] = []
  #flushing = false
  #ended = false

  constructor(refs: Refs, id: number, source: object, kind: StubKind) {
    this.#refs = refs
    this.#id = id
    this.#source = source
    this.#kind = kind
  }

  grant(credit: number): void {
    if (this.#ended) return
    this.#credit += credit
    if (!this.#pumping) void this.#pump()
  }

  stop(reason: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#controller.abort(reason)
    this.#refs.unexportStream(this.#id)
    const iterator = this.#iterator
    if (iterator?.return !== undefined) {
      // The generator's `finally` runs; what it throws has no one to go to.
      Promise.resolve()
        .then(() => iterator.return!())
        .catch(() => undefined)
    } else if (this.#kind === 'stream' && iterator === undefined) {
      ;(this.#source as ReadableStream).cancel(reason).catch(() => undefined)
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true
    try {
      this.#iterator ??= this.#open()
      while (this.#credit > 0 && !this.#ended) {
        this.#credit--
        // The generator body runs with the stream's own signal as its callContext().
        const previous = enterContext({ id: undefined, path: `${RefMethod.Prefix}${this.#id}`, signal: this.#controller.signal, meta: undefined })
        let next: Promise<IteratorResult<unknown>>
        try {
          next = Promise.resolve(this.#iterator.next())
        } finally {
          enterContext(previous)
        }
        const result = await next
        if (this.#ended) return
        if (result.done === true) return this.#finish({ done: true })
        this.#buffer.push(result.value)
        if (this.#buffer.length >= CHUNK) this.#flush()
        else if (!this.#flushing) {
          this.#flushing = true
          later(() => {
            this.#flushing = false
            if (!this.#ended) this.#flush()
          })
        }
      }
    } catch (error) {
      if (!this.#ended) this.#finish({ error: asError(error) })
    } finally {
      this.#pumping = false
    }
  }

  #open(): AsyncIterator<unknown> {
    const source = this.#source as { [Symbol.asyncIterator](): AsyncIterator<unknown> }
    return source[Symbol.asyncIterator]()
  }

  #flush(extra?: { done?: true; error?: unknown }): void {
    const items = this.#buffer
    this.#buffer = []
    if (items.length === 0 && extra === undefined) return
    if (!this.#refs.host.isOpen()) return
    try {
      this.#refs.host.notify(RefMethod.Items, { id: this.#id, items, ...extra })
    } catch {
      // An item that cannot be sent ends the stream with that error, at the consumer, after the items
      // before it (sent one by one, to find it).
      for (const item of items) {
        try {
          this.#refs.host.notify(RefMethod.Items, { id: this.#id, items: [item] })
        } catch (error) {
          const unsendable = new RpcError(`An item of stream #${this.#id} could not be sent: ${error instanceof UnsendableValue ? ((error.where = 'item'), error.describe()) : messageOf(error)}`, ErrorCode.Unsendable)
          this.#refs.host.notify(RefMethod.Items, { id: this.#id, items: [], error: unsendable })
          return this.stop(unsendable)
        }
      }
      if (extra !== undefined) this.#refs.host.notify(RefMethod.Items, { id: this.#id, items: [], ...extra })
    }
  }

  #finish(end: { done?: true; error?: unknown }): void {
    this.#flush(end)
    this.#ended = true
    this.#refs.unexportStream(this.#id)
  }
}

/**
 * The importing side of a stream: an async iterator that asks for `window` items at first, then for
 * more as each half window is consumed. Each `next()` waits at most `timeout` for its item.
 */
class Consumer {
  readonly #refs: Refs
  readonly #id: number
  readonly #window: number
  readonly #timeout: number
  #buffer: unknown[] = []
  #head = 0
  #waiting: { resolve(result: IteratorResult<unknown>): void; reject(error: unknown): void; timer?: ReturnType<typeof setTimeout> } | undefined
  #started = false
  #consumed = 0
  #end: { done: true } | { error: unknown } | undefined

  constructor(refs: Refs, id: number, options: RefOptions) {
    this.#refs = refs
    this.#id = id
    this.#window = options.window
    this.#timeout = options.timeout
  }

  iterable(release: () => void): AsyncIterableIterator<unknown> {
    const iterator: AsyncIterableIterator<unknown> & { [Symbol.asyncDispose]?: () => Promise<void> } = {
      next: () => this.next(),
      return: async (value?: unknown) => {
        release()
        return { done: true, value }
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }

  readable(): ReadableStream<unknown> {
    return new ReadableStream({
      pull: async (controller) => {
        const result = await this.next()
        if (result.done === true) controller.close()
        else controller.enqueue(result.value)
      },
      cancel: () => {
        this.cancel()
      },
    }, { highWaterMark: 0 })
  }

  next(): Promise<IteratorResult<unknown>> {
    if (this.#waiting !== undefined) return Promise.reject(new RpcError('next() was called before the previous one settled', ErrorCode.InvalidState))
    if (this.#head < this.#buffer.length) return Promise.resolve(this.#take())
    if (this.#end !== undefined) return 'done' in this.#end ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(this.#end.error)
    if (!this.#started) {
      this.#started = true
      this.#grant(this.#window)
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject }
      if (this.#timeout > 0) {
        this.#waiting.timer = setTimeout(() => {
          const error = new TimeoutError(`No item of stream #${this.#id} within ${this.#timeout} ms; the stream was cancelled`, `${RefMethod.Prefix}${this.#id}`, this.#timeout)
          this.#settle(undefined, error)
          this.cancel()
        }, this.#timeout)
      }
    })
  }

  receive(params: ItemsParams): void {
    if (this.#end !== undefined) return
    if (Array.isArray(params.items)) for (const item of params.items) this.#buffer.push(item)
    if (params.error !== undefined) this.#end = { error: asError(params.error) }
    else if (params.done === true) this.#end = { done: true }
    if (this.#end !== undefined) this.#refs.endImport(this.#id)
    if (this.#waiting === undefined) return
    if (this.#head < this.#buffer.length) this.#settle(this.#take())
    else if (this.#end !== undefined) 'done' in this.#end ? this.#settle({ done: true, value: undefined }) : this.#settle(undefined, this.#end.error)
  }

  /** The consumer stopped (break, return(), release, its stub collected, a timeout). */
  cancel(): void {
    if (this.#end !== undefined) return
    this.#end = { done: true }
    this.#buffer = []
    this.#head = 0
    this.#refs.endImport(this.#id)
    if (this.#refs.host.isOpen()) this.#refs.host.notify(RefMethod.Cancel, { id: this.#id })
    this.#settle({ done: true, value: undefined })
  }

  fail(error: Error): void {
    if (this.#end !== undefined) return
    this.#end = { error: error instanceof ChannelClosedError ? error : new ChannelClosedError(`Stream #${this.#id} ended`, { reason: messageOf(error) }) }
    this.#settle(undefined, this.#end.error)
  }

  #take(): IteratorResult<unknown> {
    const value = this.#buffer[this.#head]
    this.#buffer[this.#head++] = undefined
    if (this.#head === this.#buffer.length) {
      this.#buffer = []
      this.#head = 0
    }
    // Credit goes back by half windows: the producer stays at most one window ahead.
    if (++this.#consumed >= this.#window / 2 && this.#end === undefined) {
      this.#grant(this.#consumed)
      this.#consumed = 0
    }
    return { done: false, value }
  }

  #grant(credit: number): void {
    if (this.#refs.host.isOpen()) this.#refs.host.notify(RefMethod.Pull, { id: this.#id, credit })
  }

  #settle(result: IteratorResult<unknown> | undefined, error?: unknown): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    this.#waiting = undefined
    if (waiting.timer !== undefined) clearTimeout(waiting.timer)
    if (result !== undefined) waiting.resolve(result)
    else waiting.reject(error)
  }
}
