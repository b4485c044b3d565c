/** Any function a side may expose. */
export type AnyFunction = (...args: any[]) => unknown

/** A remote method: the same parameters; the result always arrives as a Promise of the awaited value. */
export type RemoteFunction<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never

/** The keys of `T` reachable remotely: string keys holding functions or nested objects. */
export type RemoteKeys<T> = {
  [K in keyof T]-?: K extends string ? (NonNullable<T[K]> extends AnyFunction | object ? K : never) : never
}[keyof T]

/** A remote namespace: each reachable key becomes a remote method or a nested remote namespace. */
export type RemoteObject<T> = { readonly [K in RemoteKeys<T>]: Remote<NonNullable<T[K]>> }

/**
 * The type of `peer.remote` for the other side's API type `T`: the same shape, every method
 * returning a Promise. Non-function leaves (numbers, strings) are not reachable and are dropped.
 *
 * ```ts
 * type Api = { math: { add(a: number, b: number): number } }
 * declare const remote: Remote<Api>
 * const sum: number = await remote.math.add(1, 2)
 * ```
 */
export type Remote<T> = T extends AnyFunction ? RemoteFunction<T> : T extends object ? RemoteObject<T> : never

/** `peer.remote` when the other side's API type was not given: any path, any arguments. */
export interface AnyRemote {
  (...args: unknown[]): Promise<any>
  readonly [key: string]: AnyRemote
}

/** `Remote<T>`, or {@link AnyRemote} when `T` is unknown. */
export type RemoteOf<T> = unknown extends T ? AnyRemote : Remote<T>

/** A blocking remote method: the same parameters, the awaited result returned directly. */
export type RemoteSyncFunction<F> = F extends (...args: infer A) => infer R ? (...args: A) => Awaited<R> : never

/** A blocking remote namespace. */
export type RemoteSyncObject<T> = { readonly [K in RemoteKeys<T>]: RemoteSync<NonNullable<T[K]>> }

/** The type of `peer.remoteSync` for the other side's API type `T`: each method blocks and returns its value. */
export type RemoteSync<T> = T extends AnyFunction ? RemoteSyncFunction<T> : T extends object ? RemoteSyncObject<T> : never

/** `peer.remoteSync` when the other side's API type was not given. */
export interface AnyRemoteSync {
  (...args: unknown[]): any
  readonly [key: string]: AnyRemoteSync
}

/** `RemoteSync<T>`, or {@link AnyRemoteSync} when `T` is unknown. */
export type RemoteSyncOf<T> = unknown extends T ? AnyRemoteSync : RemoteSync<T>
