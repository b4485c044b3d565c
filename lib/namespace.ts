import { invalidArgument } from './check.js'
import { ErrorCode, RpcError } from './errors.js'
import { isStandardSchema, type ParamsSchema, type StandardSchemaV1 } from './schema.js'

/** A handler as registered: the function and the object it is called on (`this`). */
export interface Handler {
  readonly fn: (...args: unknown[]) => unknown
  readonly self: unknown
  /** Checks the arguments before the handler runs; see {@link HandleOptions.validate}. */
  readonly validate?: ArgsValidator
  /** Checks, and may transform, the argument array in the handler's slot; see {@link HandleOptions.params}. */
  readonly params?: StandardSchemaV1
}

/** Returns false or throws to refuse the arguments; the caller then gets RPC_INVALID_PARAMS. */
export type ArgsValidator = (args: unknown[]) => boolean | void

export interface HandleOptions<S extends ParamsSchema = ParamsSchema> {
  /**
   * Types are not validation: this runs on every incoming call's arguments before the handler. When
   * it returns false or throws, the caller gets a RemoteError with code `RPC_INVALID_PARAMS` (carrying
   * the thrown message) and the handler never runs.
   */
  validate?: ArgsValidator
  /**
   * A Standard Schema (zod, valibot, arktype...) of the whole argument array, e.g.
   * `z.tuple([z.string(), z.number()])`; by-name params arrive as one argument, so
   * `z.tuple([z.object({...})])` checks them. Its output (coerced, transformed, defaulted) is what the
   * handler receives, and the handler's parameter types are inferred from it. When it reports issues,
   * the caller gets a RemoteError `RPC_INVALID_PARAMS` whose `data` is `{ issues: [{ path, message }],
   * total }` (at most 20 issues, messages clipped) and the handler never runs; a notification is
   * dropped with an `error` event on this side. It runs in the handler's pool slot, after `validate`;
   * an asynchronous schema holds the slot until it answers, and a call cancelled meanwhile never runs.
   */
  params?: S
}

/** Options of `expose`. */
export interface ExposeOptions {
  /**
   * Params schemas by handler path, relative to the exposed path:
   * `expose('users', api, { params: { create: z.tuple([...]), 'admin.delete': ... } })`. Each is
   * {@link HandleOptions.params} for that handler; a path that names no exposed function throws.
   */
  params?: Readonly<Record<string, ParamsSchema>>
}

/** Longest path accepted, in characters, and most segments. Checks are linear; no RegExp sees peer input. */
export const MAX_PATH_LENGTH = 1024
export const MAX_PATH_DEPTH = 32

/**
 * Names that are never a path segment, whatever was exposed: every `Object.prototype` member
 * (`__proto__`, `constructor`, `toString`, `hasOwnProperty`, `__defineGetter__`...), `prototype`,
 * and `then` (so that a remote proxy is never mistaken for a promise).
 */
const RESERVED: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'then'])

/** True when `segment` may name a handler or namespace. */
export function isAllowedSegment(segment: string): boolean {
  return segment.length > 0 && segment.length <= MAX_PATH_LENGTH && !RESERVED.has(segment) && !segment.includes('.')
}

/** True for a well-formed, non-reserved dot path (`a.b.c`). Linear in the path length. */
export function isValidPath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_PATH_LENGTH) return false
  let start = 0
  let depth = 0
  for (;;) {
    const end = path.indexOf('.', start)
    const segment = end === -1 ? path.slice(start) : path.slice(start, end)
    if (++depth > MAX_PATH_DEPTH || !isAllowedSegment(segment)) return false
    if (end === -1) return true
    start = end + 1
  }
}

/**
 * The live table of what this side exposes: full dot path -> handler, in a Map (never an object
 * walk), so a wire-supplied path can only ever find something that was registered.
 *
 * What `expose` registers from an object, recursively:
 * - own enumerable data properties holding functions (handlers) or objects (namespaces);
 * - for class instances, methods found on the prototype chain below `Object.prototype`,
 *   called with the instance as `this`;
 * - never accessors (getters are not run), symbol keys, reserved names, `#private` members, or
 *   anything inside a function (functions are leaves), arrays, Maps, Dates and other built-ins.
 * The object is read once, when exposed: later changes to it are not seen. Use `expose`, `handle`
 * and `unhandle` to change what is callable.
 */
export class Namespace {
  readonly #handlers = new Map<string, Handler>()

  get(path: string): Handler | undefined {
    return this.#handlers.get(path)
  }

  /** True when a proper prefix of `path` is a handler: the path points inside a function (`fn.call`). */
  isInsideHandler(path: string): boolean {
    for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1)) {
      if (this.#handlers.has(path.slice(0, dot))) return true
    }
    return false
  }

  paths(): string[] {
    return [...this.#handlers.keys()]
  }

  /** Replaces the subtree at `path` ('' for the root) with what `api` exposes. */
  expose(path: string, api: object, options?: ExposeOptions): void {
    if (path !== '') assertPath(path)
    if (api === null || (typeof api !== 'object' && typeof api !== 'function')) {
      throw new RpcError('expose() needs an object or a function', ErrorCode.InvalidArgument)
    }
    const collected = new Map<string, Handler>()
    if (typeof api === 'function') {
      if (path === '') throw new RpcError('expose() at the root needs an object', ErrorCode.InvalidArgument)
      collected.set(path, { fn: api as Handler['fn'], self: undefined })
    } else {
      collect(api, path, collected, new WeakSet(), 0)
    }
    if (options !== undefined) attachSchemas(path, options, collected)
    this.unhandle(path)
    for (const [key, handler] of collected) this.#handlers.set(key, handler)
  }

  /** Sets one handler, replacing any handler at that exact path. */
  handle(path: string, fn: (...args: any[]) => unknown, options: HandleOptions = {}): void {
    assertPath(path)
    if (typeof fn !== 'function') throw new RpcError(`handle("${path}") needs a function`, ErrorCode.InvalidArgument)
    const { validate, params } = options
    if (validate !== undefined && typeof validate !== 'function') throw new RpcError(`handle("${path}"): options.validate must be a function`, ErrorCode.InvalidArgument)
    if (params !== undefined && !isStandardSchema(params)) throw invalidArgument(`handle("${path}"): options.params`, SCHEMA_EXPECTED, params)
    // Only the keys in use are set: a handler without options stays `{ fn, self }`, like exposed ones.
    const handler: { -readonly [K in keyof Handler]: Handler[K] } = { fn, self: undefined }
    if (validate !== undefined) handler.validate = validate
    if (params !== undefined) handler.params = params
    this.#handlers.set(path, handler)
  }

  /** Removes the handler at `path` and everything below it ('' removes all). Returns how many went. */
  unhandle(path: string): number {
    if (path === '') {
      const n = this.#handlers.size
      this.#handlers.clear()
      return n
    }
    const prefix = path + '.'
    let removed = 0
    for (const key of this.#handlers.keys()) {
      if (key === path || key.startsWith(prefix)) {
        this.#handlers.delete(key)
        removed++
      }
    }
    return removed
  }
}

/** First segment reserved for the protocol (`rpc.hello`, `rpc.cancel`...): never a handler's. */
const PROTOCOL_NAMESPACE = 'rpc'

function assertPath(path: string): void {
  if (typeof path === 'string' && (path === PROTOCOL_NAMESPACE || path.startsWith(PROTOCOL_NAMESPACE + '.'))) {
    throw new RpcError(`Invalid path "${path}": the "rpc" namespace is reserved for the protocol (JSON-RPC 2.0)`, ErrorCode.InvalidArgument)
  }
  if (typeof path !== 'string' || !isValidPath(path)) {
    throw new RpcError(`Invalid path "${String(path)}": use non-empty dot-separated segments, none reserved (__proto__, constructor, prototype, then, Object.prototype members)`, ErrorCode.InvalidArgument)
  }
}

const SCHEMA_EXPECTED = 'a Standard Schema v1 (zod, valibot, arktype... anything with a "~standard" validate)'

/** Sets `options.params` (paths relative to `path`) on the handlers `expose` collected; throws before anything changes. */
function attachSchemas(path: string, options: ExposeOptions, collected: Map<string, Handler>): void {
  if (typeof options !== 'object' || options === null) throw invalidArgument('expose(): options', 'an object', options)
  const { params } = options
  if (params === undefined) return
  if (typeof params !== 'object' || params === null) throw invalidArgument('expose(): options.params', 'an object of schemas by handler path', params)
  for (const key of Object.keys(params)) {
    const full = join(path, key)
    const handler = collected.get(full)
    if (handler === undefined) throw new RpcError(`expose(): options.params names "${full}", which is not a function of the exposed object`, ErrorCode.InvalidArgument)
    const schema = params[key]
    if (!isStandardSchema(schema)) throw invalidArgument(`expose(): options.params["${key}"]`, SCHEMA_EXPECTED, schema)
    collected.set(full, { ...handler, params: schema })
  }
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`
}

function isNamespaceObject(value: object): boolean {
  // Plain objects, null-prototype objects and class instances; not arrays, Maps, Dates, Promises...
  // A thenable object is a namespace too: its `then` is never exposed (a reserved name), the rest is.
  return Object.prototype.toString.call(value) === '[object Object]'
}

function collect(obj: object, prefix: string, out: Map<string, Handler>, seen: WeakSet<object>, depth: number): void {
  if (seen.has(obj) || depth >= MAX_PATH_DEPTH) return
  seen.add(obj)
  // Own enumerable data properties first, then prototype methods (nearest wins, own wins over both).
  const names = new Set<string>()
  for (const key of Object.keys(obj)) names.add(key)
  for (let proto = Object.getPrototypeOf(obj); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) names.add(key)
  }
  for (const key of names) {
    if (!isAllowedSegment(key) || (prefix === '' && key === PROTOCOL_NAMESPACE)) continue
    const value = dataValue(obj, key)
    const path = join(prefix, key)
    if (typeof value === 'function') {
      if (!out.has(path)) out.set(path, { fn: value as Handler['fn'], self: obj })
    } else if (typeof value === 'object' && value !== null && isNamespaceObject(value) && Object.hasOwn(obj, key)) {
      collect(value, path, out, seen, depth + 1)
    }
  }
  seen.delete(obj)
}

/** The value of a data property found on `obj` or its prototype chain; undefined for accessors (never run). */
function dataValue(obj: object, key: string): unknown {
  for (let o: object | null = obj; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key)
    if (descriptor !== undefined) return 'value' in descriptor ? descriptor.value : undefined
  }
  return undefined
}
