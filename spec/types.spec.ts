/**
 * Compile-time tests of `Remote<T>`, `RemoteSync<T>`, typed events, handles and `pool.broadcast`:
 * this file only has to compile. Each `@ts-expect-error` line must be an error, or tsc fails on the
 * unused directive; each `Equal` must hold exactly. The functions named `...Checks` are never called.
 */
import { expect } from 'chai'
import {
  type AnyRemote,
  type ChildHandle,
  connectParent,
  createMemoryPair,
  createPeer,
  type CloseInfo,
  type NonBlockingPeer,
  type Peer,
  type Pool,
  type Ref,
  type Remote,
  type RemoteKeys,
  type RemoteOf,
  type RemotePath,
  type RemoteSync,
  spawnChild,
  spawnWorker,
  type WorkerHandle,
} from '../lib/index.js'
import type { Broker } from '../lib/amqp.js'
import { pair, ticks, track } from './helpers.js'

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

// ---- issue 12: each type hole is either right or a compile error --------------------------------

/** Overloads of a handler. */
interface Shapes {
  area(kind: 'square', side: number): number
  area(kind: 'rect', width: number, height: number): number
  area(kind: 'circle', radius: number): Promise<number>
}

/** More overloads than Remote<T> keeps (8): the first is dropped. */
interface Nine {
  (a: 1): 1
  (a: 2): 2
  (a: 3): 3
  (a: 4): 4
  (a: 5): 5
  (a: 6): 6
  (a: 7): 7
  (a: 8): 8
  (a: 9): 9
}

/** Generic handlers. */
interface Generic {
  identity<T>(value: T): T
  first<T extends string>(values: T[]): T
  asyncIdentity<T>(value: T): Promise<T>
}

class Service {
  #runs = 0
  run(): number {
    return ++this.#runs
  }
  // Declared by the class itself: never reachable all the same.
  toString(): string {
    return 'service'
  }
}

/** Members named like Object.prototype's and Function.prototype's, and `then`: never reachable. */
interface Unreachable {
  then(resolve: (value: number) => void): void
  toString(): string
  valueOf(): number
  hasOwnProperty(key: string): boolean
  constructor: (x: number) => number
  toJSON(): string
  call(number: string): boolean
  apply(form: object): boolean
  bind(port: number): boolean
  ok(): 'ok'
}

interface Holes {
  shapes: Shapes
  nine: Nine
  generic: Generic
  unreachable: Unreachable
  service: Service
  math: { add(a: number, b: number): number }
  // Built-ins are data: expose skips them.
  cache: Map<string, number>
  tags: Set<string>
  weak: WeakMap<object, number>
  created: Date
  pattern: RegExp
  bytes: Uint8Array
  buffer: ArrayBuffer
  view: DataView
  pending: Promise<number>
  failure: Error
  link: URL
  query: URLSearchParams
  items: string[]
  pair: [number, string]
  // A class is a function that needs `new`: not callable remotely.
  Service: typeof Service
  // Plain objects that look a little like built-ins are namespaces.
  store: { get(key: string): number; set(key: string, value: number): void; size(): number }
  job: { name: string; message: string; run(): void }
}

/** Never called: overloads are kept, in order, up to 8. */
function overloadChecks(remote: Remote<Holes>, sync: RemoteSync<Holes>): void {
  expectType<Promise<number>>(remote.shapes.area('square', 2))
  expectType<Promise<number>>(remote.shapes.area('rect', 2, 3))
  expectType<Promise<number>>(remote.shapes.area('circle', 1))
  // @ts-expect-error no signature takes a square with two sides
  void remote.shapes.area('square', 2, 3)
  // @ts-expect-error no signature takes a triangle
  void remote.shapes.area('triangle', 1)
  expectType<number>(sync.shapes.area('square', 2))
  expectType<number>(sync.shapes.area('circle', 1))
  // @ts-expect-error the blocking form keeps them too
  void sync.shapes.area('rect', 2)
  // A plain method comes out exactly as before.
  assertType<Equal<typeof remote.math.add, (a: number, b: number) => Promise<number>>>()
  assertType<Equal<typeof sync.math.add, (a: number, b: number) => number>>()
  // Past 8 signatures, the first ones are dropped: a call that only they match does not compile.
  expectType<Promise<9>>(remote.nine(9))
  expectType<Promise<2>>(remote.nine(2))
  // @ts-expect-error the ninth-from-last signature is gone
  void remote.nine(1)
}

/**
 * Never called: generic methods. TypeScript cannot map a generic signature through a conditional
 * type; a method that already returns a Promise is kept as it is, any other is erased (its type
 * parameters become their constraints), and remoteSync always erases.
 */
function genericChecks(remote: Remote<Holes>, sync: RemoteSync<Holes>): void {
  // Kept: every signature returns a Promise already.
  expectType<Promise<string>>(remote.generic.asyncIdentity('x'))
  expectType<Promise<{ n: number }>>(remote.generic.asyncIdentity({ n: 1 }))
  // @ts-expect-error the type parameter is kept, so is the result's type
  expectType<Promise<number>>(remote.generic.asyncIdentity('x'))
  // Erased: the documented limit.
  assertType<Equal<typeof remote.generic.identity, (value: unknown) => Promise<unknown>>>()
  assertType<Equal<typeof remote.generic.first, (values: string[]) => Promise<string>>>()
  // @ts-expect-error erased: the result is unknown, not the argument's type
  expectType<Promise<number>>(remote.generic.identity(1))
  // @ts-expect-error erased to the constraint: still checked against it
  void remote.generic.first([1])
  assertType<Equal<typeof sync.generic.asyncIdentity, (value: unknown) => unknown>>()
  // The escape hatch: declare the remote side's method as returning a Promise.
  const declared = remote as unknown as Remote<{ generic: { identity<T>(value: T): Promise<T> } }>
  expectType<Promise<number>>(declared.generic.identity(1))
}

/** Never called: built-in values are data, never namespaces. */
function builtInChecks(remote: Remote<Holes>, sync: RemoteSync<Holes>): void {
  // @ts-expect-error a Map
  void remote.cache.get('k')
  // @ts-expect-error a Set
  void remote.tags.has('a')
  // @ts-expect-error a WeakMap
  void remote.weak.get({})
  // @ts-expect-error a Date
  void remote.created.getTime()
  // @ts-expect-error a RegExp
  void remote.pattern.test('x')
  // @ts-expect-error a typed array
  void remote.bytes.subarray(1)
  // @ts-expect-error an ArrayBuffer
  void remote.buffer.slice(1)
  // @ts-expect-error a DataView
  void remote.view.getInt8(0)
  // @ts-expect-error a Promise
  void remote.pending.then(() => {})
  // @ts-expect-error an Error
  void remote.failure.message
  // @ts-expect-error a URL
  void remote.link.toString()
  // @ts-expect-error URLSearchParams
  void remote.query.get('q')
  // @ts-expect-error an array
  void remote.items.map(String)
  // @ts-expect-error a tuple
  void remote.pair.at(0)
  // @ts-expect-error a class (a function that needs `new`)
  void remote.Service()
  // @ts-expect-error the blocking form drops them too
  void sync.cache.get('k')
  // Plain objects are namespaces, whatever their members are named.
  expectType<Promise<number>>(remote.store.get('k'))
  expectType<Promise<number>>(remote.store.size())
  expectType<Promise<void>>(remote.job.run())
  expectType<Promise<number>>(remote.service.run())
  assertType<Equal<RemoteKeys<Holes['job']>, 'run'>>()
  assertType<Equal<RemoteKeys<Holes>, 'shapes' | 'nine' | 'generic' | 'unreachable' | 'service' | 'math' | 'store' | 'job'>>()
}

/** Never called: names the proxy never calls are not members; Function.prototype's call/apply/bind are. */
function unreachableChecks(remote: Remote<Holes>, sync: RemoteSync<Holes>): void {
  expectType<Promise<'ok'>>(remote.unreachable.ok())
  assertType<Equal<RemoteKeys<Unreachable>, 'ok'>>()
  // @ts-expect-error then: never a path (the proxy is not thenable)
  void remote.unreachable.then(() => {})
  // @ts-expect-error toString: an Object.prototype name
  void remote.unreachable.toString()
  // @ts-expect-error valueOf
  void remote.unreachable.valueOf()
  // @ts-expect-error hasOwnProperty
  void remote.unreachable.hasOwnProperty('x')
  // @ts-expect-error toJSON: the proxy answers undefined
  void remote.unreachable.toJSON()
  // @ts-expect-error call: Function.prototype's on a remote method; reached with peer.call('unreachable.call', args)
  void remote.unreachable.call('555')
  // @ts-expect-error apply
  void remote.unreachable.apply({})
  // @ts-expect-error bind
  void remote.unreachable.bind(80)
  // @ts-expect-error a class's own toString is not reachable either
  void remote.service.toString()
  // @ts-expect-error the blocking form drops them too
  void sync.unreachable.then(() => {})
  // Function.prototype's call, apply and bind on a remote method compile and work.
  expectType<Promise<number>>(remote.math.add.call(null, 1, 2))
  expectType<Promise<number>>(remote.math.add.apply(null, [1, 2]))
  expectType<Promise<number>>(remote.math.add.bind(null, 1)(2))
  // @ts-expect-error and are checked as on any function
  void remote.math.add.call(null, '1', 2)
}

interface Tree {
  child: Tree
  leaf(): number
}

/** Never called: recursive API types, index signatures, `any` members; a remote namespace is not thenable. */
function shapeChecks(remote: Remote<{ tree: Tree; table: Record<string, () => number>; loose: any }>): void {
  expectType<Promise<number>>(remote.tree.child.child.child.leaf())
  expectType<Promise<number>>(remote.table.anything())
  // @ts-expect-error even an index signature does not make `then` callable
  void remote.table.then()
  // @ts-expect-error nor toString
  void remote.table.toString()
  assertType<Equal<Awaited<typeof remote.tree>, typeof remote.tree>>()
  // A member typed `any` is untyped, like the remote of a peer made without an API type.
  expectType<AnyRemote>(remote.loose)
  expectType<Promise<any>>(remote.loose.a.b(1))
  assertType<Equal<RemotePath<{ tree: Tree }>, 'tree.leaf' | `tree.${'child.' | 'child.child.' | 'child.child.child.' | 'child.child.child.child.' | 'child.child.child.child.child.' | 'child.child.child.child.child.child.'}leaf`>>()
}

interface ChildApi {
  math: { add(a: number, b: number): number }
}
/** Events the parent listens to (the child emits them). */
interface ToParent {
  progress: [done: number, total: number]
  log: (text: string) => void
}
/** Events the child listens to (the parent emits them). */
interface ToChild {
  cancel: []
  level: [level: 'debug' | 'info']
}
type ParentSide = { local: ToParent; remote: ToChild }
type ChildSide = { local: ToChild; remote: ToParent }

/** Never called: remoteSync and callSync exist where the channel can block, and only there. */
function blockingChecks(child: ChildHandle<ChildApi>, worker: WorkerHandle<ChildApi>, peer: Peer<ChildApi>): void {
  // @ts-expect-error a child process's channel cannot block
  void child.peer.remoteSync.math.add(1, 2)
  // @ts-expect-error nor by string
  void child.peer.callSync('math.add', [1, 2])
  // @ts-expect-error the child handle never had remoteSync
  void child.remoteSync
  expectType<number>(worker.peer.remoteSync.math.add(1, 2))
  expectType<number>(worker.remoteSync.math.add(1, 2))
  expectType<number>(worker.peer.callSync<number>('math.add', [1, 2]))
  // A peer made on any transport keeps both (it throws RPC_UNSUPPORTED where the channel cannot block).
  expectType<number>(peer.remoteSync.math.add(1, 2))
  // A worker's peer is a Peer; every peer is a NonBlockingPeer.
  expectType<Peer<ChildApi>>(worker.peer)
  expectType<NonBlockingPeer<ChildApi>>(child.peer)
  expectType<NonBlockingPeer<ChildApi>>(peer)
  // @ts-expect-error a child's peer is not a Peer: it lacks remoteSync and callSync
  expectType<Peer<ChildApi>>(child.peer)
  // connectParent() cannot know whether it runs in a worker or a child: typed with both (documented).
  const parent = connectParent<{ log(text: string): void }>()
  expectType<void>(parent.remoteSync.log('x'))
}

/** Never called: events, typed both ways when the events type is given, as loose as before when not. */
function eventChecks(typed: Peer<ChildApi, ParentSide>, loose: Peer<ChildApi>, half: Peer<ChildApi, { remote: ToChild }>): void {
  typed.on('progress', (done, total) => expectType<number>(done + total))
  typed.on('log', (text) => expectType<string>(text))
  typed.once('progress', (done) => expectType<number>(done))
  typed.off('log')
  typed.emit('cancel')
  typed.emit('level', 'info')
  // @ts-expect-error not an event this side listens to
  typed.on('cancel', () => {})
  // @ts-expect-error wrong listener argument
  typed.on('progress', (done: string) => void done)
  // @ts-expect-error not an event the other side listens to
  typed.emit('progress', 1, 2)
  // @ts-expect-error wrong argument
  typed.emit('level', 'trace')
  // @ts-expect-error missing argument
  typed.emit('level')
  // Lifecycle events: always typed, typed events or not.
  for (const peer of [typed, loose]) {
    peer.on('open', () => {})
    peer.on('close', (info) => expectType<CloseInfo>(info))
    peer.on('error', (error) => expectType<unknown>(error))
  }
  // @ts-expect-error close gives a CloseInfo
  loose.on('close', (info: string) => void info)
  // @ts-expect-error error gives whatever was thrown: unknown, not Error
  loose.on('error', (error: Error) => void error)
  // @ts-expect-error open gives nothing
  loose.on('open', (x: number) => void x)
  // @ts-expect-error lifecycle events cannot be emitted (they would throw)
  loose.emit('close')
  // @ts-expect-error not with typed events either
  typed.emit('error', new Error('x'))
  // Untyped: any name, any arguments, as before.
  loose.on('anything', (a: number, b: string) => void [a, b])
  loose.emit('anything', 1, 'two', { three: 3 })
  const name: string = 'dynamic'
  loose.emit(name, 1)
  loose.on(name, (x: number) => void x)
  // A direction left out stays untyped.
  half.on('whatever', (x: number) => void x)
  half.emit('cancel')
  // @ts-expect-error the typed direction is checked
  half.emit('whatever')
  // A peer with typed events fits where one without is wanted.
  expectType<Peer<ChildApi>>(typed)
}

/** Never called: the events type passes through spawnChild, spawnWorker, connectParent and createPool. */
function eventPassThroughChecks(pool: Pool<ChildApi, ParentSide>): void {
  const child = spawnChild<ChildApi, ParentSide>('child.js')
  child.peer.on('progress', (done) => expectType<number>(done))
  child.peer.emit('cancel')
  // @ts-expect-error checked on a child's peer
  child.peer.emit('progress', 1, 2)
  const worker = spawnWorker<ChildApi, ParentSide>('worker.js')
  worker.peer.on('log', (text) => expectType<string>(text))
  // @ts-expect-error checked on a worker's peer
  worker.peer.on('nope', () => {})
  const parent = connectParent<{ log(text: string): void }, ChildSide>()
  parent.on('level', (level) => expectType<'debug' | 'info'>(level))
  parent.emit('progress', 1, 2)
  // @ts-expect-error checked in the child too
  parent.emit('cancel')
  pool.on('progress', (member, done, total) => expectType<number>(member.id + done + total))
  pool.on('close', (_member, info) => expectType<CloseInfo>(info))
  // @ts-expect-error checked on a pool
  pool.on('cancel', () => {})
}

/** Never called: pool.broadcast is typed like a remote call when the pool's API type is known. */
function broadcastChecks(pool: Pool<Holes>, untyped: Pool): void {
  expectType<Promise<PromiseSettledResult<number>[]>>(pool.broadcast('math.add', 1, 2))
  expectType<Promise<PromiseSettledResult<number>[]>>(pool.broadcast('service.run'))
  expectType<Promise<PromiseSettledResult<unknown>[]>>(pool.broadcast('generic.identity', 'x'))
  // @ts-expect-error not a method path
  void pool.broadcast('math.subtract', 1, 2)
  // @ts-expect-error a namespace, not a method
  void pool.broadcast('math')
  // @ts-expect-error unreachable names are not paths
  void pool.broadcast('unreachable.then')
  // @ts-expect-error arguments checked
  void pool.broadcast('math.add', 1, '2')
  // @ts-expect-error results typed
  expectType<Promise<PromiseSettledResult<string>[]>>(pool.broadcast('math.add', 1, 2))
  // The paths of an API type, 8 levels deep at most.
  assertType<Equal<RemotePath<{ a: { b(): void; c: { d(): void } }; e(): void; n: number }>, 'a.b' | 'a.c.d' | 'e'>>()
  // As before: an explicit result type, and a dynamic path, are not checked.
  expectType<Promise<PromiseSettledResult<{ id: number }>[]>>(pool.broadcast<{ id: number }>('anything', 1))
  const path: string = 'math.add'
  expectType<Promise<PromiseSettledResult<any>[]>>(pool.broadcast(path, 1, 2))
  // Without an API type, any path: the type argument is the result type.
  expectType<Promise<PromiseSettledResult<any>[]>>(untyped.broadcast('x.y', 1))
  expectType<Promise<PromiseSettledResult<number>[]>>(untyped.broadcast<number>('x.y'))
}

/** Results by reference (lib/refs.ts): functions, ref() objects and async generators as they arrive. */
function referenceChecks(remote: Remote<RefApi>): void {
  assertType<Equal<ReturnType<typeof remote.adder>, Promise<(x: number) => Promise<number>>>>()
  assertType<Equal<ReturnType<typeof remote.open>, Promise<Remote<Db>>>>()
  assertType<Equal<ReturnType<typeof remote.tail>, Promise<AsyncIterableIterator<string>>>>()
  // A callback parameter takes any function of its type, returning its result or a promise of it.
  void remote.run('job', (pct: number) => console.log(pct))
  void remote.watch((line: string) => line.length)
  void remote.watch(async (line: string) => line.length)
  // @ts-expect-error the callback's parameter types still hold
  void remote.watch((line: number) => line)
  // @ts-expect-error a data member of a ref() object is not remote
  void remote.open('x').then((db) => db.name)
}
class Db {
  name = 'db'
  users = { find: (id: number) => ({ id }) }
}
interface RefApi {
  adder(k: number): (x: number) => number
  open(name: string): Ref<Db>
  tail(file: string): AsyncGenerator<string>
  run(spec: string, progress: (pct: number) => void): Promise<string>
  watch(onLine: (line: string) => Promise<number>): void
}

/** A broker client's proxy is typed like a peer's (treerpc/amqp). */
function brokerChecks(broker: Broker): void {
  const images = broker.client<ChildApi>('images')
  assertType<Equal<typeof images.remote, RemoteOf<ChildApi>>>()
  // @ts-expect-error not a path of the service's API
  void images.remote.nowhere
  const untyped = broker.client('images')
  void untyped.remote.any.path.at.all()
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

  it('compiles the checks of each type hole (issue 12)', () => {
    const checks = [overloadChecks, genericChecks, builtInChecks, unreachableChecks, shapeChecks, blockingChecks, eventChecks, eventPassThroughChecks, broadcastChecks, brokerChecks, referenceChecks]
    for (const check of checks) {
      expect(check).to.be.a('function')
    }
  })

  it('calls an overloaded handler, and Function.prototype call/apply/bind on a remote method', async () => {
    const area = ((kind: string, a: number, b?: number) => (kind === 'rect' ? a * (b ?? 0) : kind === 'square' ? a * a : Math.PI * a * a)) as Shapes['area']
    const api = { shapes: { area }, math: { add: (a: number, b: number) => a + b } }
    const { left } = pair<unknown, typeof api>({}, { expose: api })
    expect(await left.remote.shapes.area('square', 2)).to.equal(4)
    expect(await left.remote.shapes.area('rect', 2, 3)).to.equal(6)
    expect(await left.remote.math.add.call(null, 1, 2)).to.equal(3)
    expect(await left.remote.math.add.apply(null, [2, 3])).to.equal(5)
    expect(await left.remote.math.add.bind(null, 3)(4)).to.equal(7)
  })

  it('delivers typed events both ways', async () => {
    const [a, b] = createMemoryPair()
    const parent = track(createPeer<unknown, ParentSide>(a))
    const child = track(createPeer<unknown, ChildSide>(b))
    const inParent: unknown[] = []
    const inChild: unknown[] = []
    parent.on('progress', (done, total) => inParent.push([done, total]))
    child.on('level', (level) => inChild.push(level))
    await Promise.all([parent.ready, child.ready])
    child.emit('progress', 1, 2)
    parent.emit('level', 'debug')
    // Sends of one turn go out together at its end, then the memory pair delivers on the next tick.
    await ticks(2)
    expect(inParent).to.deep.equal([[1, 2]])
    expect(inChild).to.deep.equal(['debug'])
  })
})
