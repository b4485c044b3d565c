/**
 * The types of `peer.remote`, `peer.remoteSync`, and of events both ways. Types only: nothing here
 * exists at run time. Each type mirrors a run-time rule, named where it is stated (lib/proxy.ts,
 * lib/namespace.ts), so that what compiles can be called and what cannot be called does not compile.
 *
 * What TypeScript cannot express, and what these types do instead:
 * - Generic methods: a conditional type cannot carry a signature's type parameters through
 *   (`infer` replaces each by its constraint; TypeScript's higher-order inference works only on a
 *   call of a generic function with a generic function value, never on a type). A method whose
 *   every signature already returns a `Promise` (`async identity<T>(v: T): Promise<T>`) is taken
 *   as it is, type parameters included; any other generic method is erased: `identity<T>(v: T): T`
 *   becomes `(v: unknown) => Promise<unknown>`, and `<T extends string>` becomes `string`. To keep a
 *   synchronous generic method generic, declare it in the remote type as returning a Promise.
 *   `RemoteSync` always erases.
 * - Overloads: up to 8 signatures are kept, in order; of a function with more, the first ones are
 *   dropped (calls that match only those do not compile).
 */
import type { CloseInfo } from './errors.js'
import type { Peer } from './peer.js'

/** Any function a side may expose. */
export type AnyFunction = (...args: any[]) => unknown

/** True when A and B are the same type (not merely assignable either way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

// ---- what is never remote --------------------------------------------------------------------------

/**
 * Names that a remote proxy never calls, so never keys of `Remote<T>` or `RemoteSync<T>` at any
 * depth: every `Object.prototype` member, `prototype`, `constructor` and `then` are never a path
 * segment (lib/namespace.ts); the proxy answers `toJSON` with undefined; `call`, `apply` and `bind` of a
 * remote method are Function.prototype's (lib/proxy.ts). A handler with one of the last four names is
 * still reached by string: `peer.call('phone.call', args)`.
 */
export type UnreachableName =
  | 'constructor'
  | 'prototype'
  | 'then'
  | '__proto__'
  | '__defineGetter__'
  | '__defineSetter__'
  | '__lookupGetter__'
  | '__lookupSetter__'
  | 'hasOwnProperty'
  | 'isPrototypeOf'
  | 'propertyIsEnumerable'
  | 'toLocaleString'
  | 'toString'
  | 'valueOf'
  | 'toJSON'
  | 'call'
  | 'apply'
  | 'bind'

/** The instance type of the global constructor `Name` where the platform's types declare it (DOM or @types/node), else never. */
type GlobalInstance<Name extends string> = typeof globalThis extends { readonly [K in Name]: abstract new (...args: any) => infer I } ? I : never

/**
 * Built-in values: data, never namespaces. `expose` walks only objects whose
 * `Object.prototype.toString` tag is `Object` (lib/namespace.ts); the members of any other object are
 * not exposed, so they are not in `Remote<T>`, as numbers and strings are not. By type: anything with
 * a `Symbol.toStringTag` (Map, Set, WeakMap, WeakSet, WeakRef, Promise, ArrayBuffer,
 * SharedArrayBuffer, DataView, typed arrays, Buffer, iterators, generators...), Date, RegExp, arrays and
 * tuples, and the platform's URL, URLSearchParams, Blob, Headers, FormData, Request, Response,
 * AbortController, AbortSignal, MessagePort and streams where those types exist. Errors are
 * recognised apart (see IsError).
 */
export type BuiltIn =
  | { readonly [Symbol.toStringTag]: string }
  | Date
  | RegExp
  | readonly unknown[]
  | GlobalInstance<
      | 'URL'
      | 'URLSearchParams'
      | 'Blob'
      | 'Headers'
      | 'FormData'
      | 'Request'
      | 'Response'
      | 'AbortController'
      | 'AbortSignal'
      | 'MessagePort'
      | 'ReadableStream'
      | 'WritableStream'
      | 'TransformStream'
    >

/**
 * An Error (or subclass) instance. Separate from {@link BuiltIn} because Error's type is small: an
 * API object with `name` and `message` fields would match it, so `stack` must be a key as well.
 */
type IsError<T> = T extends Error ? ('stack' extends keyof T ? true : false) : false

// ---- signatures ------------------------------------------------------------------------------------

/**
 * The call signatures of `F` (its last 8) as `[parameters, result]` pairs, in order. TypeScript infers
 * from a function with fewer signatures than the pattern by repeating its first one; {@link Distinct}
 * drops those repeats. The first test is a shortcut for the common case, one signature (at the cost
 * of reading overloads whose first and last are the same signature as that one signature).
 */
type Signatures<F> = F extends {
  (...args: infer A1): infer R1
  (...args: infer A2): infer R2
  (...args: infer A3): infer R3
  (...args: infer A4): infer R4
  (...args: infer A5): infer R5
  (...args: infer A6): infer R6
  (...args: infer A7): infer R7
  (...args: infer A8): infer R8
}
  ? Same<[A1, R1], [A8, R8]> extends true
    ? [[A8, R8]]
    : Distinct<[[A1, R1], [A2, R2], [A3, R3], [A4, R4], [A5, R5], [A6, R6], [A7, R7], [A8, R8]]>
  : never

/** `S` without the leading repeats of its first signature (the filler of {@link Signatures}). */
type Distinct<S extends unknown[]> = S extends [infer X, infer Y, ...infer Rest] ? (Same<X, Y> extends true ? Distinct<[Y, ...Rest]> : S) : S

/** An overloaded function type (an intersection, in order) returning `Promise<Returned<Awaited<R>>>` from each signature. */
type Promised<S> = S extends [[infer A extends unknown[], infer R], ...infer Rest] ? ((...args: Passed<A>) => Promise<Returned<Awaited<R>>>) & Promised<Rest> : unknown

/**
 * The parameters of a remote method as the caller passes them: a callback parameter (a function
 * type) takes a function returning its result or a promise of it, since the other side receives a
 * stub that always returns a promise (lib/refs.ts). `any` and non-function parameters are unchanged.
 */
export type Passed<A extends unknown[]> = { [K in keyof A]: 0 extends 1 & A[K] ? A[K] : A[K] extends (...args: infer P) => infer R ? (...args: P) => R | Awaited<R> : A[K] }

declare const REF_BRAND: unique symbol

/** What `ref(value)` returns: the value, marked (by type) to arrive at the caller as a remote namespace. */
export type Ref<T> = T & { readonly [REF_BRAND]: T }

/**
 * What a handler's result is at the caller (lib/refs.ts): a function arrives as a remote function,
 * a `ref()` object as a remote namespace, an async generator as an async iterable iterator; the rest
 * (data, async iterables, ReadableStreams) as it is. Only the result itself: inside data, a function
 * or `ref()` object keeps its own type (it is a stub all the same).
 */
export type Returned<R> = R extends { readonly [REF_BRAND]: infer O }
  ? Remote<O>
  : R extends AnyFunction
    ? RemoteFunction<R>
    : R extends AsyncGenerator<infer I>
      ? AsyncIterableIterator<I>
      : R

/** An overloaded function type returning `Awaited<R>` from each signature. */
type Awaiting<S> = S extends [[infer A extends unknown[], infer R], ...infer Rest] ? ((...args: A) => Awaited<R>) & Awaiting<Rest> : unknown

/** True when every signature returns exactly a `Promise` (not a subclass, not a union with a value). */
type AllPromises<S> = S extends [[unknown, infer R], ...infer Rest] ? (Same<R, Promise<Awaited<R>>> extends true ? AllPromises<Rest> : false) : true

/**
 * True when `F` itself is the right remote type and more than `Promised` can rebuild: every signature
 * already returns a Promise, F has no `this` parameter and no properties, and it is generic or
 * overloaded (a plain one is rebuilt, to look exactly like any other remote method).
 */
type KeptAsIs<F, S> = [keyof F] extends [never]
  ? unknown extends ThisParameterType<F>
    ? AllPromises<S> extends true
      ? S extends [[infer A extends unknown[], infer R]]
        ? Same<F, (...args: A) => R> extends true
          ? false
          : true
        : true
      : false
    : false
  : false

// ---- Remote<T> -------------------------------------------------------------------------------------

/**
 * A remote method: the same parameters, the result always a Promise of the awaited value. Overloads
 * are kept (up to 8); a generic method is kept only when every signature already
 * returns a Promise, else its type parameters become their constraints (see the top of this file).
 */
export type RemoteFunction<F> = F extends AnyFunction ? (KeptAsIs<F, Signatures<F>> extends true ? F : Promised<Signatures<F>>) : never

/**
 * What a value of type `V` is remotely, as `expose` reads it: a `'method'`, a `'function'` typed only
 * `Function` (any arguments), a `'namespace'`, or never (not reachable: data, a class, a {@link BuiltIn},
 * an Error). Not recursive, so that recursive API types (`interface Tree { child: Tree }`) work.
 */
export type RemoteKind<V> = V extends AnyFunction
  ? 'method'
  : V extends Function
    ? V extends abstract new (...args: any) => unknown
      ? never
      : 'function'
    : V extends BuiltIn
      ? never
      : IsError<V> extends true
        ? never
        : V extends object
          ? 'namespace'
          : never

/**
 * The keys of `T` reachable remotely: string keys holding functions or namespace objects, except the
 * {@link UnreachableName}s. Data (numbers, strings, arrays, {@link BuiltIn}s) is dropped.
 */
export type RemoteKeys<T> = {
  [K in keyof T]-?: K extends string ? (K extends UnreachableName ? never : [RemoteKind<NonNullable<T[K]>>] extends [never] ? never : K) : never
}[keyof T]

/**
 * The {@link UnreachableName}s on a remote namespace: undefined, which the proxy answers for most of
 * them (for `call`, `apply` and `bind` it answers Function.prototype's, which on a namespace would call
 * the namespace's own path). Declared so that they hide Object's members (`toString`...) and an index
 * signature's type: calling one does not compile, and a remote namespace is not thenable.
 */
export type UnreachableMembers = { readonly [K in UnreachableName]: undefined }

/** A remote namespace: each reachable key becomes a remote method or a nested remote namespace. */
export type RemoteObject<T> = { readonly [K in RemoteKeys<T>]: Remote<NonNullable<T[K]>> } & UnreachableMembers

/**
 * The type of `peer.remote` for the other side's API type `T`: the same shape, every method
 * returning a Promise. Only what `expose` exposes is there: non-function leaves (numbers, strings,
 * arrays, Maps, Dates and other {@link BuiltIn}s), classes (a constructor cannot be called without
 * `new`) and {@link UnreachableName}s are dropped. A member typed `Function` takes any arguments; one
 * typed `any` is {@link AnyRemote}.
 *
 * ```ts
 * type Api = { math: { add(a: number, b: number): number } }
 * declare const remote: Remote<Api>
 * const sum: number = await remote.math.add(1, 2)
 * ```
 */
export type Remote<T> = 0 extends 1 & T ? AnyRemote : T extends unknown ? RemoteAs<T, RemoteKind<T>> : never

type RemoteAs<T, Kind> = Kind extends 'method'
  ? RemoteFunction<T>
  : Kind extends 'function'
    ? (...args: unknown[]) => Promise<unknown>
    : Kind extends 'namespace'
      ? RemoteObject<T>
      : never

/** `peer.remote` when the other side's API type was not given: any path, any arguments. */
export interface AnyRemote {
  (...args: unknown[]): Promise<any>
  readonly [key: string]: AnyRemote
}

/** `Remote<T>`, or {@link AnyRemote} when `T` is unknown. */
export type RemoteOf<T> = unknown extends T ? AnyRemote : Remote<T>

// ---- RemoteSync<T> ---------------------------------------------------------------------------------

/**
 * A blocking remote method: the same parameters, the awaited result returned directly. Overloads are
 * kept as in {@link RemoteFunction}; type parameters always become their constraints.
 */
export type RemoteSyncFunction<F> = F extends AnyFunction ? Awaiting<Signatures<F>> : never

/** A blocking remote namespace. */
export type RemoteSyncObject<T> = { readonly [K in RemoteKeys<T>]: RemoteSync<NonNullable<T[K]>> } & UnreachableMembers

/** The type of `peer.remoteSync` for the other side's API type `T`: each method blocks and returns its value. */
export type RemoteSync<T> = 0 extends 1 & T ? AnyRemoteSync : T extends unknown ? RemoteSyncAs<T, RemoteKind<T>> : never

type RemoteSyncAs<T, Kind> = Kind extends 'method'
  ? RemoteSyncFunction<T>
  : Kind extends 'function'
    ? (...args: unknown[]) => unknown
    : Kind extends 'namespace'
      ? RemoteSyncObject<T>
      : never

/** `peer.remoteSync` when the other side's API type was not given. */
export interface AnyRemoteSync {
  (...args: unknown[]): any
  readonly [key: string]: AnyRemoteSync
}

/** `RemoteSync<T>`, or {@link AnyRemoteSync} when `T` is unknown. */
export type RemoteSyncOf<T> = unknown extends T ? AnyRemoteSync : RemoteSync<T>

// ---- paths -----------------------------------------------------------------------------------------

/** `Depth[D]` is D - 1: the levels {@link RemotePath} may still descend. */
type Depth = [never, 0, 1, 2, 3, 4, 5, 6, 7]

/**
 * The dot paths of the methods of `Remote<T>` (`'math.add' | 'math.vector.norm'`), at most 8 levels
 * deep: deeper methods are reached through `remote` or by an untyped string path.
 */
export type RemotePath<T> = PathsOf<Remote<T>, 8>

type PathsOf<R, D extends number> = {
  [K in keyof R & string]: R[K] extends AnyFunction ? K : `${K}.${PathsOfDeeper<R[K], Depth[D]>}`
}[keyof R & string]

type PathsOfDeeper<R, D extends number> = D extends 0 ? never : PathsOf<R, D>

/** The remote method at dot path `P` of `Remote<T>`. */
export type RemoteAt<T, P extends string> = At<Remote<T>, P>

type At<R, P extends string> = P extends `${infer Head}.${infer Rest}` ? (Head extends keyof R ? At<R[Head], Rest> : never) : P extends keyof R ? R[P] : never

/*
 * A call by string path (`pool.broadcast(path, ...args)`) has one type parameter `P`, which is either:
 * - a path of the API type `T`, inferred from a string literal: the path must be one of its
 *   {@link RemotePath}s, the arguments are that method's (its last signature's, when it is
 *   overloaded: a call that matches only an earlier one does not compile), and so is the result;
 * - or, given explicitly and not a string literal, the result type (`broadcast<Identity>('whoami')`),
 *   as before paths were typed: any path, any arguments. So is a path that is a `string`, not a
 *   literal (the result is then `any`), and every call when `T` is unknown.
 */

/** True when P is a string literal type (or a union of them): a path, not a result type. */
type IsLiteral<P> = [P] extends [string] ? (string extends P ? false : true) : false

/**
 * The constraint of `P`: anything (`{} | null | undefined`), with the paths of `T` named so that a
 * string literal argument is inferred as that literal, not widened to `string`.
 */
export type PathParam<T> = unknown extends T ? any : RemotePath<T> | {} | null | undefined

/** The `path` parameter: with an API type, a literal `P` only if it is one of its paths (the error lists them). */
export type PathOf<T, P> = unknown extends T ? string : IsLiteral<P> extends true ? (P extends RemotePath<T> ? P : RemotePath<T>) : string

/** The arguments of the method at path `P`. */
export type PathArgs<T, P> = unknown extends T ? unknown[] : IsLiteral<P> extends true ? ArgsOf<RemoteAt<T, P & string>> : unknown[]

/** The awaited result of the method at path `P`, or `P` itself when it is the result type. */
export type PathResult<T, P> = unknown extends T ? P : IsLiteral<P> extends true ? ResultOf<RemoteAt<T, P & string>> : [P] extends [string] ? any : P

type ArgsOf<F> = F extends (...args: infer A) => unknown ? A : never
type ResultOf<F> = F extends (...args: any) => infer R ? Awaited<R> : never

// ---- events ----------------------------------------------------------------------------------------

/** Each side's own lifecycle events, always typed: `open`, `close` (a CloseInfo) and `error` (whatever was thrown). */
export interface LifecycleEvents {
  open: []
  close: [info: CloseInfo]
  error: [error: unknown]
}

/**
 * The events of a channel, as one side sees them: `local` maps the names this side listens to
 * (`peer.on`) to their arguments, `remote` the names the other side listens to (`peer.emit`).
 * Arguments are a tuple (`progress: [done: number, total: number]`) or a listener type
 * (`progress: (done: number, total: number) => void`). A direction left out stays untyped: any
 * name, any arguments (and so is a peer made without an events type).
 *
 * ```ts
 * interface ToParent { progress: [done: number, total: number] }
 * interface ToChild { cancel: [] }
 * const child = spawnChild<ChildApi, { local: ToParent; remote: ToChild }>(url)  // in the parent
 * const parent = connectParent<ParentApi, { local: ToChild; remote: ToParent }>() // in the child
 * ```
 */
export interface PeerEvents {
  local?: object
  remote?: object
}

/** The listener arguments an event map entry declares. */
type EventArgs<V> = V extends readonly unknown[] ? V : V extends (...args: infer A) => unknown ? A : never

type LocalMap<E> = 0 extends 1 & E ? undefined : E extends { local: infer L extends object } ? L : undefined
type RemoteMap<E> = 0 extends 1 & E ? undefined : E extends { remote: infer R extends object } ? R : undefined

/** The names `peer.on()` accepts: the lifecycle events and the `local` ones; any string when `local` is not given. */
export type ListenName<E> = LocalMap<E> extends object ? keyof LifecycleEvents | (keyof LocalMap<E> & string) : string

/** The arguments a listener of event `K` gets: `any[]` for an untyped event. */
export type ListenArgs<E, K> = K extends keyof LifecycleEvents
  ? LifecycleEvents[K]
  : LocalMap<E> extends object
    ? K extends keyof LocalMap<E>
      ? EventArgs<LocalMap<E>[K]>
      : never
    : any[]

/** A listener of event `K` (see {@link PeerEvents}). */
export type EventListener<E, K> = (...args: ListenArgs<E, K>) => void

/** The names `peer.emit()` accepts: the `remote` ones (never a lifecycle name); any string when `remote` is not given. */
export type EmitName<E> = RemoteMap<E> extends object ? Exclude<keyof RemoteMap<E> & string, keyof LifecycleEvents> : string

/** The arguments of `peer.emit(K, ...)`: none fit a lifecycle name, which cannot be emitted. */
export type EmitArgs<E, K> = K extends keyof LifecycleEvents
  ? never
  : RemoteMap<E> extends object
    ? K extends keyof RemoteMap<E>
      ? EventArgs<RemoteMap<E>[K]>
      : never
    : unknown[]

// ---- peers on channels that cannot block -----------------------------------------------------------

/**
 * A peer whose channel is known not to block (a child process, a stream, a web port): `Peer` without
 * `remoteSync` and `callSync`, which would only throw `RPC_UNSUPPORTED` there. `spawnChild`'s handle
 * has one. Not assignable to `Peer` (it lacks those two members).
 */
export interface NonBlockingPeer<RemoteApi = unknown, Events extends PeerEvents = PeerEvents>
  extends Omit<Peer<RemoteApi, Events>, 'remoteSync' | 'callSync'> {}
