/**
 * Compile-time tests of `Remote<T>`: this file only has to compile. Each `@ts-expect-error` line
 * must be an error, or tsc fails on the unused directive; each `Equal` must hold exactly.
 */
import { expect } from 'chai'
import type { AnyRemote, Peer, Remote, RemoteOf } from '../lib/index.js'
import { pair } from './helpers.js'

/** True when A and B are the same type (not merely assignable either way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function assertType<T extends true>(): T | undefined {
  return undefined
}
function expectType<T>(value: T): T {
  return value
}

class Counter {
  #count = 0
  increment(by = 1): number {
    this.#count += by
    return this.#count
  }
}

interface Api {
  version: number
  label: string
  math: {
    add(a: number, b: number): number
    vector: { norm(v: number[]): number }
  }
  greet(name: string): Promise<string>
  nothing(): void
  optionalArg(x?: number): string
  rest(...xs: string[]): number
  maybe?: { ping(): boolean }
  counter: Counter
  nested: { deeper: { deepest: { leaf(): 'leaf' } } }
}

/** Never called: exists for the type checker. */
function typeChecks(remote: Remote<Api>, anyRemote: RemoteOf<unknown>): void {
  // Methods keep their parameters and return a Promise of the awaited result.
  expectType<Promise<number>>(remote.math.add(1, 2))
  const sum: Promise<number> = remote.math.add(1, 2)
  expectType<Promise<number>>(sum)
  expectType<Promise<number>>(remote.math.vector.norm([3, 4]))
  assertType<Equal<ReturnType<typeof remote.math.add>, Promise<number>>>()
  assertType<Equal<Parameters<typeof remote.math.add>, [a: number, b: number]>>()
  // An async method is not double-wrapped.
  assertType<Equal<ReturnType<typeof remote.greet>, Promise<string>>>()
  assertType<Equal<ReturnType<typeof remote.nothing>, Promise<void>>>()
  assertType<Equal<ReturnType<typeof remote.nested.deeper.deepest.leaf>, Promise<'leaf'>>>()
  expectType<Promise<string>>(remote.optionalArg())
  expectType<Promise<string>>(remote.optionalArg(1))
  expectType<Promise<number>>(remote.rest())
  expectType<Promise<number>>(remote.rest('a', 'b'))
  // Optional namespaces are reachable; class instances expose their methods.
  expectType<Promise<boolean>>(remote.maybe.ping())
  expectType<Promise<number>>(remote.counter.increment(2))

  // @ts-expect-error wrong argument type
  void remote.math.add('1', 2)
  // @ts-expect-error missing argument
  void remote.math.add(1)
  // @ts-expect-error too many arguments
  void remote.math.add(1, 2, 3)
  // @ts-expect-error wrong element type
  void remote.math.vector.norm(['3'])
  // @ts-expect-error rest arguments keep their type
  void remote.rest(1)
  // @ts-expect-error missing method
  void remote.math.subtract(1, 2)
  // @ts-expect-error missing namespace
  void remote.physics.gravity()
  // @ts-expect-error a non-function leaf is not reachable
  void remote.version
  // @ts-expect-error a string leaf is not reachable either
  void remote.label
  // @ts-expect-error a namespace is not callable
  void remote.math()
  // @ts-expect-error the result is a promise, not the value
  expectType<number>(remote.math.add(1, 2))
  // @ts-expect-error the awaited type is kept
  expectType<Promise<string>>(remote.math.add(1, 2))
  // @ts-expect-error the remote is read-only
  remote.math = remote.math

  // Without an API type, any path and any arguments are allowed.
  expectType<Promise<any>>(anyRemote.whatever.deep.path(1, 'x', { y: 2 }))
  expectType<AnyRemote>(anyRemote.a.b.c)
}

/** Never called: the type a peer's remote gets from createPeer's type argument. */
function peerTypeChecks(typed: Peer<Api>, untyped: Peer): void {
  assertType<Equal<typeof typed.remote, Remote<Api>>>()
  assertType<Equal<typeof untyped.remote, AnyRemote>>()
  expectType<Promise<number>>(typed.remote.math.add(1, 2))
  // @ts-expect-error typed remote rejects unknown paths
  void typed.remote.nope()
  expectType<Promise<any>>(untyped.remote.anything())
}

describe('types', () => {
  it('compiles the type tests and calls through a typed remote', async () => {
    expect(typeChecks).to.be.a('function')
    expect(peerTypeChecks).to.be.a('function')
    const api = { math: { add: (a: number, b: number) => a + b } }
    const { left } = pair<unknown, typeof api>({}, { expose: api })
    const sum: number = await left.remote.math.add(2, 3)
    expect(sum).to.equal(5)
  })
})
