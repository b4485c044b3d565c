import { kindOf, messageOf } from './describe.js'
import { hasMarks, takeMark } from './transfer.js'
import type { Transferable } from './transport.js'

/**
 * The value encoding: what makes a value sent arrive as itself, or fail at once naming where it sits.
 * See docs/PROTOCOL.md, "Values".
 *
 * Every argument, result, event argument and error field passes through {@link encode} before it is
 * sent. Plain data (what JSON carries exactly, or what structured clone carries exactly) is checked
 * by a fast scan and sent untouched. Anything else is rewritten by the {@link Encoder}: values the
 * channel cannot carry become tagged objects `{ "$t": <tag>, "v": <payload> }` that the other treerpc
 * peer turns back ({@link decode}); a message holding any tag says so with a top-level `"$t": 1`, so
 * a receiver walks only messages that need it. Plain JSON-RPC peers never see a tag: to them values go
 * as JSON, and what JSON would silently change fails instead.
 */

/** How values must be written for the other side. */
export interface Mode {
  /** The channel serializes with JSON (json IPC, streams), not structured clone. */
  readonly json: boolean
  /** The other side is a treerpc peer (it said hello), so tags may be used. */
  readonly tags: boolean
}

export const Modes = {
  cloneTreerpc: { json: false, tags: true },
  cloneForeign: { json: false, tags: false },
  jsonTreerpc: { json: true, tags: true },
  jsonForeign: { json: true, tags: false },
} as const satisfies Record<string, Mode>

export function modeOf(json: boolean, tags: boolean): Mode {
  return json ? (tags ? Modes.jsonTreerpc : Modes.jsonForeign) : tags ? Modes.cloneTreerpc : Modes.cloneForeign
}

/**
 * What crosses by reference between treerpc peers (see refs.ts): functions, objects marked with
 * `ref()`, async iterables and ReadableStreams. The encoder hands each to `export` and writes the
 * `stub` tag with what it returns; the decoder hands the tag's payload to `import`.
 */
export interface RefCodec {
  export(value: object, kind: StubKind): unknown
  import(payload: unknown): unknown
  /** Exports made since the last call are undone (an encoding that failed sends none of them). */
  rollback(since: number): void
  /** A point to roll back to. */
  readonly exports: number
}

export type StubKind = 'fn' | 'obj' | 'iter' | 'stream'

/** Objects marked with `ref()`: sent as stubs (their methods callable), never as data. */
export const refMarks = new WeakSet<object>()
let anyRefMarks = false

/** Marks `value` to cross by reference (see `ref()` in refs.ts). */
export function markRef(value: object): void {
  refMarks.add(value)
  anyRefMarks = true
}

/** What kind of stub `value` crosses as, or undefined when it is data. Never throws. */
export function stubKindOf(value: object): StubKind | undefined {
  if (typeof value === 'function') return 'fn'
  if (anyRefMarks && refMarks.has(value)) return 'obj'
  const Stream = (globalThis as { ReadableStream?: abstract new () => object }).ReadableStream
  if (Stream !== undefined && value instanceof Stream) return 'stream'
  try {
    if (typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function') return 'iter'
  } catch {
    // a throwing getter: data, which the encoder reports
  }
  return undefined
}

/** The member of a tagged object naming its type; also, with value 1, the member of a message holding tags. */
export const TAG = '$t'
/** Deepest nesting encoded or decoded: every recursive walk is bounded. */
export const MAX_DEPTH = 1000
/** Errors nested in errors (cause chains) beyond this depth lose their `cause` and `errors`. */
const MAX_ERROR_NESTING = 16
/** Nesting the fast scan follows before handing over to the encoder (which also catches cycles). */
const SCAN_DEPTH = 64

/** A value that cannot be sent; `path` says where it sits below the value being encoded. */
export class UnsendableValue extends Error {
  readonly path: (string | number)[] = []
  /** What the path starts from: `args`, `params`, `result`. */
  where = 'value'
  constructor(readonly reason: string) {
    super(reason)
  }

  /** `args[0].items[3].f: a function cannot be sent` (a very deep path is shortened in the middle). */
  describe(): string {
    const path = this.path
    const shown = path.length <= 16 ? path : [...path.slice(0, 6), `…${path.length - 14} levels…`, ...path.slice(-8)]
    let at = this.where
    for (const key of shown) {
      if (typeof key === 'number') at += `[${key}]`
      else if (key.startsWith('<') || key.startsWith('…')) at += key // <Map value>, <Set value>, …n levels…
      else at += /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key.slice(0, 60))}]`
    }
    return `${at}: ${this.reason}`
  }
}

/** The result of encoding a value that could not be sent as it was. */
export class Encoded {
  constructor(
    readonly value: unknown,
    /** The value holds tags: the message must carry `"$t": 1`. */
    readonly tagged: boolean,
    /** ArrayBuffers and ports marked with `transfer()` anywhere inside, to move (clone channels). */
    readonly transfer: Transferable[] | undefined,
  ) {}
}

const UNDEFINED = new Encoded({ [TAG]: 'u' }, true, undefined)
const OBJECT_PROTO = Object.prototype

/**
 * Prepares `value` for a channel in `mode`. Returns `value` itself when it can be sent as it is (the
 * usual case, checked without allocating), else an {@link Encoded}. Throws {@link UnsendableValue}.
 */
export function encode(value: unknown, mode: Mode, refs?: RefCodec): unknown {
  if (typeof value === 'object' && value !== null) {
    // The scan takes the transfer() marks it meets (a getter it runs may encode too: keep the outer list).
    const outer = scanned
    scanned = undefined
    try {
      if (scan(value, !mode.json, 0)) return scanned === undefined ? value : new Encoded(value, false, mode.json ? undefined : scanned)
      return encodeSlowly(value, mode, scanned, refs)
    } finally {
      scanned = outer
    }
  } else if (isPlainPrimitive(value, !mode.json)) {
    return value
  } else if (value === undefined && mode.tags) {
    return UNDEFINED
  }
  return encodeSlowly(value, mode, undefined, refs)
}

function encodeSlowly(value: unknown, mode: Mode, marked: Transferable[] | undefined, refs: RefCodec | undefined): Encoded {
  const encoder = new Encoder(mode, refs)
  // Marks the scan took before it gave up are the encoder's to send (it will not meet them again).
  if (marked !== undefined && !mode.json) encoder.transfer = marked
  const since = refs?.exports ?? 0
  try {
    const out = encoder.value(value, 0)
    return new Encoded(out, encoder.tagged, encoder.transfer)
  } catch (error) {
    refs?.rollback(since)
    throw error
  }
}

/** What transfer() marks the current scan met (and took). */
let scanned: Transferable[] | undefined

function isPlainPrimitive(value: unknown, clone: boolean): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      // JSON writes NaN and Infinity as null and -0 as 0.
      return clone || (value - value === 0 && (value !== 0 || 1 / value > 0))
    case 'undefined':
    case 'bigint':
      return clone
    case 'object':
      return value === null
    default:
      return false
  }
}

/**
 * True when `value` (an object) can be sent untouched: plain objects and arrays of plain values, and
 * on clone channels the built-ins structured clone carries exactly. Allocates nothing; anything it
 * is unsure of (cycles, deep nesting, marked transfers, other classes) goes to the encoder.
 */
function scan(value: object, clone: boolean, depth: number): boolean {
  if (depth > SCAN_DEPTH) return false
  if (hasMarks()) {
    const marked = takeMark(value)
    if (marked !== undefined) (scanned ??= []).push(...marked)
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item === 'object' && item !== null) {
        if (!scan(item, clone, depth + 1)) return false
      } else if (!isPlainPrimitive(item, clone)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto === OBJECT_PROTO || proto === null) {
    if (anyRefMarks && refMarks.has(value)) return false
    for (const key in value) {
      const item: unknown = (value as Record<string, unknown>)[key]
      if (typeof item === 'object' && item !== null) {
        if (!scan(item, clone, depth + 1)) return false
      } else if (!isPlainPrimitive(item, clone)) return false
    }
    // An own "$t" member would read as a tag: such objects are escaped by the encoder.
    return (value as Record<string, unknown>)[TAG] === undefined
  }
  if (!clone) return false
  if (ArrayBuffer.isView(value)) return true
  switch (tagOf(value)) {
    case 'Date':
    case 'RegExp':
    case 'ArrayBuffer':
    case 'SharedArrayBuffer':
    case 'Boolean':
    case 'Number':
    case 'String':
    case 'BigInt':
    case 'Blob':
    case 'File':
      return true
    case 'Map':
      for (const [key, item] of value as Map<unknown, unknown>) {
        if (!scanItem(key, clone, depth) || !scanItem(item, clone, depth)) return false
      }
      return true
    case 'Set':
      for (const item of value as Set<unknown>) if (!scanItem(item, clone, depth)) return false
      return true
    default:
      // Errors (whose fields structured clone drops), URLs (which it empties), class instances and
      // everything else: the encoder decides.
      return false
  }
}

function scanItem(item: unknown, clone: boolean, depth: number): boolean {
  return typeof item === 'object' && item !== null ? scan(item, clone, depth + 1) : isPlainPrimitive(item, clone)
}

function tagOf(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1)
}

/** Typed arrays by tag name: a fixed table, never a lookup on globalThis with a wire-supplied name. */
const VIEWS: Record<string, new (buffer: ArrayBuffer) => ArrayBufferView> = Object.assign(Object.create(null), {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
})

/** Error classes revived by name; any other name becomes an Error with that name. */
const ERRORS: Record<string, ErrorConstructor> = Object.assign(Object.create(null), {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
})

/** Error members read explicitly: they are own but not enumerable. */
const ERROR_OWN = ['code', 'cause', 'errors'] as const

/**
 * Rewrites a value that the fast scan could not pass. Every object gets a number at its first visit
 * (pre-order); a later visit to the same object writes `{ $t: 'ref', v: n }` on JSON channels, so
 * shared and cyclic structures arrive with the same shape. On clone channels the rewritten object is
 * reused instead, and structured clone keeps the sharing.
 */
export class Encoder {
  tagged = false
  transfer: Transferable[] | undefined
  /** Objects seen: their number (JSON with tags), their copy (clone), or `true` while on the current path (plain JSON). */
  readonly #seen = new Map<object, unknown>()
  /** Objects registered, in order: an object's number is its position (after `#base`). */
  readonly #order: object[] = []
  readonly #base = 0
  /** How many errors deep the encoder is (cause chains are bounded). */
  #errorNesting = 0

  constructor(
    readonly mode: Mode,
    /** Where functions, `ref()` objects and streams go (treerpc peers only); without it they are unsendable. */
    readonly refs?: RefCodec,
  ) {}

  /** Registers `original` as written by the caller as `out` (a thrown error as its `data`): object number 0. */
  root(original: object, out: object): void {
    this.#register(original, out)
  }

  /** A point to roll back to when one error field turns out to be unsendable (only that field is dropped). */
  save(): number {
    return this.#order.length
  }

  rollback(saved: number): void {
    while (this.#order.length > saved) this.#seen.delete(this.#order.pop()!)
  }

  value(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value
      case 'number':
        if (!this.mode.json || (value - value === 0 && (value !== 0 || 1 / value > 0))) return value
        if (this.mode.tags) return this.#tag('num', Object.is(value, -0) ? '-0' : String(value))
        if (value === 0) return 0
        throw new UnsendableValue(`${value} cannot be sent as JSON to a plain JSON-RPC peer`)
      case 'undefined':
        if (!this.mode.json) return value
        if (this.mode.tags) return this.#tag('u', undefined)
        throw new UnsendableValue('undefined cannot be sent as JSON to a plain JSON-RPC peer (outside an object member, which is left out)')
      case 'bigint':
        if (!this.mode.json) return value
        if (this.mode.tags) return this.#tag('bigint', value.toString())
        throw new UnsendableValue('a bigint cannot be sent as JSON to a plain JSON-RPC peer')
      case 'object':
        return value === null ? null : this.#object(value, depth)
      case 'function':
        // As an object: numbered like one, so that a function met twice is one stub.
        if (this.refs !== undefined && this.mode.tags) return this.#object(value, depth)
        throw new UnsendableValue(`${kindOf(value)} cannot be sent${this.mode.tags ? '' : ' to a plain JSON-RPC peer'}`)
      default:
        throw new UnsendableValue(`${kindOf(value)} cannot be sent`)
    }
  }

  /** Encodes a member; a failure below gets `key` prepended to its path. */
  #child(value: unknown, key: string | number, depth: number): unknown {
    try {
      return this.value(value, depth + 1)
    } catch (error) {
      throw located(error, key)
    }
  }

  #tag(tag: string, payload: unknown): object {
    this.tagged = true
    return payload === undefined ? { [TAG]: tag } : { [TAG]: tag, v: payload }
  }

  /** Numbers the object (JSON with tags), records its copy (clone) or marks it as on the path (plain JSON). */
  #register(original: object, out: unknown): void {
    this.#seen.set(original, this.mode.json ? (this.mode.tags ? this.#base + this.#order.length : true) : out)
    this.#order.push(original)
  }

  #object(value: object, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new UnsendableValue(`nested deeper than ${MAX_DEPTH} levels`)
    const { json, tags } = this.mode
    const seen = this.#seen.get(value)
    if (seen !== undefined) {
      if (!json) return seen
      if (tags) return this.#tag('ref', seen)
      throw new UnsendableValue('a cycle (the value contains itself) cannot be sent as JSON to a plain JSON-RPC peer')
    }
    if (hasMarks()) {
      const marked = takeMark(value)
      if (marked !== undefined && !json) (this.transfer ??= []).push(...marked)
    }
    const out = this.#build(value, depth)
    // Plain JSON allows sharing (a DAG is written twice), not cycles: only the current path is kept.
    if (json && !tags) this.#seen.delete(value)
    return out
  }

  #build(value: object, depth: number): unknown {
    const { json, tags } = this.mode
    if (this.refs !== undefined && tags && !Array.isArray(value)) {
      const kind = stubKindOf(value)
      if (kind !== undefined) return this.#registered(value, true, () => this.#tag('stub', this.refs!.export(value, kind)))
    }
    if (Array.isArray(value)) {
      const out: unknown[] = new Array(value.length)
      this.#register(value, out)
      for (let i = 0; i < value.length; i++) out[i] = this.#child(value[i], i, depth)
      return out
    }
    const proto = Object.getPrototypeOf(value)
    if (proto === OBJECT_PROTO || proto === null) return this.#members(value, depth)
    if (json && !tags && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      // What JSON.stringify does, and what a plain JSON-RPC peer expects (a Date as its ISO string).
      return this.value((value as { toJSON(): unknown }).toJSON(), depth + 1)
    }
    if (ArrayBuffer.isView(value)) return this.#binary(value, value.constructor === DataView ? 'DataView' : tagOf(value))
    const tag = tagOf(value)
    switch (tag) {
      case 'Object':
        // A class instance: its own enumerable members, as structured clone and JSON both do.
        return this.#members(value, depth)
      case 'Date':
        if (!json) return this.#leaf(value)
        return this.#registered(value, tags, () => this.#tag('Date', Number.isNaN((value as Date).getTime()) ? null : (value as Date).getTime()))
      case 'RegExp':
        if (!json) return this.#leaf(value)
        return this.#registered(value, tags, () => this.#tag('RegExp', [(value as RegExp).source, (value as RegExp).flags]))
      case 'ArrayBuffer':
        return this.#binary(value as ArrayBuffer, 'ArrayBuffer')
      case 'SharedArrayBuffer':
      case 'Blob':
      case 'File':
        if (!json) return this.#leaf(value)
        throw new UnsendableValue(`${kindOf(value)} can only cross structured-clone channels (workers, MessagePorts, advanced IPC)`)
      case 'Boolean':
      case 'Number':
      case 'String':
      case 'BigInt':
        if (!json) return this.#leaf(value)
        return this.#registered(value, tags, () => this.#tag('Box', this.value((value as { valueOf(): unknown }).valueOf(), depth + 1)))
      case 'Map':
        return this.#map(value as Map<unknown, unknown>, depth)
      case 'Set':
        return this.#set(value as Set<unknown>, depth)
      case 'Error':
        if (!tags) return json ? this.#foreignError(value as Error, depth) : this.#leaf(value)
        return this.#error(value as Error, depth)
      case 'URL':
        if (tags) return this.#registered(value, true, () => this.#tag('URL', (value as URL).href))
        break
    }
    throw new UnsendableValue(`${kindOf(value)} cannot be sent${tags ? '' : ' to a plain JSON-RPC peer'}`)
  }

  #leaf(value: object): object {
    this.#register(value, value)
    return value
  }

  /** Registers `value`, then builds its tag (or, for plain JSON peers, fails). */
  #registered(value: object, tags: boolean, build: () => object): object {
    if (!tags) throw new UnsendableValue(`${kindOf(value)} cannot be sent as JSON to a plain JSON-RPC peer`)
    const out = {}
    this.#register(value, out)
    return Object.assign(out, build())
  }

  #members(value: object, depth: number): object {
    const { json, tags } = this.mode
    const out: Record<string, unknown> = {}
    const escape = tags && Object.hasOwn(value, TAG)
    this.#register(value, escape ? { [TAG]: 'Object', v: out } : out)
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key]
      // JSON's optional members: an undefined member is left out for plain JSON peers.
      if (item === undefined && json && !tags) continue
      setMember(out, key, this.#child(item, key, depth))
    }
    if (!escape) return out
    this.tagged = true
    return json ? { [TAG]: 'Object', v: out } : (this.#seen.get(value) as object)
  }

  #binary(value: ArrayBufferView | ArrayBuffer, tag: string): unknown {
    if (!this.mode.json) return this.#leaf(value)
    return this.#registered(value, this.mode.tags, () => {
      const bytes = ArrayBuffer.isView(value) ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(value as ArrayBuffer)
      return this.#tag(tag, toBase64(bytes))
    })
  }

  #map(value: Map<unknown, unknown>, depth: number): unknown {
    const { json, tags } = this.mode
    if (!json) {
      const out = new Map()
      this.#register(value, out)
      for (const [key, item] of value) out.set(this.#child(key, '<Map key>', depth), this.#child(item, '<Map value>', depth))
      return out
    }
    if (!tags) throw new UnsendableValue('a Map cannot be sent as JSON to a plain JSON-RPC peer')
    const pairs: unknown[] = []
    const out = this.#tag('Map', pairs)
    this.#register(value, out)
    for (const [key, item] of value) pairs.push([this.#child(key, '<Map key>', depth), this.#child(item, '<Map value>', depth)])
    return out
  }

  #set(value: Set<unknown>, depth: number): unknown {
    const { json, tags } = this.mode
    if (!json) {
      const out = new Set()
      this.#register(value, out)
      for (const item of value) out.add(this.#child(item, '<Set value>', depth))
      return out
    }
    if (!tags) throw new UnsendableValue('a Set cannot be sent as JSON to a plain JSON-RPC peer')
    const items: unknown[] = []
    const out = this.#tag('Set', items)
    this.#register(value, out)
    for (const item of value) items.push(this.#child(item, '<Set value>', depth))
    return out
  }

  /** An Error as a tag: name, message, stack, code, cause, errors and own fields, each encoded. */
  #error(value: Error, depth: number): object {
    const fields: Record<string, unknown> = {}
    const out = this.#tag('Error', fields)
    this.#register(value, out)
    this.errorFields(value, fields, depth)
    return out
  }

  /**
   * Writes the fields of an error into `fields`. A field that cannot be sent (or whose getter throws)
   * is left out alone, never the whole error. Never throws.
   */
  errorFields(error: object, fields: Record<string, unknown>, depth: number): void {
    const keys = new Set<string>(['name', 'message', 'stack'])
    const nested = this.#errorNesting >= MAX_ERROR_NESTING
    for (const key of ERROR_OWN) if (safeHasOwn(error, key)) keys.add(key)
    for (const key of safeKeys(error)) keys.add(key)
    if (nested) {
      keys.delete('cause')
      keys.delete('errors')
    }
    this.#errorNesting++
    for (const key of keys) {
      const saved = this.save()
      try {
        const item = (error as Record<string, unknown>)[key]
        if (key === 'name' || key === 'message' || key === 'stack') {
          if (typeof item === 'string') fields[key] = item
          continue
        }
        if (item === undefined && !this.mode.tags) continue
        setMember(fields, key, this.#child(item, key, depth))
      } catch {
        this.rollback(saved)
      }
    }
    this.#errorNesting--
  }

  /** An Error for a plain JSON peer: its fields as a plain object (serialize-error's shape). */
  #foreignError(value: Error, depth: number): object {
    const fields: Record<string, unknown> = {}
    this.#register(value, fields)
    this.errorFields(value, fields, depth)
    return fields
  }
}

/** Prepends `key` to the path of an UnsendableValue; anything else thrown (a getter, a revoked Proxy) becomes one. */
function located(error: unknown, key: string | number): Error {
  // Too many references exported (BusyError from refs.ts): that error, as it is, fails the call.
  if (error instanceof Error && (error as { code?: unknown }).code === 'RPC_BUSY') return error
  const unsendable = error instanceof UnsendableValue ? error : new UnsendableValue(`reading it threw: ${messageOf(error)}`)
  unsendable.path.unshift(key)
  return unsendable
}

/** Defines rather than assigns `__proto__`, which as an assignment would set the prototype. */
function setMember(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  else target[key] = value
}

function safeHasOwn(value: object, key: string): boolean {
  try {
    return Object.hasOwn(value, key)
  } catch {
    return false
  }
}

function safeKeys(value: object): string[] {
  try {
    return Object.keys(value)
  } catch {
    return []
  }
}

// ---- decoding -------------------------------------------------------------------------------------

/** A tagged value that could not be decoded (a hostile or broken peer). */
export class UndecodableValue extends Error {}

/** Turns the tags in a received value back into values. Mutates `value`'s containers in place. */
export function decode(value: unknown, refs?: RefCodec): unknown {
  return new Decoder(refs).value(value, 0)
}

/** Names that a revived error never gets as own fields: they would shadow Object.prototype or Error members. */
export const UNSAFE_FIELDS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'then', 'toJSON'])

class Decoder {
  constructor(readonly refs?: RefCodec) {}

  /** Objects by their number (pre-order), for `ref` tags. */
  readonly #objects: object[] = []
  /** Containers and tags already decoded: shared and cyclic ones (clone channels) are decoded once. */
  readonly #done = new Map<object, unknown>()

  value(value: unknown, depth: number): unknown {
    if (typeof value !== 'object' || value === null) return value
    if (depth > MAX_DEPTH) throw new UndecodableValue(`nested deeper than ${MAX_DEPTH} levels`)
    if (this.#done.has(value)) return this.#done.get(value)
    if (Array.isArray(value)) {
      this.#keep(value, value)
      for (let i = 0; i < value.length; i++) value[i] = this.value(value[i], depth + 1)
      return value
    }
    const record = value as Record<string, unknown>
    if (!Object.hasOwn(record, TAG)) return this.#members(record, record, depth)
    const decoded = this.#tagged(record, depth)
    this.#done.set(value, decoded)
    return decoded
  }

  #keep(source: object, decoded: object): void {
    this.#done.set(source, decoded)
    this.#objects.push(decoded)
  }

  /** Decodes the members of `record` in place (assignment to an own data member never reaches a setter). */
  #members(record: Record<string, unknown>, source: object, depth: number): object {
    this.#keep(source, record)
    for (const key of Object.keys(record)) record[key] = this.value(record[key], depth + 1)
    return record
  }

  #tagged(record: Record<string, unknown>, depth: number): unknown {
    const payload = record.v
    switch (record[TAG]) {
      case 'u':
        return undefined
      case 'num':
        switch (payload) {
          case 'NaN': return Number.NaN
          case 'Infinity': return Number.POSITIVE_INFINITY
          case '-Infinity': return Number.NEGATIVE_INFINITY
          case '-0': return -0
        }
        break
      case 'bigint':
        if (typeof payload === 'string' && /^-?\d+$/.test(payload)) return BigInt(payload)
        break
      case 'stub':
        if (this.refs !== undefined) return this.#new(record, this.refs.import(payload) as object)
        break
      case 'ref':
        if (typeof payload === 'number' && Number.isInteger(payload) && payload >= 0 && payload < this.#objects.length) return this.#objects[payload]
        break
      case 'Date':
        if (payload === null || typeof payload === 'number') return this.#new(record, new Date(payload ?? Number.NaN))
        break
      case 'RegExp':
        if (Array.isArray(payload) && typeof payload[0] === 'string' && typeof payload[1] === 'string') return this.#new(record, new RegExp(payload[0], payload[1]))
        break
      case 'URL':
        if (typeof payload === 'string') return this.#new(record, new URL(payload))
        break
      case 'Box': {
        const box = Object(this.value(payload, depth + 1)) as object
        return this.#new(record, box)
      }
      case 'ArrayBuffer':
        if (typeof payload === 'string') return this.#new(record, fromBase64(payload).buffer)
        break
      case 'Map':
        if (Array.isArray(payload)) {
          const map = this.#new(record, new Map())
          for (const pair of payload) {
            if (!Array.isArray(pair) || pair.length !== 2) throw new UndecodableValue('a Map entry is not a [key, value] pair')
            map.set(this.value(pair[0], depth + 1), this.value(pair[1], depth + 1))
          }
          return map
        }
        break
      case 'Set':
        if (Array.isArray(payload)) {
          const set = this.#new(record, new Set())
          for (const item of payload) set.add(this.value(item, depth + 1))
          return set
        }
        break
      case 'Object':
        if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) return this.#members(payload as Record<string, unknown>, record, depth)
        break
      case 'Error':
        if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) return this.error(payload as Record<string, unknown>, record, depth)
        break
      default: {
        const View = typeof record[TAG] === 'string' ? VIEWS[record[TAG]] : undefined
        if (View !== undefined && typeof payload === 'string') {
          const bytes = fromBase64(payload)
          const width = (View as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1
          if (bytes.byteLength % width !== 0) throw new UndecodableValue(`${record[TAG]} of ${bytes.byteLength} bytes`)
          return this.#new(record, new View(bytes.buffer as ArrayBuffer))
        }
      }
    }
    throw new UndecodableValue(`unknown or malformed tag ${JSON.stringify(String(record[TAG]).slice(0, 40))}`)
  }

  #new<T extends object>(source: object, value: T): T {
    this.#keep(source, value)
    return value
  }

  /** Rebuilds an Error from its fields: class by name from a fixed table, fields defined (never assigned). */
  error(fields: Record<string, unknown>, source: object, depth: number): Error {
    const name = typeof fields.name === 'string' ? fields.name : 'Error'
    const Class = ERRORS[name] ?? Error
    const error = new Class(typeof fields.message === 'string' ? fields.message : '')
    this.#keep(source, error)
    if (error.name !== name) define(error, 'name', name, false)
    define(error, 'stack', typeof fields.stack === 'string' ? fields.stack : '', false)
    for (const key of Object.keys(fields)) {
      if (key === 'name' || key === 'message' || key === 'stack' || UNSAFE_FIELDS.has(key)) continue
      define(error, key, this.value(fields[key], depth + 1), key !== 'cause' && key !== 'errors')
    }
    return error
  }
}

/** Decodes the fields of an error's `data` in place (a message flagged with tags), keeping it a plain record. */
export function decodeFields(fields: Record<string, unknown>): Record<string, unknown> {
  return new Decoder().value(fields, 0) as Record<string, unknown>
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable })
}

// ---- base64, without Node's Buffer (treerpc/web) ----------------------------------------------

interface BufferLike {
  from(buffer: ArrayBuffer, offset: number, length: number): { toString(encoding: 'base64'): string }
  from(text: string, encoding: 'base64'): Uint8Array
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer

function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

function fromBase64(text: string): Uint8Array {
  if (NodeBuffer !== undefined) {
    const view = NodeBuffer.from(text, 'base64')
    // A fresh, exactly-sized ArrayBuffer (Buffer.from may return a slice of a shared pool).
    return new Uint8Array(view)
  }
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
