import { expect } from 'chai'
import sinon from 'sinon'
import { createMemoryPair, createPeer, ErrorCode, MethodNotFoundError, RpcError } from '../lib/index.js'
import { pair, tick, ticks, track } from './helpers.js'

/** Members every object inherits, plus the names a proxy or loader could trip on. */
const RESERVED = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf', 'then']

const MALFORMED = [
  'a.__proto__',
  'a.constructor.constructor',
  'a.b.__proto__.polluted',
  '__proto__.polluted',
  'constructor.prototype',
  'fn.call',
  'fn.bind',
  'fn.apply',
  'fn.constructor',
  'fn.prototype',
  'fn.name',
  'fn.length',
  'a.fn.call',
  'a.b.fn.constructor',
  'a..b',
  '',
  '.a',
  'a.',
  '.',
  'a.b.',
]

/** Every reserved name at depth 0, 1 and 2, and paths that try to walk into functions or are malformed. */
const REFUSED = [...RESERVED, ...RESERVED.map((name) => `a.${name}`), ...RESERVED.map((name) => `a.b.${name}`), ...MALFORMED]

/** An API that overrides the inherited members itself, at every depth. */
function hostileApi() {
  return {
    fn: () => 'fn',
    toString: () => 'own toString',
    hasOwnProperty: () => true,
    valueOf: () => 42,
    isPrototypeOf: () => true,
    constructor: () => 'own constructor',
    prototype: { fn: () => 'prototype.fn' },
    then: () => 'then',
    a: {
      fn: () => 'a.fn',
      toString: () => 'a.toString',
      hasOwnProperty: () => true,
      valueOf: () => 1,
      __defineGetter__: () => 'a.__defineGetter__',
      constructor: () => 'a.constructor',
      b: {
        fn: () => 'a.b.fn',
        toString: () => 'a.b.toString',
        hasOwnProperty: () => true,
      },
    },
  }
}

class Service {
  field = 'data'
  #secret = 'hidden'
  static staticMethod(): string {
    return 'static'
  }
  ok(): string {
    return `ok ${this.#reveal().length}`
  }
  #reveal(): string {
    return this.#secret
  }
  override(): string {
    return 'base'
  }
  toString(): string {
    return 'Service'
  }
  valueOf(): number {
    return 1
  }
}

class Derived extends Service {
  extra(): string {
    return 'extra'
  }
  override override(): string {
    return 'derived'
  }
}

async function expectNotFound(left: { call(path: string, args?: readonly unknown[]): PromiseLike<unknown> }, paths: readonly string[]): Promise<void> {
  const outcomes = await Promise.all(
    paths.map((path) => Promise.resolve(left.call(path, [1])).then((value) => ({ path, error: `resolved with ${JSON.stringify(value)}` as any }), (error) => ({ path, error }))),
  )
  for (const { path, error } of outcomes) {
    expect(error, `path ${JSON.stringify(path)}`).to.be.instanceOf(MethodNotFoundError)
    expect(error.code, `path ${JSON.stringify(path)}`).to.equal('RPC_METHOD_NOT_FOUND')
  }
}

function snapshotObjectPrototype(): Map<PropertyKey, PropertyDescriptor> {
  const map = new Map<PropertyKey, PropertyDescriptor>()
  for (const key of Reflect.ownKeys(Object.prototype)) map.set(key, Object.getOwnPropertyDescriptor(Object.prototype, key)!)
  return map
}

function expectSameObjectPrototype(before: Map<PropertyKey, PropertyDescriptor>): void {
  const after = snapshotObjectPrototype()
  expect([...after.keys()]).to.deep.equal([...before.keys()])
  for (const [key, descriptor] of before) {
    const now = after.get(key)!
    expect(now.value, String(key)).to.equal(descriptor.value)
    expect(now.get, String(key)).to.equal(descriptor.get)
    expect(now.set, String(key)).to.equal(descriptor.set)
  }
  expect(Object.getPrototypeOf(Object.prototype)).to.equal(null)
  expect(({} as { polluted?: unknown }).polluted).to.equal(undefined)
}

describe('security: paths and prototypes', () => {
  let objectPrototype: Map<PropertyKey, PropertyDescriptor>

  beforeEach(() => {
    objectPrototype = snapshotObjectPrototype()
  })

  afterEach(() => {
    expectSameObjectPrototype(objectPrototype)
  })

  it('still serves the legitimate paths of an API that overrides inherited members', async () => {
    const { left } = pair({}, { expose: hostileApi() })
    expect(await left.call('fn')).to.equal('fn')
    expect(await left.call('a.fn')).to.equal('a.fn')
    expect(await left.call('a.b.fn')).to.equal('a.b.fn')
  })

  it('refuses reserved names at depth 0, 1 and 2 and walks into functions with MethodNotFoundError, even when the API overrides them', async () => {
    const { left } = pair({}, { expose: hostileApi() })
    await expectNotFound(left, REFUSED)
  })

  it('refuses the same paths on a plain API that does not override anything', async () => {
    const { left } = pair({}, { expose: { fn: () => 1, a: { fn: () => 2, b: { fn: () => 3 } } } })
    await expectNotFound(left, REFUSED)
  })

  it('refuses the same paths on an empty API', async () => {
    const { left } = pair()
    await expectNotFound(left, REFUSED)
  })

  it('never passes a reserved or malformed path to the fallback', async () => {
    const fallback = sinon.spy((path: string) => `fallback ${path}`)
    const { left, right } = pair({}, { expose: hostileApi() })
    right.fallback(fallback)
    // `fn.call` and the like are well-formed unknown paths: those may reach a fallback, as strings.
    const reservedOrMalformed = REFUSED.filter((path) => path.split('.').some((segment) => segment === '' || RESERVED.includes(segment)))
    expect(reservedOrMalformed).to.include.members(['__proto__', 'a.constructor.constructor', 'fn.constructor', 'a..b', '', '.a'])
    await expectNotFound(left, reservedOrMalformed)
    expect(fallback.called, `fallback got ${JSON.stringify(fallback.args.map((args) => args[0]))}`).to.equal(false)
    // The fallback is installed and works for well-formed unknown paths.
    expect(await left.call('not.there', [1])).to.equal('fallback not.there')
    expect(fallback.firstCall.args).to.deep.equal(['not.there', [1]])
  })

  it('exposes class instance methods from the prototype chain with the instance as this, and nothing else', async () => {
    const { left, right } = pair({}, { expose: { svc: new Service(), derived: new Derived() } })
    expect(await left.call('svc.ok')).to.equal('ok 6')
    expect(await left.call('derived.ok')).to.equal('ok 6')
    expect(await left.call('derived.extra')).to.equal('extra')
    expect(await left.call('derived.override')).to.equal('derived')
    expect(right.exposed.sort()).to.deep.equal(['derived.extra', 'derived.ok', 'derived.override', 'svc.ok', 'svc.override'])
    await expectNotFound(left, [
      'svc.toString',
      'svc.valueOf',
      'svc.constructor',
      'svc.constructor.staticMethod',
      'svc.staticMethod',
      'svc.field',
      'svc.#secret',
      'svc.#reveal',
      'svc.reveal',
      'svc.__proto__',
      'svc.ok.call',
      'derived.constructor',
      'derived.__proto__.ok',
    ])
  })

  it('refuses inherited members of a class instance exposed at the root', async () => {
    const { left, right } = pair({}, { expose: new Derived() })
    expect(await left.call('extra')).to.equal('extra')
    expect(right.exposed.sort()).to.deep.equal(['extra', 'ok', 'override'])
    await expectNotFound(left, [...RESERVED, 'field', '#secret', '#reveal', 'staticMethod'])
  })

  it('never runs a getter of the exposed tree, when exposing or when calling', async () => {
    let reads = 0
    class WithGetter {
      get viaPrototype(): () => string {
        reads++
        return () => 'getter'
      }
      method(): string {
        return 'method'
      }
    }
    const api = {
      get fn() {
        reads++
        return () => 'getter fn'
      },
      ns: {
        get inner() {
          reads++
          return { deep: () => 'deep' }
        },
        real: () => 'real',
      },
      obj: new WithGetter(),
    }
    const { left, right } = pair({}, { expose: api })
    expect(await left.call('ns.real')).to.equal('real')
    expect(await left.call('obj.method')).to.equal('method')
    await expectNotFound(left, ['fn', 'ns.inner', 'ns.inner.deep', 'obj.viaPrototype'])
    right.expose('late', api)
    await expectNotFound(left, ['late.fn', 'late.ns.inner.deep'])
    expect(reads).to.equal(0)
  })

  it('runs no Proxy trap of the exposed tree when resolving a path', async () => {
    let traps = 0
    const target = { fn: () => 'through proxy' }
    const handler: ProxyHandler<typeof target> = {}
    for (const trap of ['get', 'has', 'ownKeys', 'getOwnPropertyDescriptor', 'getPrototypeOf', 'apply', 'construct', 'set', 'defineProperty', 'deleteProperty'] as const) {
      ;(handler as Record<string, unknown>)[trap] = (...args: unknown[]) => {
        traps++
        return (Reflect[trap] as (...a: unknown[]) => unknown)(...args)
      }
    }
    const { left, right } = pair({}, { expose: { proxied: new Proxy(target, handler) } })
    await right.ready
    traps = 0
    expect(await left.call('proxied.fn')).to.equal('through proxy')
    await expectNotFound(left, ['proxied.missing', 'proxied.toString', 'proxied.__proto__'])
    expect(traps).to.equal(0)
  })

  it('does not expose symbol keys', async () => {
    const hidden = Symbol('hidden')
    const api = { visible: () => 'visible', [hidden]: () => 'hidden', [Symbol.toPrimitive]: () => 1, ns: { [Symbol.iterator]: () => 1 } }
    const { left, right } = pair({}, { expose: api })
    expect(right.exposed).to.deep.equal(['visible'])
    await expectNotFound(left, ['hidden', 'Symbol(hidden)', 'Symbol.toPrimitive', 'ns.Symbol(Symbol.iterator)'])
  })

  it('does not expose data fields, arrays, Maps or anything inside a function', async () => {
    const fn = Object.assign(() => 'fn', { attached: () => 'attached' })
    const api = { version: 3, name: 'x', list: [() => 'in array'], map: new Map([['k', () => 'in map']]), fn }
    const { left, right } = pair({}, { expose: api })
    expect(right.exposed).to.deep.equal(['fn'])
    await expectNotFound(left, ['version', 'name', 'list', 'list.0', 'map', 'map.k', 'map.get', 'fn.attached'])
  })

  it('never dispatches a request for an rpc.* path to a handler, however it was registered', async () => {
    // JSON-RPC 2.0 reserves methods starting with "rpc." for the protocol; treerpc uses them itself.
    const handler = sinon.spy(() => 'ran')
    const { left, right } = pair()
    // In this order, so that no registration replaces another.
    for (const register of [() => right.expose({ rpc: { first: handler } }), () => right.handle('rpc.second', handler), () => right.expose('rpc.sub', { third: handler })]) {
      try {
        register()
      } catch (error: any) {
        // Refusing the registration is fine too, with the usual code.
        expect(error).to.be.instanceOf(RpcError)
        expect(error.code).to.equal('RPC_INVALID_ARGUMENT')
      }
    }
    await expectNotFound(left, ['rpc.first', 'rpc.second', 'rpc.sub.third', 'rpc.hello', 'rpc.cancel', 'rpc.event', 'rpc.close'])
    expect(handler.called).to.equal(false)
  })

  it('refuses overlong and overdeep paths quickly with MethodNotFoundError', async () => {
    const { left, right } = pair({}, { expose: { a: () => 'a' } })
    right.fallback(() => 'fallback')
    const long = 'a'.repeat(100_000)
    const deep = Array.from({ length: 10_000 }, () => 'a').join('.')
    await expectNotFound(left, [long, deep, `a.${long}`])
    expect(() => right.handle(Array.from({ length: 40 }, () => 'x').join('.'), () => 1)).to.throw(RpcError)
    expect(() => right.handle('x'.repeat(5000), () => 1)).to.throw(RpcError)
  })

  it('refuses to register a reserved or malformed path with RPC_INVALID_ARGUMENT', () => {
    const { right } = pair()
    const bad = ['__proto__', 'constructor', 'prototype', 'then', 'toString', 'a.__proto__', 'a.then', 'a..b', '', '.a', 'a.']
    for (const path of bad) {
      for (const register of [() => right.handle(path, () => 1), () => right.expose(path === '' ? '.' : path, { f: () => 1 })]) {
        let thrown: any
        try {
          register()
        } catch (error) {
          thrown = error
        }
        expect(thrown, `path ${JSON.stringify(path)}`).to.be.instanceOf(RpcError)
        expect(thrown.code, `path ${JSON.stringify(path)}`).to.equal(ErrorCode.InvalidArgument)
        expect(thrown.code).to.equal('RPC_INVALID_ARGUMENT')
      }
    }
    expect(() => right.handle('__proto__', () => 1)).to.throw(RpcError)
    expect(() => right.expose('constructor', { f: () => 1 })).to.throw(RpcError)
    expect(right.exposed).to.deep.equal([])
  })
})

describe('security: the remote proxy', () => {
  it('is not thenable: awaiting peer.remote sends nothing', async () => {
    const { left, right } = pair({}, { expose: { then: () => 'never', a: { b: () => 1 } } })
    await Promise.all([left.ready, right.ready])
    await tick()
    const sent = left.stats.sent
    const received = right.stats.received
    expect((left.remote as any).then).to.equal(undefined)
    expect((left.remote as any).a.then).to.equal(undefined)
    expect(await (left.remote as unknown)).to.equal(left.remote)
    expect(await (left.remote.a as unknown)).to.equal(left.remote.a)
    expect(await Promise.resolve(left.remote.a.b as unknown)).to.equal(left.remote.a.b)
    await ticks(3)
    expect(left.stats.sent).to.equal(sent)
    expect(right.stats.received).to.equal(received)
    expect(left.stats.pending).to.equal(0)
  })

  it('has no toJSON, and JSON.stringify sends nothing', async () => {
    const { left } = pair()
    await left.ready
    const sent = left.stats.sent
    expect((left.remote as any).toJSON).to.equal(undefined)
    expect((left.remote as any).a.toJSON).to.equal(undefined)
    expect(JSON.stringify({ remote: left.remote })).to.equal('{}')
    expect((left.remote as any)[Symbol.toPrimitive]).to.equal(undefined)
    expect((left.remote as any).constructor).to.equal(undefined)
    expect((left.remote as any).__proto__).to.equal(undefined)
    await tick()
    expect(left.stats.sent).to.equal(sent)
  })

  it('cannot be written to', () => {
    const { left } = pair()
    const remote = left.remote as any
    expect(() => {
      remote.x = 1
    }).to.throw(TypeError)
    expect(Reflect.defineProperty(remote, 'y', { value: 1 })).to.equal(false)
    expect(Reflect.deleteProperty(remote, 'z')).to.equal(false)
  })
})

describe('security: payloads', () => {
  const POISON = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"x":1}'

  function inspect(arg: any) {
    return {
      ownProto: Object.hasOwn(arg, '__proto__'),
      ownConstructor: Object.hasOwn(arg, 'constructor'),
      protoIsObject: Object.getPrototypeOf(arg) === Object.prototype,
      polluted: arg.polluted ?? null,
      x: arg.x,
      own: JSON.stringify(arg),
    }
  }

  afterEach(() => {
    expect(({} as { polluted?: unknown }).polluted).to.equal(undefined)
    expect(Object.hasOwn(Object.prototype, 'polluted')).to.equal(false)
  })

  it('passes an own __proto__ key of by-name params from a raw JSON-RPC peer to the handler as data', async () => {
    const [a, b] = createMemoryPair()
    const seen: unknown[] = []
    track(createPeer(b, { expose: { inspect: (arg: unknown) => (seen.push(inspect(arg)), 'ok') } }))
    const replies: any[] = []
    a.onMessage((message) => replies.push(message))
    a.send({ jsonrpc: '2.0', id: 'p1', method: 'inspect', params: JSON.parse(POISON) })
    a.send({ jsonrpc: '2.0', id: 'p2', method: 'inspect', params: [JSON.parse(POISON)] })
    a.send(JSON.parse(`{"jsonrpc":"2.0","id":"p3","method":"inspect","params":[${POISON}]}`))
    await ticks(3)
    const expected = { ownProto: true, ownConstructor: true, protoIsObject: true, polluted: null, x: 1, own: POISON }
    expect(seen).to.deep.equal([expected, expected, expected])
    expect(replies.filter((r) => 'id' in r).map((r) => [r.id, r.result])).to.deep.equal([['p1', 'ok'], ['p2', 'ok'], ['p3', 'ok']])
    a.close()
  })

  it('passes an own __proto__ key in arguments between two peers as data', async () => {
    const { left } = pair({}, { expose: { inspect } })
    const result = await left.call('inspect', [JSON.parse(POISON)])
    expect(result).to.deep.equal({ ownProto: true, ownConstructor: true, protoIsObject: true, polluted: null, x: 1, own: POISON })
  })

  it('returns an own __proto__ key in a result as data', async () => {
    const { left } = pair({}, { expose: { poison: () => JSON.parse(POISON) } })
    const result = await left.call('poison')
    expect(Object.hasOwn(result, '__proto__')).to.equal(true)
    expect(Object.getPrototypeOf(result)).to.equal(Object.prototype)
    expect(result.polluted).to.equal(undefined)
  })
})
