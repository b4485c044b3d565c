import { clip, kindOf, messageOf, show } from './describe.js'
import { ErrorCode, RpcError } from './errors.js'

/**
 * Validation with the schemas people already use: any Standard Schema v1 (https://standardschema.dev)
 * — zod, valibot, arktype, effect/schema... — checks a handler's arguments before it runs.
 *
 * The interface is declared here rather than imported: the Standard Schema spec is meant to be
 * copied, so treerpc depends on no schema library and not even on `@standard-schema/spec`. Any
 * object (or function: arktype's types are callable) with a conforming `~standard` fits.
 */

/** A Standard Schema v1 validator. `Input` and `Output` are its types before and after validation. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': StandardSchemaV1.Props<Input, Output>
}

export declare namespace StandardSchemaV1 {
  /** What every Standard Schema carries under `~standard`. */
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1
    /** The schema library ("zod", "valibot", "arktype"...). */
    readonly vendor: string
    /** Validates a value: its output, or its issues. May be asynchronous. */
    readonly validate: (value: unknown, options?: Options) => Result<Output> | Promise<Result<Output>>
    /** Types only (never present at run time): the input and output types, for inference. */
    readonly types?: Types<Input, Output> | undefined
  }
  interface Options {
    readonly libraryOptions?: Record<string, unknown> | undefined
  }
  type Result<Output> = SuccessResult<Output> | FailureResult
  interface SuccessResult<Output> {
    readonly value: Output
    readonly issues?: undefined
  }
  /** A failure: the mere presence of `issues` says so. */
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>
  }
  interface Issue {
    readonly message: string
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined
  }
  interface PathSegment {
    readonly key: PropertyKey
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input
    readonly output: Output
  }
  /** The type a schema accepts. */
  type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input']
  /** The type a schema produces (after transforms, coercions, defaults). */
  type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output']
}

/**
 * A schema of a handler's whole argument array: a tuple (`z.tuple([z.string(), z.number()])`,
 * `v.tuple([...])`) or an array schema. Its output, possibly transformed, is what the handler
 * receives as its arguments.
 */
export type ParamsSchema<Args extends readonly unknown[] = readonly unknown[]> = StandardSchemaV1<unknown, Args>

/** The arguments a handler receives from its params schema: the schema's output. */
export type ParamsOf<S> = S extends StandardSchemaV1<any, infer Args extends readonly unknown[]> ? Args : never

/** One issue as it crosses the wire in `error.data.issues`: a path of keys and a message, both bounded. */
export interface ParamsIssue {
  /** Where the issue sits in the argument array: `[0, 'name']` is the `name` of the first argument. */
  path: Array<string | number>
  message: string
}

/** `error.data` of an RPC_INVALID_PARAMS reply from a params schema. */
export interface ParamsIssues {
  /** The first {@link MAX_ISSUES} issues the schema reported. */
  issues: ParamsIssue[]
  /** How many issues the schema reported in all. */
  total: number
}

/** Most issues carried in a reply; a schema may report one per element of a huge input. */
export const MAX_ISSUES = 20
/** Most path segments kept per issue (deeper ones end with '…'), and longest key kept. */
const MAX_ISSUE_PATH = 16
const MAX_KEY = 60

/**
 * @internal Arguments refused by a params schema. Replied as JSON-RPC -32602 with {@link ParamsIssues}
 * as `error.data` (see error-wire.ts); for a notification, it is the receiver's `error` event.
 */
export class ParamsRefusal extends RpcError {
  readonly data: ParamsIssues
  constructor(message: string, data: ParamsIssues) {
    super(message, ErrorCode.InvalidParams)
    this.data = data
  }
}

/** True when `value` has a usable Standard Schema v1 `~standard`. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  const props = (value as Partial<StandardSchemaV1>)['~standard']
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function'
}

/** What a params check yields: the handler's arguments, or the error to answer with instead. */
export type Checked = unknown[] | RpcError

/**
 * @internal Runs `schema` over a call's arguments. Never throws, and never rejects: a synchronous
 * schema answers synchronously (no microtask), an asynchronous one with a promise. A schema that
 * throws or rejects refuses the arguments, as a throwing `validate` function does.
 */
export function checkParams(schema: StandardSchemaV1, args: unknown[], path: string, notification: boolean): Checked | Promise<Checked> {
  try {
    const result: unknown = schema['~standard'].validate(args)
    if (isThenable(result)) {
      // Promise.resolve adopts a thenable at most once, even one that settles twice or whose `then` throws.
      return Promise.resolve(result).then(
        (settled) => outcome(settled, path, notification),
        (error) => thrown(error, path, notification),
      )
    }
    return outcome(result, path, notification)
  } catch (error) {
    return thrown(error, path, notification)
  }
}

function outcome(result: unknown, path: string, notification: boolean): Checked {
  try {
    if (typeof result !== 'object' || result === null) {
      return new RpcError(`The params schema of "${clip(path)}" returned ${kindOf(result)}, not a Standard Schema result`, ErrorCode.Internal)
    }
    const { issues, value } = result as { issues?: unknown; value?: unknown }
    if (issues !== undefined) return refusal(issues, path, notification)
    if (!Array.isArray(value)) {
      return new RpcError(`The params schema of "${clip(path)}" produced ${kindOf(value)}, not an argument array: use a tuple or array schema`, ErrorCode.Internal)
    }
    return value
  } catch (error) {
    return thrown(error, path, notification)
  }
}

function thrown(error: unknown, path: string, notification: boolean): Checked {
  return refusal([{ message: messageOf(error) }], path, notification)
}

/** The refusal for a schema's issues: the first {@link MAX_ISSUES}, each bounded, the first in the message. Never throws. */
function refusal(reported: unknown, path: string, notification: boolean): ParamsRefusal {
  const issues: ParamsIssue[] = []
  let total = 1
  try {
    const list = Array.isArray(reported) ? reported : [reported]
    total = list.length
    for (let i = 0; i < list.length && i < MAX_ISSUES; i++) issues.push(issueOf(list[i]))
  } catch (error) {
    issues.push({ path: [], message: `unreadable issues: ${messageOf(error)}` })
  }
  const first = issues[0] === undefined ? 'refused by the params schema' : `${formatPath(issues[0].path)}: ${issues[0].message}`
  const more = total > 1 ? ` (and ${total - 1} more issue${total > 2 ? 's' : ''})` : ''
  const what = notification ? `notification "${clip(path)}"` : `"${clip(path)}"`
  return new ParamsRefusal(`Invalid params for ${what}: ${first}${more}`, { issues, total })
}

function issueOf(issue: unknown): ParamsIssue {
  try {
    const { message, path } = issue as { message?: unknown; path?: unknown }
    const keys: Array<string | number> = []
    if (Array.isArray(path)) {
      for (let i = 0; i < path.length; i++) {
        if (i === MAX_ISSUE_PATH) {
          keys.push('…')
          break
        }
        keys.push(keyOf(path[i]))
      }
    }
    return { path: keys, message: typeof message === 'string' ? clip(message) : show(message) }
  } catch (error) {
    return { path: [], message: `unreadable issue: ${messageOf(error)}` }
  }
}

function keyOf(segment: unknown): string | number {
  const key = typeof segment === 'object' && segment !== null ? (segment as { key?: unknown }).key : segment
  if (typeof key === 'number') return key
  if (typeof key === 'string') return clip(key, MAX_KEY)
  if (typeof key === 'symbol') return clip(String(key), MAX_KEY)
  return show(key)
}

/** `args[0].name`, `args[1]["a b"]`: where an issue sits, as the codec names unsendable values. */
function formatPath(path: ReadonlyArray<string | number>): string {
  let text = 'args'
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) text += `.${key}`
    else text += `[${JSON.stringify(key)}]`
  }
  return text
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
